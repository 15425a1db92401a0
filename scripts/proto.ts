// Builds the Protobuf image, lints it, checks it for breaking changes and
// generates packages/api from it.
//
// The schema registry is unreachable from our build machines, so
// buf/validate/validate.proto cannot come from buf's dependency resolution. The
// descriptor that @bufbuild/protovalidate ships is the same file, so we write it
// (with the well-known types it imports) as a FileDescriptorSet and let protoc
// resolve imports from it. protoc's output, with source info, is an image that
// buf lint, buf breaking and buf generate accept.
//
//   node scripts/proto.ts                 build, lint, generate
//   node scripts/proto.ts --breaking REF  also compare against git REF (e.g. origin/main)
//   node scripts/proto.ts --lint-only     build into a scratch folder and lint; touches nothing else
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { create, type DescFile, toBinary } from "@bufbuild/protobuf";
import {
  FileDescriptorSetSchema,
  file_google_protobuf_any,
  file_google_protobuf_descriptor,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
} from "@bufbuild/protobuf/wkt";
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

const root = join(import.meta.dirname, "..");
const genDir = join(root, "gen", "proto");
const bin = (name: string) => join(root, "node_modules", ".bin", name);

/** Files in dependency order, each once: protoc wants imports before importers. */
function closure(roots: DescFile[]): DescFile[] {
  const seen = new Set<string>();
  const ordered: DescFile[] = [];
  const visit = (file: DescFile) => {
    if (seen.has(file.name)) return;
    seen.add(file.name);
    for (const dependency of file.dependencies) visit(dependency);
    ordered.push(file);
  };
  for (const file of roots) visit(file);
  return ordered;
}

function writeDependencySet(path: string): void {
  const files = closure([
    file_buf_validate_validate,
    file_google_protobuf_any,
    file_google_protobuf_descriptor,
    file_google_protobuf_duration,
    file_google_protobuf_empty,
    file_google_protobuf_field_mask,
    file_google_protobuf_struct,
    file_google_protobuf_timestamp,
    file_google_protobuf_wrappers,
  ]);
  const set = create(FileDescriptorSetSchema, { file: files.map((file) => file.proto) });
  writeFileSync(path, toBinary(FileDescriptorSetSchema, set));
}

function listProtoFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".proto"))
    .map((file) => file.split("\\").join("/"))
    .sort();
}

/** Compiles every .proto under protoDir into an image at imagePath. */
export function buildImage(protoDir: string, imagePath: string, dependencySetPath: string): void {
  execFileSync(
    "protoc",
    [
      `--descriptor_set_in=${dependencySetPath}`,
      `--proto_path=${protoDir}`,
      "--include_imports",
      "--include_source_info",
      `--descriptor_set_out=${imagePath}`,
      ...listProtoFiles(protoDir),
    ],
    { stdio: "inherit", cwd: protoDir },
  );
}

function buf(args: string[]): void {
  // buf finds protoc-gen-es on PATH, so this works outside npm scripts too.
  const path = `${join(root, "node_modules", ".bin")}:${process.env.PATH ?? ""}`;
  execFileSync(bin("buf"), args, { stdio: "inherit", cwd: root, env: { ...process.env, PATH: path } });
}

function imageOfGitRef(ref: string, dependencySetPath: string): string | undefined {
  const scratch = mkdtempSync(join(tmpdir(), "trustmesh-proto-"));
  try {
    const archive = execFileSync("git", ["archive", ref, "proto"], { cwd: root });
    execFileSync("tar", ["-x", "-C", scratch], { input: archive });
  } catch {
    // The ref has no proto/ folder yet (the first contract commit): nothing can break.
    rmSync(scratch, { recursive: true, force: true });
    return undefined;
  }
  const imagePath = join(genDir, "against.binpb");
  buildImage(join(scratch, "proto"), imagePath, dependencySetPath);
  rmSync(scratch, { recursive: true, force: true });
  return imagePath;
}

function main(): void {
  const lintOnly = process.argv.includes("--lint-only");
  const outDir = lintOnly ? mkdtempSync(join(tmpdir(), "trustmesh-lint-")) : genDir;
  mkdirSync(outDir, { recursive: true });
  const dependencySetPath = join(outDir, "deps.binpb");
  const imagePath = join(outDir, "trustmesh.binpb");
  writeDependencySet(dependencySetPath);
  buildImage(join(root, "proto"), imagePath, dependencySetPath);
  const image = relative(root, imagePath);

  // The gRPC health protocol keeps its specification's names, so only our own
  // packages are held to buf's STANDARD rules.
  buf(["lint", image, "--config", "buf.yaml", "--path", "trustmesh"]);
  if (lintOnly) {
    rmSync(outDir, { recursive: true, force: true });
    console.log("buf lint: clean");
    return;
  }

  const breakingIndex = process.argv.indexOf("--breaking");
  if (breakingIndex !== -1) {
    const ref = process.argv[breakingIndex + 1];
    if (!ref) throw new Error("--breaking needs a git ref, e.g. origin/main");
    const against = imageOfGitRef(ref, dependencySetPath);
    if (against) {
      buf(["breaking", image, "--config", "buf.yaml", "--against", relative(root, against), "--path", "trustmesh"]);
      console.log(`buf breaking: no breaking change against ${ref}`);
    } else {
      console.log(`buf breaking: ${ref} has no contracts yet, nothing to compare`);
    }
  }

  rmSync(join(root, "packages", "api", "src", "gen"), { recursive: true, force: true });
  buf(["generate", image, "--template", "buf.gen.yaml", "--path", "trustmesh", "--path", "grpc", "--path", "google/rpc"]);
}

main();
