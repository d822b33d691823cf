#!/usr/bin/env node
// The codex-pipeline CLI. It runs dist/cli.js, the sources compiled by `pnpm install` (the
// package's prepare script, scripts/dist.mjs), when dist/ holds the sources as they are; after a
// source changed, it says so in one line and runs the sources through tsx, so that an edit is
// never run stale. The tests and the Dagger module go through this file too.
import { distState } from "../scripts/dist.mjs";

const dist = distState();
let main;
if (dist.current) {
  ({ main } = await import("../dist/cli.js"));
} else {
  process.stderr.write(
    `codex-pipeline: running the TypeScript sources through tsx (${dist.reason}; pnpm install compiles them)\n`,
  );
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../src/cli.ts"));
}
process.exitCode = await main(process.argv.slice(2));
