// Generates code when its inputs changed since the last run: packages/api from
// proto/ (scripts/proto.ts) and each service's Prisma Client from its schema.
// A fingerprint of the inputs is kept in gen/, so an unchanged tree costs a
// few milliseconds.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generatePrismaClient } from "./prisma-generate.ts";

const root = join(import.meta.dirname, "..");
const stampDir = join(root, "gen", "stamps");

function fingerprint(paths: string[]): string {
  const hash = createHash("sha256");
  for (const path of paths.sort()) hash.update(path).update(readFileSync(path));
  return hash.digest("hex");
}

function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(suffix))
    .map((file) => join(dir, file));
}

/** Runs make() unless the inputs' fingerprint and the output are as last time. */
function regenerate(name: string, inputs: string[], output: string, make: () => void): void {
  const stamp = join(stampDir, name);
  const current = fingerprint(inputs);
  if (existsSync(output) && existsSync(stamp) && readFileSync(stamp, "utf8") === current) return;
  console.log(`generate: ${name}`);
  make();
  mkdirSync(stampDir, { recursive: true });
  writeFileSync(stamp, current);
}

const protoInputs = [
  ...filesUnder(join(root, "proto"), ".proto"),
  join(root, "scripts", "proto.ts"),
  join(root, "buf.gen.yaml"),
  join(root, "buf.yaml"),
  join(root, "package-lock.json"),
];
regenerate("api", protoInputs, join(root, "packages", "api", "src", "gen"), () => {
  execFileSync(process.execPath, [join(root, "scripts", "proto.ts")], { stdio: "inherit" });
});

for (const service of readdirSync(join(root, "services"))) {
  const serviceDir = join(root, "services", service);
  const schema = join(serviceDir, "prisma", "schema.prisma");
  if (!existsSync(schema)) continue;
  regenerate(`prisma-${service}`, [schema, join(root, "package-lock.json")], join(serviceDir, "src", "generated", "prisma"), () =>
    generatePrismaClient(serviceDir),
  );
}
