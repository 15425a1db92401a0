// Rows to messages. Amounts leave as decimal strings of minor units; enums map
// by name, because the database stores the proto enum names without prefix.
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  BankAccountType,
  CardBrand,
  CryptoNetwork,
  type FeeRule,
  FeeRuleSchema,
  type Party,
  PartySchema,
  type Payment,
  PaymentFailureReason,
  PaymentKind,
  type PaymentMethod,
  PaymentMethodSchema,
  PaymentMethodStatus,
  PaymentMethodType,
  type PaymentRequest,
  PaymentRequestSchema,
  PaymentRequestState,
  PaymentSchema,
  PaymentState,
  Priority,
} from "@trustmesh/api/trustmesh/payments/v1/payments_pb.js";
import type { FeeRuleLine, PriorityName } from "../domain/fees.ts";
import { money } from "../domain/money.ts";
import type { MethodRow } from "../store/method-store.ts";
import type { PaymentWithHistory } from "../store/payment-store.ts";
import { toBigInt } from "../store/prisma.ts";
import type { RequestRow } from "../store/request-store.ts";

function enumValue<E extends Record<string, string | number>>(enumObject: E, name: string | null | undefined): E[keyof E] {
  const value = name ? enumObject[name as keyof E] : undefined;
  return (typeof value === "number" ? value : 0) as E[keyof E];
}

export const priorityNames: Record<Priority, PriorityName | undefined> = {
  [Priority.UNSPECIFIED]: undefined,
  [Priority.STANDARD]: "standard",
  [Priority.EXPRESS]: "express",
  [Priority.INSTANT]: "instant",
};

export function partyOf(kind: string | null, address: string | null): Party | undefined {
  if (!kind || !address) return undefined;
  const value =
    kind === "EMAIL"
      ? { case: "email" as const, value: address }
      : kind === "PHONE"
        ? { case: "phone" as const, value: address }
        : { case: "userId" as const, value: address };
  return create(PartySchema, { address: value });
}

export function paymentMessage(row: PaymentWithHistory): Payment {
  const amount = toBigInt(row.amountMinor);
  const fee = toBigInt(row.feeMinor);
  return create(PaymentSchema, {
    id: row.id,
    kind: enumValue(PaymentKind, row.kind),
    state: enumValue(PaymentState, row.state),
    senderUserId: row.senderUserId ?? "",
    recipientUserId: row.recipientUserId ?? "",
    recipient: partyOf(row.recipientKind, row.recipientAddress),
    amount: money(row.currency, amount),
    fee: money(row.currency, fee),
    total: money(row.currency, amount + fee),
    priority: enumValue(Priority, row.priority),
    memo: row.memo,
    paymentMethodId: row.paymentMethodId ?? "",
    requestId: row.requestId ?? "",
    originalPaymentId: row.originalPaymentId ?? "",
    refundedAmount: row.kind === "TRANSFER" ? money(row.currency, toBigInt(row.refundedMinor)) : undefined,
    failureReason: enumValue(PaymentFailureReason, row.failureReason),
    failureMessage: row.failureMessage ?? "",
    claimExpiresAt: row.claimExpiresAt ? timestampFromDate(row.claimExpiresAt) : undefined,
    railReference: row.railReference ?? "",
    ledgerTransactionIds: row.ledgerTransactionIds,
    history: row.history.map((change) => ({
      fromState: enumValue(PaymentState, change.fromState),
      toState: enumValue(PaymentState, change.toState),
      changedAt: timestampFromDate(change.changedAt),
      reason: change.reason,
    })),
    createdAt: timestampFromDate(row.createdAt),
    updatedAt: timestampFromDate(row.updatedAt),
    completedAt: row.completedAt ? timestampFromDate(row.completedAt) : undefined,
  });
}

export function requestMessage(row: RequestRow): PaymentRequest {
  return create(PaymentRequestSchema, {
    id: row.id,
    state: enumValue(PaymentRequestState, row.state),
    requesterUserId: row.requesterUserId,
    payer: partyOf(row.payerKind, row.payerAddress),
    payerUserId: row.payerUserId ?? "",
    amount: money(row.currency, toBigInt(row.amountMinor)),
    memo: row.memo,
    declineReason: row.declineReason,
    paymentId: row.paymentId ?? "",
    expiresAt: timestampFromDate(row.expiresAt),
    createdAt: timestampFromDate(row.createdAt),
    updatedAt: timestampFromDate(row.updatedAt),
  });
}

export function methodMessage(row: MethodRow): PaymentMethod {
  const details: PaymentMethod["details"] =
    row.type === "CARD"
      ? {
          case: "card",
          value: {
            $typeName: "trustmesh.payments.v1.Card",
            brand: enumValue(CardBrand, row.cardBrand),
            last4: row.last4 ?? "",
            expiryMonth: row.expiryMonth ?? 0,
            expiryYear: row.expiryYear ?? 0,
            cardholderName: row.holderName,
          },
        }
      : row.type === "BANK_ACCOUNT"
        ? {
            case: "bankAccount",
            value: {
              $typeName: "trustmesh.payments.v1.BankAccount",
              accountHolderName: row.holderName,
              country: row.country ?? "",
              accountNumberLast4: row.last4 ?? "",
              routingNumber: row.routingNumber ?? "",
              bic: row.bic ?? "",
              accountType: enumValue(BankAccountType, row.bankAccountType),
            },
          }
        : {
            case: "cryptoWallet",
            value: {
              $typeName: "trustmesh.payments.v1.CryptoWallet",
              network: enumValue(CryptoNetwork, row.cryptoNetwork),
              address: row.cryptoAddress ?? "",
            },
          };
  return create(PaymentMethodSchema, {
    id: row.id,
    type: enumValue(PaymentMethodType, row.type),
    status: row.removedAt ? PaymentMethodStatus.REMOVED : PaymentMethodStatus.ACTIVE,
    label: row.label,
    currencies: row.currencies,
    rail: row.rail,
    details,
    createdAt: timestampFromDate(row.createdAt),
    removedAt: row.removedAt ? timestampFromDate(row.removedAt) : undefined,
  });
}

export function feeRuleMessage(currency: string, rule: FeeRuleLine): FeeRule {
  return create(FeeRuleSchema, {
    rateBasisPoints: rule.rateBasisPoints,
    fixed: money(currency, rule.fixedMinor),
    minimum: money(currency, rule.minimumMinor),
    maximum: rule.maximumMinor === undefined ? undefined : money(currency, rule.maximumMinor),
  });
}

export { durationFromMs };
