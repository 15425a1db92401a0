// AddPaymentMethod, ListPaymentMethods, RemovePaymentMethod, Deposit and Withdraw.
// A card number and security code go to the rail for a token and are then
// dropped: they are never stored, logged or put in an error (README: Cards).
import type { ServiceImpl } from "@connectrpc/connect";
import type { PaymentsService } from "@trustmesh/api";
import { BankAccountType, CryptoNetwork, PaymentMethodType } from "@trustmesh/api/trustmesh/payments/v1/payments_pb.js";
import {
  AddPaymentMethodRequestSchema,
  type DepositRequest,
  DepositRequestSchema,
  type WithdrawRequest,
  WithdrawRequestSchema,
} from "@trustmesh/api/trustmesh/payments/v1/payments_service_pb.js";
import { failedPrecondition, invalidArgument } from "@trustmesh/runtime";
import {
  checkBitcoinAddress,
  checkCardExpiry,
  checkCardNumber,
  checkEthereumAddress,
  checkIban,
  checkRoutingNumber,
  methodCurrencies,
} from "../domain/payment-methods.ts";
import type { Prisma as PrismaNamespace } from "../generated/prisma/client.ts";
import type { RailInstrument } from "../rails/payment-rail.ts";
import { findMethod, insertMethod, listMethods, type MethodRow, removeMethod } from "../store/method-store.ts";
import { loadPayment, newPaymentId } from "../store/payment-store.ts";
import { type Transaction, toBytes } from "../store/prisma.ts";
import {
  afterAccepted,
  type Caller,
  callerOf,
  checkPerTransactionLimit,
  countAgainstLimits,
  createPayment,
  type HandlerDependencies,
  idempotently,
  limitPeriodsOf,
  listPage,
  notYours,
} from "./context.ts";
import { methodMessage, paymentMessage } from "./messages.ts";
import { priced } from "./transfers.ts";

type MethodHandlers = Pick<
  ServiceImpl<typeof PaymentsService>,
  "addPaymentMethod" | "listPaymentMethods" | "removePaymentMethod" | "deposit" | "withdraw"
>;
type AddRequest = Parameters<MethodHandlers["addPaymentMethod"]>[0];
type MethodFields = Omit<PrismaNamespace.PaymentMethodUncheckedCreateInput, "id" | "userId" | "label" | "rail" | "railToken" | "createdAt">;

/** Checks the instrument and returns what is stored plus what only the rail sees. */
function describeInstrument(request: AddRequest, now: Date): { fields: MethodFields; instrument: RailInstrument; secret?: string } {
  const method = request.method;
  switch (method.case) {
    case "card": {
      const card = method.value;
      const { brand, last4 } = checkCardNumber(card.number, "card.number");
      checkCardExpiry(card.expiryMonth, card.expiryYear, now, "card.expiry_year");
      return {
        fields: {
          type: "CARD",
          currencies: [...methodCurrencies.card],
          holderName: card.cardholderName,
          cardBrand: brand,
          last4,
          expiryMonth: card.expiryMonth,
          expiryYear: card.expiryYear,
        },
        instrument: {
          type: "card",
          number: card.number,
          securityCode: card.securityCode,
          expiryMonth: card.expiryMonth,
          expiryYear: card.expiryYear,
        },
      };
    }
    case "bankAccount": {
      const bank = method.value;
      if (bank.scheme.case === "iban") {
        const { iban, country, last4 } = checkIban(bank.scheme.value.iban, "bank_account.iban.iban");
        return {
          fields: {
            type: "BANK_ACCOUNT",
            currencies: [...methodCurrencies.iban],
            holderName: bank.accountHolderName,
            country,
            last4,
            bic: bank.scheme.value.bic || null,
          },
          instrument: { type: "iban", iban },
        };
      }
      if (bank.scheme.case === "usAccount") {
        const account = bank.scheme.value;
        checkRoutingNumber(account.routingNumber, "bank_account.us_account.routing_number");
        if (account.accountType === BankAccountType.UNSPECIFIED)
          throw invalidArgument("bank_account.us_account.account_type", "must be CHECKING or SAVINGS");
        return {
          fields: {
            type: "BANK_ACCOUNT",
            currencies: [...methodCurrencies.usAccount],
            holderName: bank.accountHolderName,
            country: "US",
            last4: account.accountNumber.slice(-4),
            routingNumber: account.routingNumber,
            bankAccountType: BankAccountType[account.accountType],
          },
          instrument: { type: "us_account", routingNumber: account.routingNumber, accountNumber: account.accountNumber },
          secret: account.accountNumber,
        };
      }
      throw invalidArgument("bank_account", "one of iban or us_account is required");
    }
    case "cryptoWallet": {
      const wallet = method.value;
      if (wallet.network === CryptoNetwork.BITCOIN) {
        const address = checkBitcoinAddress(wallet.address, "crypto_wallet.address");
        return {
          fields: { type: "CRYPTO_WALLET", currencies: [...methodCurrencies.bitcoin], cryptoNetwork: "BITCOIN", cryptoAddress: address },
          instrument: { type: "crypto", network: "BITCOIN", address },
        };
      }
      if (wallet.network === CryptoNetwork.ETHEREUM) {
        const address = checkEthereumAddress(wallet.address, "crypto_wallet.address");
        return {
          fields: { type: "CRYPTO_WALLET", currencies: [...methodCurrencies.ethereum], cryptoNetwork: "ETHEREUM", cryptoAddress: address },
          instrument: { type: "crypto", network: "ETHEREUM", address },
        };
      }
      throw invalidArgument("crypto_wallet.network", "must be BITCOIN or ETHEREUM");
    }
    default:
      throw invalidArgument("method", "one of bank_account, card or crypto_wallet is required");
  }
}

