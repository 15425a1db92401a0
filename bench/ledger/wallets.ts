// The benchmarks' wallets: USD wallets of fresh owners, each funded from the
// sandbox rail with far more than any run moves, so no transfer overdraws.
import { LedgerService } from "@trustmesh/api";
import { AccountKind } from "@trustmesh/api/trustmesh/ledger/v1/ledger_pb.js";
import type { LedgerPlatform } from "../../services/ledger/test/support/ledger-platform.ts";

const methods = LedgerService.method;

/** Creates `count` funded USD wallets (50 creations in flight, funding in atomic batches of 1000); returns their ids. */
export async function createFundedWallets(platform: LedgerPlatform, token: string, count: number): Promise<string[]> {
  const world = await platform.call(methods.getAccount, { selector: { case: "address", value: "system:external:sandbox:USD" } }, token);
  const worldId = world.account?.id as string;
  const wallets: string[] = [];
  for (let start = 0; start < count; start += 50) {
    const created = await Promise.all(
      Array.from({ length: Math.min(50, count - start) }, async () => {
        const owner = crypto.randomUUID();
        const response = await platform.call(
          methods.createAccount,
          {
            idempotencyKey: `wallet:${owner}:USD`,
            ownerId: owner,
            currency: "USD",
            kind: AccountKind.USER_WALLET,
            flags: { debitsMustNotExceedCredits: true },
          },
          token,
        );
        return response.account?.id as string;
      }),
    );
    wallets.push(...created);
  }
  for (let start = 0; start < wallets.length; start += 1000) {
    await platform.call(
      methods.postTransactions,
      {
        atomic: true,
        transactions: wallets.slice(start, start + 1000).map((wallet) => ({
          idempotencyKey: `fund:${wallet}`,
          postings: [{ debitAccountId: worldId, creditAccountId: wallet, amount: { currency: "USD", amountMinor: "1000000000000000" } }],
        })),
      },
      token,
    );
  }
  return wallets;
}
