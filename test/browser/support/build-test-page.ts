// Builds the browser test page at test time: esbuild bundles page/trustmesh-page.ts
// (connect-web plus the generated code from @trustmesh/api) into one script, written
// with an HTML page that loads it into a directory the caller owns.
import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export const pageScriptName = "trustmesh-page.js";

const entryPoint = fileURLToPath(new URL("../page/trustmesh-page.ts", import.meta.url));

const indexHtml = `<!doctype html>
<html>
  <head>
    <meta charset="utf-8">
    <!-- An empty icon, so the browser does not request /favicon.ico and log a 404. -->
    <link rel="icon" href="data:,">
    <title>Trustmesh browser client</title>
    <script type="module" src="./${pageScriptName}"></script>
  </head>
  <body></body>
</html>
`;

/** Writes index.html and the bundled script into outputDir. */
export async function buildTestPage(outputDir: string): Promise<void> {
  await build({
    entryPoints: [entryPoint],
    outfile: path.join(outputDir, pageScriptName),
    bundle: true,
    format: "esm",
    platform: "browser",
    // Any Chromium this test runs on is far newer; naming a floor keeps esbuild from
    // down-levelling BigInt and friends that @bufbuild/protobuf relies on.
    target: ["chrome120"],
    // Stack traces from a failing page should point at readable code.
    sourcemap: "inline",
    logLevel: "silent",
  });
  await writeFile(path.join(outputDir, "index.html"), indexHtml);
}
