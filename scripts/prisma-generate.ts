// Generates a service's Prisma Client (Prisma 7, `prisma-client` generator, no
// Rust query engine) into <service>/src/generated/prisma.
//
//   node scripts/prisma-generate.ts services/ledger
//
// `prisma generate` insists on locating a schema-engine binary, which it would
// download, though generation never runs it; any existing file satisfies the
// check, so we name the Node binary.
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";

export function generatePrismaClient(serviceDir: string): void {
  const cli = join(dirname(createRequire(import.meta.url).resolve("prisma/package.json")), "build", "index.js");
  execFileSync(process.execPath, [cli, "generate", "--schema", join(serviceDir, "prisma", "schema.prisma")], {
    cwd: serviceDir,
    // Prisma chats on stderr even when all is well; its output is shown only on failure.
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      PRISMA_SCHEMA_ENGINE_BINARY: process.execPath,
      CHECKPOINT_DISABLE: "1",
      PRISMA_HIDE_UPDATE_MESSAGE: "1",
    },
  });
}

if (import.meta.main) {
  for (const dir of process.argv.slice(2)) generatePrismaClient(resolve(dir));
}
