// VerifyAuditLog: recomputes the chain over a bounded range, in batches.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type {
  VerifyAuditLogRequest,
  VerifyAuditLogResponse,
} from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_service_pb.js";
import { type ChainBreak, type ChainCursor, genesisHash, verifyAuditEntries } from "../audit/audit-chain.ts";
import { auditEntryBefore, firstAuditSequence, readAuditEntries } from "../store/maintenance-store.ts";
import type { HandlerDependencies } from "./context.ts";

const defaultEntriesMax = 100_000;
const batchSize = 1000;

export interface AuditVerification {
  intact: boolean;
  entriesChecked: number;
  firstSequence: bigint;
  lastSequence: bigint;
  headHash: string;
  broken?: ChainBreak;
  nextSequence: bigint;
}

export async function verifyAuditLog(
  dependencies: Pick<HandlerDependencies, "prisma">,
  fromSequence: bigint,
  entriesMax: number,
): Promise<AuditVerification> {
  const { prisma } = dependencies;
  const start = fromSequence > 0n ? fromSequence : ((await firstAuditSequence(prisma)) ?? 1n);
  // A later start is checked against its predecessor's stored hash.
  const predecessor = start > 1n ? await auditEntryBefore(prisma, start) : null;
  let cursor: ChainCursor = predecessor
    ? { sequence: predecessor.sequence, hash: predecessor.entryHash }
    : { sequence: start - 1n, hash: genesisHash };
  // Entries before the first stored one cannot be missing when the log starts at 1.
  if (!predecessor && start > 1n) cursor = { sequence: 0n, hash: genesisHash };
  let checked = 0;
  let firstSequence = 0n;
  let next = start;
  for (;;) {
    const take = Math.min(batchSize, entriesMax - checked);
    if (take <= 0) break;
    const entries = await readAuditEntries(prisma, next, take);
    if (entries.length === 0) {
      next = 0n;
      break;
    }
    if (firstSequence === 0n) firstSequence = entries[0]?.sequence ?? 0n;
    const outcome = verifyAuditEntries(entries, cursor);
    if (outcome.broken) {
      checked += entries.indexOf(outcome.broken.entry) + 1;
      return {
        intact: false,
        entriesChecked: checked,
        firstSequence,
        lastSequence: outcome.broken.entry.sequence,
        headHash: outcome.cursor.sequence > 0n ? Buffer.from(outcome.cursor.hash).toString("hex") : "",
        broken: outcome.broken,
        nextSequence: 0n,
      };
    }
    checked += entries.length;
    cursor = outcome.cursor;
    next = cursor.sequence + 1n;
    if (entries.length < take) {
      next = 0n;
      break;
    }
  }
  return {
    intact: true,
    entriesChecked: checked,
    firstSequence,
    lastSequence: checked > 0 ? cursor.sequence : 0n,
    headHash: checked > 0 ? Buffer.from(cursor.hash).toString("hex") : "",
    nextSequence: next,
  };
}

export function createAuditHandlers(dependencies: HandlerDependencies) {
  return {
    async verifyAuditLog(request: VerifyAuditLogRequest): Promise<VerifyAuditLogResponse> {
      const result = await verifyAuditLog(
        dependencies,
        request.fromSequence,
        request.maxEntries === 0 ? defaultEntriesMax : request.maxEntries,
      );
      // A break anywhere is news for the gauge; "intact" only when the whole chain was walked.
      const wholeChain = request.fromSequence === 0n && result.nextSequence === 0n;
      if (!result.intact || wholeChain) dependencies.metrics.recordAuditChainVerified(result.intact);
      const broken = result.broken;
      return {
        $typeName: "trustmesh.healthprocessing.v1.VerifyAuditLogResponse",
        intact: result.intact,
        entriesChecked: BigInt(result.entriesChecked),
        firstSequence: result.firstSequence,
        lastSequence: result.lastSequence,
        headHash: result.headHash,
        ...(broken
          ? {
              firstBroken: {
                $typeName: "trustmesh.healthprocessing.v1.BrokenAuditEntry",
                sequence: broken.entry.sequence,
                auditEntryId: broken.entry.id,
                reason: broken.reason,
                recordedAt: timestampFromDate(broken.entry.recordedAt),
              },
            }
          : {}),
        nextSequence: result.nextSequence,
        verifiedAt: timestampFromDate(new Date()),
      };
    },
  };
}
