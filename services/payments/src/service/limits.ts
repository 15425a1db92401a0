// GetLimits.

import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { PaymentsService } from "@trustmesh/api";
import { periodsOf, resetsAt } from "../domain/limits.ts";
import { type Currency, currencies, money } from "../domain/money.ts";
import { limitUsage } from "../store/payment-store.ts";
import { callerOf, type HandlerDependencies } from "./context.ts";

export function createLimitHandlers(dependencies: HandlerDependencies): Pick<ServiceImpl<typeof PaymentsService>, "getLimits"> {
  return {
    async getLimits(request, context) {
      const caller = callerOf(context);
      const now = new Date();
      const { dayStart, monthStart } = periodsOf(now);
      const wanted: Currency[] = request.currency ? [request.currency as Currency] : currencies;
      const limits = await Promise.all(
        wanted.map(async (currency) => {
          const line = dependencies.limitSchedule[caller.tier][currency];
          const used = await limitUsage(dependencies.prisma, caller.userId, currency, dayStart, monthStart);
          const window = (limit: bigint, usedMinor: bigint, resets: Date) => ({
            limit: money(currency, limit),
            used: money(currency, usedMinor),
            remaining: money(currency, usedMinor >= limit ? 0n : limit - usedMinor),
            resetsAt: timestampFromDate(resets),
          });
          return {
            currency,
            perTransaction: money(currency, line.perTransactionMinor),
            daily: window(line.dailyMinor, used.daily, resetsAt("daily", dayStart)),
            monthly: window(line.monthlyMinor, used.monthly, resetsAt("monthly", monthStart)),
          };
        }),
      );
      return { tier: caller.tier, limits };
    },
  };
}
