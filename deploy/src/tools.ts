// Finds the command-line tools the deploy checks drive: helm (installed with
// `go install`, so it may be only in Go's bin folder) and promtool (Debian's
// prometheus package). scripts/bootstrap.sh installs both.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

/** Kubernetes version the chart is rendered for; helm built from source otherwise assumes 1.20. */
export const kubernetesVersion = "1.33.0";

function goBinDirectory(): string | undefined {
  try {
    return join(execFileSync("go", ["env", "GOPATH"], { encoding: "utf8" }).trim(), "bin");
  } catch {
    return undefined;
  }
}

export function findTool(name: string, installHint: string): string {
  const candidates = (process.env.PATH ?? "").split(":").map((dir) => join(dir, name));
  const goBin = goBinDirectory();
  if (goBin) candidates.push(join(goBin, name));
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) throw new Error(`${name} is required (${installHint}); sh scripts/bootstrap.sh test installs it`);
  return found;
}

export const findHelm = () => findTool("helm", "go install helm.sh/helm/v3/cmd/helm@v3.22.0");
export const findPromtool = () => findTool("promtool", "apt-get install prometheus");
export const findPrometheus = () => findTool("prometheus", "apt-get install prometheus");
