// The CLI's compiled JavaScript: dist/, built by esbuild from src/ when the package is installed
// (the `prepare` script), so that a command starts without compiling TypeScript. Plain JavaScript,
// so that bin/codex-pipeline.js can ask "is dist current?" before anything is compiled.
//
//   node scripts/dist.mjs build    bundle src/cli.ts and src/local/host-main.ts into dist/
//   node scripts/dist.mjs check    exit 1, naming a changed source, when dist/ is not current
//
// dist/manifest.json lists every source file the bundle holds (what esbuild's metafile names as
// inputs) with its size, mtime and SHA-256: a file whose size and mtime are unchanged is taken as
// unchanged, and one whose are is hashed, so a check costs a stat per source file.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const PACKAGE_DIR = resolve(fileURLToPath(new URL("..", import.meta.url)));
export const DIST_DIR = join(PACKAGE_DIR, "dist");
const ENTRIES = ["src/cli.ts", "src/local/host-main.ts"];
const MANIFEST = "manifest.json";

const sha256 = (path) => createHash("sha256").update(readFileSync(path)).digest("hex");
const posix = (path) => path.split(sep).join("/");
const dotted = (path) => (path.startsWith(".") ? path : `./${path}`);

/**
 * Whether `outdir` holds a bundle of the sources as they are now: `{ current: true }`, or
 * `{ current: false, reason }` naming the first source that changed (or what is missing).
 */
export function distState(outdir = DIST_DIR) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(outdir, MANIFEST), "utf8"));
  } catch {
    return {
      current: false,
      reason: `${posix(relative(process.cwd(), outdir)) || "."} is not built`,
    };
  }
  for (const input of [...manifest.inputs, manifest.builder]) {
    const path = resolve(outdir, input.path);
    let stat;
    try {
      stat = statSync(path);
    } catch {
      return { current: false, reason: `${input.path} is gone` };
    }
    if (stat.size === input.size && stat.mtimeMs === input.mtimeMs) continue;
    if (sha256(path) !== input.sha256) return { current: false, reason: `${input.path} changed` };
  }
  return { current: true };
}

function fileRecord(path, outdir) {
  const stat = statSync(path);
  return {
    path: posix(relative(outdir, path)),
    size: stat.size,
    mtimeMs: stat.mtimeMs,
    sha256: sha256(path),
  };
}

/**
 * Bundles `entries` (paths relative to `packageDir`) into `outdir`, one ES module each plus shared
 * chunks, so that a command's dynamic import() loads its heavy dependencies only when it runs.
 * The workspace's own packages (@codex/*, TypeScript sources) are bundled; every other package
 * stays external, imported by a relative path to the file Node would load from the source file
 * that imports it (pnpm gives each package its own node_modules). `import.meta.url` keeps meaning
 * the source file's URL, so paths computed from it (the repository root, the migrations) hold.
 */
export async function buildDist({
  packageDir = PACKAGE_DIR,
  outdir = DIST_DIR,
  entries = ENTRIES,
} = {}) {
  const esbuild = await import("esbuild");
  // Built beside and renamed into place: a CLI starting meanwhile sees the old bundle or the new.
  const staging = `${outdir}.${process.pid}.tmp`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  const builtins = new Set(builtinModules);
  const externals = {
    name: "codex-externals",
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === "resolving" || args.path.startsWith("@codex/")) return undefined;
        if (args.path.startsWith("node:") || builtins.has(args.path.split("/")[0])) {
          return { path: args.path, external: true };
        }
        const found = await build.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: "resolving",
        });
        if (found.errors.length) return { errors: found.errors };
        return { path: dotted(posix(relative(outdir, found.path))), external: true };
      });
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        const source = await readFile(args.path, "utf8");
        const url = `new URL(${JSON.stringify(posix(relative(outdir, args.path)))}, import.meta.url).href`;
        return { contents: source.replaceAll("import.meta.url", url), loader: "ts" };
      });
    },
  };
  const result = await esbuild.build({
    absWorkingDir: packageDir,
    entryPoints: entries.map((entry) => join(packageDir, entry)),
    outdir: staging,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    entryNames: "[name]",
    chunkNames: "[name]-[hash]",
    sourcemap: "linked",
    metafile: true,
    logLevel: "warning",
    // host-client.ts starts the host from dist/host-main.js when it runs from this bundle.
    banner: { js: 'globalThis.__codexDist ??= new URL(".", import.meta.url).href;' },
    plugins: [externals],
  });
  const inputs = Object.keys(result.metafile.inputs)
    .map((input) => resolve(packageDir, input))
    .filter((path) => isAbsolute(path) && existsSync(path))
    .map((path) => fileRecord(path, outdir));
  const manifest = {
    builtAt: new Date().toISOString(),
    builder: fileRecord(fileURLToPath(import.meta.url), outdir),
    inputs,
  };
  await writeFile(join(staging, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  const old = `${outdir}.${process.pid}.old`;
  if (existsSync(outdir)) await rename(outdir, old);
  await rename(staging, outdir);
  await rm(old, { recursive: true, force: true });
  return { outdir, inputs: inputs.length };
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  const command = process.argv[2];
  if (command === "build") {
    const started = Date.now();
    const { inputs } = await buildDist();
    console.log(`codex-pipeline: dist/ built from ${inputs} sources in ${Date.now() - started} ms`);
  } else if (command === "check") {
    const state = distState();
    if (!state.current) {
      console.error(`codex-pipeline: dist/ is not current (${state.reason}); run pnpm install`);
      process.exitCode = 1;
    } else console.log("codex-pipeline: dist/ is current");
  } else {
    console.error("usage: node scripts/dist.mjs build|check");
    process.exitCode = 2;
  }
}
