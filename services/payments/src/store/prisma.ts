// The Prisma client and what every store module shares. The store modules are
// the only code that touches Prisma (DESIGN.md §1).
import { createPrismaClient } from "@trustmesh/runtime/db";
import type pg from "pg";
import { PrismaClient } from "../generated/prisma/client.ts";

export type Prisma = PrismaClient;
export type Transaction = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];
export type Client = Prisma | Transaction;

export function createPaymentsPrisma(pool: pg.Pool): PrismaClient {
  return createPrismaClient(PrismaClient, { pool });
}

/** Bounds for interactive transactions: all of payments' are a few short statements. */
export const transactionOptions = { maxWait: 10_000, timeout: 15_000 } as const;

/** Bytes as Prisma's Bytes fields take them (a Uint8Array over a plain ArrayBuffer). */
export function toBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

/** A Decimal column as a bigint; NUMERIC(78,0) columns only ever hold integers. */
export function toBigInt(value: { toFixed(): string } | string): bigint {
  return BigInt(typeof value === "string" ? value : value.toFixed());
}
