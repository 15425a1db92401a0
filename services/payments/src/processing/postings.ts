// Which ledger postings each kind of payment makes. Every transaction is
// reserved as PENDING first and posted or voided at the end (issue #5), and the
// fee moves to the fee-revenue account in the same transaction as the amount.
import type { LedgerGateway, LedgerPosting } from "../ledger/ledger-gateway.ts";
import type { PaymentRow } from "../store/payment-store.ts";
import { toBigInt } from "../store/prisma.ts";

export async function reservationPostings(ledger: LedgerGateway, payment: PaymentRow): Promise<LedgerPosting[]> {
  const currency = payment.currency;
  const amountMinor = toBigInt(payment.amountMinor);
  const feeMinor = toBigInt(payment.feeMinor);
  const postings: LedgerPosting[] = [];
  const add = (debitAccountId: string, creditAccountId: string, amount: bigint) => {
    if (amount > 0n) postings.push({ debitAccountId, creditAccountId, currency, amountMinor: amount });
  };
  const fees = () => ledger.systemAccountId("fee_revenue", currency);
  switch (payment.kind) {
    case "TRANSFER": {
      const sender = await ledger.walletAccountId(required(payment.senderUserId, "sender"), currency);
      // A claimable payment is held in the clearing account until someone claims it.
      const destination = payment.recipientUserId
        ? await ledger.walletAccountId(payment.recipientUserId, currency)
        : await ledger.systemAccountId("clearing", currency);
      add(sender, destination, amountMinor);
      add(sender, await fees(), feeMinor);
      return postings;
    }
    case "REFUND": {
      // A refund runs from the original recipient back to the original sender and carries no fee.
      const from = await ledger.walletAccountId(required(payment.senderUserId, "sender"), currency);
      const to = await ledger.walletAccountId(required(payment.recipientUserId, "recipient"), currency);
      add(from, to, amountMinor);
      return postings;
    }
    case "DEPOSIT": {
      // The rail owes the platform amount + fee while it settles; the wallet and the fee account are paid from that.
      const external = await ledger.systemAccountId("external:sandbox", currency);
      const settlement = await ledger.systemAccountId("settlement", currency);
      const wallet = await ledger.walletAccountId(required(payment.recipientUserId, "recipient"), currency);
      add(external, settlement, amountMinor + feeMinor);
      add(settlement, wallet, amountMinor);
      add(settlement, await fees(), feeMinor);
      return postings;
    }
    case "WITHDRAWAL": {
      const wallet = await ledger.walletAccountId(required(payment.senderUserId, "sender"), currency);
      const settlement = await ledger.systemAccountId("settlement", currency);
      const external = await ledger.systemAccountId("external:sandbox", currency);
      add(wallet, settlement, amountMinor + feeMinor);
      add(settlement, external, amountMinor);
      add(settlement, await fees(), feeMinor);
      return postings;
    }
  }
}

function required(value: string | null, what: string): string {
  if (!value) throw new Error(`the payment has no ${what}`);
  return value;
}
