// Latency and throughput of credential's signing and verifying RPCs, through the
// real process (gRPC port, full interceptor stack) on real Postgres, with real
// auth publishing the token keys. Bounded: a fixed number of calls per
// scenario at a fixed concurrency. Prints a table and appends it, dated, to
// bench/credential/results.md unless --no-write.
//
//   node_modules/.bin/node bench/credential/run.ts [--calls 400] [--concurrency 8] [--no-write]
import { appendFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CredentialFormat, KeyCustody } from "@trustmesh/api/trustmesh/credential/v1/credential_pb.js";
import { createHolderWallet } from "../../services/credential/test/support/holder.ts";
import { bearer, startCredentialPlatform } from "../../services/credential/test/support/platform.ts";

const { values } = parseArgs({
  options: {
    calls: { type: "string", default: "400" },
    concurrency: { type: "string", default: "8" },
    "no-write": { type: "boolean", default: false },
  },
});
const calls = Math.min(5000, Number(values.calls));
const concurrency = Math.min(64, Number(values.concurrency));

interface Result {
  scenario: string;
  perSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

/** Runs `call` `calls` times with `concurrency` in flight; the first tenth is warm-up and not counted. */
async function measure(scenario: string, call: (n: number) => Promise<unknown>): Promise<Result> {
  const warmUp = Math.floor(calls / 10);
  for (let n = 0; n < warmUp; n++) await call(-n - 1);
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let n = next++; n < calls; n = next++) {
        const at = performance.now();
        await call(n);
        latencies.push(performance.now() - at);
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const quantile = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] as number;
  return { scenario, perSecond: (calls / elapsedMs) * 1000, p50Ms: quantile(0.5), p95Ms: quantile(0.95), p99Ms: quantile(0.99) };
}

const platform = await startCredentialPlatform({ LOG_LEVEL: "error" });
try {
  const admin = bearer(await platform.userToken(crypto.randomUUID(), ["admin"]));
  const issuerDid = JSON.parse(await (await fetch(`${platform.httpUrl}/.well-known/did.json`)).text()).id as string;
  const holder = crypto.randomUUID();
  const wallet = await createHolderWallet();
  await platform.grpcClient.createDid(
    { idempotencyKey: "bench", keyCustody: KeyCustody.HOLDER, keyProofJwt: await wallet.keyProof({ issuerDid, userId: holder }) },
    bearer(await platform.userToken(holder)),
  );
  const run = crypto.randomUUID();
  const issue = (format: CredentialFormat, n: number) =>
    platform.grpcClient.issueCredential(
      {
        idempotencyKey: `${run}-${format}-${n}`,
        userId: holder,
        holderDid: wallet.did,
        format,
        claims: { case: "identity", value: { givenName: "Ada", familyName: "Lovelace", birthDate: "1990-12-10" } },
      },
      admin,
    );
  const results: Result[] = [];
  results.push(await measure("IssueCredential (SD-JWT VC)", (n) => issue(CredentialFormat.SD_JWT_VC, n)));
  results.push(await measure("IssueCredential (VC-JWT)", (n) => issue(CredentialFormat.VC_JWT, n)));
  const sdJwt = (await issue(CredentialFormat.SD_JWT_VC, calls + 1)).credential?.encoded ?? "";
  const vcJwt = (await issue(CredentialFormat.VC_JWT, calls + 1)).credential?.encoded ?? "";
  results.push(await measure("VerifyCredential (SD-JWT VC)", () => platform.grpcClient.verifyCredential({ credential: sdJwt })));
  results.push(await measure("VerifyCredential (VC-JWT)", () => platform.grpcClient.verifyCredential({ credential: vcJwt })));
  const nonce = "bench-nonce-0123456789";
  const presentation = await wallet.present(sdJwt, { over_18: true }, { nonce, audience: "https://verifier.example" });
  results.push(
    await measure("VerifyPresentation (over_18 only)", () =>
      platform.grpcClient.verifyPresentation({ presentation, nonce, audience: "https://verifier.example", requiredClaims: ["over_18"] }),
    ),
  );

  const table = [
    "| scenario | calls/s | p50 ms | p95 ms | p99 ms |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...results.map(
      (r) => `| ${r.scenario} | ${r.perSecond.toFixed(0)} | ${r.p50Ms.toFixed(1)} | ${r.p95Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} |`,
    ),
  ].join("\n");
  console.log(table);
  if (!values["no-write"]) {
    const section = [
      "",
      `## ${new Date().toISOString()}`,
      "",
      `\`node_modules/.bin/node bench/credential/run.ts --calls ${calls} --concurrency ${concurrency}\` — ${cpus().length} × ${cpus()[0]?.model ?? "CPU"}, Node ${process.version}; auth, credential, Postgres and this client share the machine; load average ${loadavg()[0]?.toFixed(1)} at the end (above the CPU count, other work was running).`,
      "",
      table,
      "",
    ].join("\n");
    appendFileSync(join(import.meta.dirname, "results.md"), section);
  }
} finally {
  await platform.stop();
}
