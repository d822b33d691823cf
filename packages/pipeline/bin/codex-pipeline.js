#!/usr/bin/env node
// The codex-pipeline CLI. The pipeline is TypeScript, run through tsx, so that the same sources
// serve the CLI, the tests and the Dagger module without a build step.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli.ts");
process.exitCode = await main(process.argv.slice(2));