export function createMethodHandlers(dependencies: HandlerDependencies): MethodHandlers {
  async function ownActiveMethod(caller: Caller, methodId: string, currency: string): Promise<MethodRow> {
    const method = await findMethod(dependencies.prisma, methodId);
    if (!method || method.userId !== caller.userId) throw notYours(`payment method ${methodId}`);
    if (method.removedAt) throw failedPrecondition("payment_method_id: the payment method was removed", "METHOD_REMOVED");
    if (!method.currencies.includes(currency)) {
      throw invalidArgument(
        "amount.currency",
        `the payment method carries ${method.currencies.join(", ")}, not ${currency}`,
        "METHOD_CURRENCY_MISMATCH",
      );
    }
    return method;
  }

  async function acceptRailPayment(caller: Caller, kind: "DEPOSIT" | "WITHDRAWAL", request: DepositRequest | WithdrawRequest) {
    const { currency, amountMinor, priority, fee } = priced(dependencies, request);
    const method = await ownActiveMethod(caller, request.paymentMethodId, currency);
    // Withdrawals count against the sending limits; deposits do not.
    if (kind === "WITHDRAWAL") checkPerTransactionLimit(dependencies, caller, currency, amountMinor);
    const id = newPaymentId();
    const now = new Date();
    const create = async (transaction: Transaction) => {
      await createPayment(
        transaction,
        {
          id,
          kind,
          initiatorUserId: caller.userId,
          senderUserId: kind === "WITHDRAWAL" ? caller.userId : null,
          recipientUserId: kind === "DEPOSIT" ? caller.userId : null,
          currency,
          amountMinor,
          feeMinor: fee.feeMinor,
          priority: priority.toUpperCase() as "STANDARD",
          paymentMethodId: method.id,
          ...(kind === "WITHDRAWAL" ? limitPeriodsOf(now) : {}),
        },
        kind === "DEPOSIT" ? "deposit accepted" : "withdrawal accepted",
        now,
      );
      if (kind === "WITHDRAWAL") await countAgainstLimits(dependencies, transaction, caller, currency, amountMinor, now);
    };
    const result =
      request.$typeName === "trustmesh.payments.v1.DepositRequest"
        ? await idempotently(dependencies, caller.userId, "Deposit", DepositRequestSchema, request, id, create)
        : await idempotently(dependencies, caller.userId, "Withdraw", WithdrawRequestSchema, request, id, create);
    const payment = await loadPayment(dependencies.prisma, result.resourceId);
    if (!payment) throw new Error(`payment ${result.resourceId} vanished`);
    if (!result.replayed) afterAccepted(dependencies, payment);
    return { payment: paymentMessage(payment), replayed: result.replayed };
  }

  return {
    async addPaymentMethod(request, context) {
      const caller = callerOf(context);
      const now = new Date();
      const { fields, instrument, secret } = describeInstrument(request, now);
      const rail = dependencies.rails.get(dependencies.defaultRail);
      if (!rail) throw new Error(`rail ${dependencies.defaultRail} is not configured`);
      const id = newPaymentId();
      const result = await idempotently(
        dependencies,
        caller.userId,
        "AddPaymentMethod",
        AddPaymentMethodRequestSchema,
        request,
        id,
        async (transaction) => {
          // Tokenised inside the accepting transaction so a replay does not ask the rail again.
          const { token } = await rail.tokenize(instrument);
          await insertMethod(transaction, {
            ...fields,
            id,
            userId: caller.userId,
            label: request.label,
            rail: rail.name,
            railToken: token,
            ...(secret
              ? { accountNumberSealed: toBytes(dependencies.sealer.seal(Buffer.from(secret, "utf8"), `payment-method:${id}`)) }
              : {}),
            createdAt: now,
          });
        },
      );
      const method = await findMethod(dependencies.prisma, result.resourceId);
      if (!method) throw new Error(`payment method ${result.resourceId} vanished`);
      return { paymentMethod: methodMessage(method), replayed: result.replayed };
    },

    async listPaymentMethods(request, context) {
      const caller = callerOf(context);
      const type = request.type === PaymentMethodType.UNSPECIFIED ? undefined : (PaymentMethodType[request.type] as MethodRow["type"]);
      const filter = { ...(type ? { type } : {}), includeRemoved: request.includeRemoved };
      const { page, nextPageToken } = await listPage(request, filter, (after, limit) =>
        listMethods(dependencies.prisma, caller.userId, filter, after, limit),
      );
      return { paymentMethods: page.map(methodMessage), nextPageToken };
    },

    async removePaymentMethod(request, context) {
      const caller = callerOf(context);
      const method = await findMethod(dependencies.prisma, request.paymentMethodId);
      if (!method || method.userId !== caller.userId) throw notYours(`payment method ${request.paymentMethodId}`);
      const removed = await removeMethod(dependencies.prisma, method.id);
      return { paymentMethod: methodMessage(removed ?? method) };
    },

    async deposit(request, context) {
      return acceptRailPayment(callerOf(context), "DEPOSIT", request);
    },

    async withdraw(request, context) {
      return acceptRailPayment(callerOf(context), "WITHDRAWAL", request);
    },
  };
}
