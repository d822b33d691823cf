/**
 * The CLI runs compiled: `pnpm install` on a clone builds dist/ (the package's prepare script),
 * the CLI runs it, and after a source changes it says so and runs the sources through tsx rather
 * than stale code. On a copy of the checkout (copyCheckout), since a source is edited.
 */
import { existsSync } from "node:fs";
import { appendFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, copyCheckout, explain, runCommand } from "./cli";

let parent: string;
let clone: string;
const CHECK = join("packages", "pipeline", "scripts", "dist.mjs");

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), "codex-compiled-"));
  clone = await copyCheckout(parent, { install: true });
});
afterAll(async () => {
  if (parent) await rm(parent, { recursive: true, force: true });
});

describe("the compiled CLI", () => {
  it("is built by pnpm install, is current, and runs without tsx", async () => {
    expect(existsSync(join(clone, "packages", "pipeline", "dist", "cli.js"))).toBe(true);
    const check = await runCommand(process.execPath, [CHECK, "check"], clone);
    expect(check.code, explain(check)).toBe(0);
    const help = await runCommand(process.execPath, [CLI, "--help"], clone);
    expect(help.code, explain(help)).toBe(0);
    expect(help.stdout).toMatch(/usage: codex-pipeline <command>/);
    expect(help.stderr).toBe("");
  });

  it("after a source changed, says so in one line and runs the sources, never the stale bundle", async () => {
    await appendFile(
      join(clone, "packages", "pipeline", "src", "cli.ts"),
      '\nconsole.error("edited source ran");\n',
    );
    const check = await runCommand(process.execPath, [CHECK, "check"], clone);
    expect(check.code).toBe(1);
    expect(check.stderr).toMatch(/dist\/ is not current \(\.\.\/src\/cli\.ts changed\)/);
    const help = await runCommand(process.execPath, [CLI, "--help"], clone);
    expect(help.code, explain(help)).toBe(0);
    expect(help.stderr.split("\n").filter(Boolean)).toEqual([
      "codex-pipeline: running the TypeScript sources through tsx (../src/cli.ts changed; pnpm install compiles them)",
      "edited source ran",
    ]);
  });
});
