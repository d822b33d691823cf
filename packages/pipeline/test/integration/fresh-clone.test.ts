/**
 * A newcomer's first run, on a copy of this checkout with nothing built or generated: what
 * `git clone` gives (the files git knows of, none that it ignores). The copy lives in a folder
 * that only its owner may enter (mkdtemp makes it 0700), as root's home folder or a CI workspace
 * is: as root, Postgres runs as the `postgres` user, which cannot enter it.
 *
 * 1. `pnpm install` leaves what `svelte-kit sync` generates (its prepare script). Without it (as
 *    before that script), the preview's test step fails before any test, and the terminal and
 *    the summary name the file and the error.
 * 2. `pnpm install` again puts it back, and the preview deploys and its URL answers.
 */
import { existsSync } from "node:fs";
import { lstat, mkdtemp, readdir, readFile, readlink, realpath, rm, stat } from "node:fs/promises";
import { reachableRoots } from "@codex/database/embedded";
import { request } from "node:http";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyCheckout, explain, freePort, runCommand as run } from "./cli";

let parent: string;
let clone: string;
let port: number;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), "codex-fresh-"));
  clone = await copyCheckout(parent);
  port = await freePort();
  env = { ...process.env, CODEX_PORT: String(port), NO_COLOR: "1" };
  // Nothing of this checkout's own state may leak in.
  delete env.CODEX_STATE_DIR;
  delete env.CODEX_NESTED_RUN;
}, 120_000);

afterAll(async () => {
  if (!clone) return;
  await run(process.execPath, ["packages/pipeline/bin/codex-pipeline.js", "stop"], clone, env);
  // As root, Postgres's files were moved out of the closed folder: remove them too.
  const moved = await readlink(join(clone, ".codex", "pg")).catch(() => undefined);
  if (moved) await rm(dirname(moved), { recursive: true, force: true });
  await rm(parent, { recursive: true, force: true });
}, 120_000);

describe("a fresh clone, in a folder only its owner may enter", () => {
  it("is in such a folder", async () => {
    expect((await stat(parent)).mode & 0o777).toBe(0o700);
    expect(existsSync(join(clone, "apps", "web", ".svelte-kit"))).toBe(false);
  });

  it("without what svelte-kit sync makes, the preview's test step fails naming the file and the error", async () => {
    const install = await run("pnpm", ["install", "--offline", "--frozen-lockfile"], clone, env);
    expect(install.code, explain(install)).toBe(0);
    // `pnpm install` ran the web app's prepare script: the workspace is ready for every command.
    expect(existsSync(join(clone, "apps", "web", ".svelte-kit", "tsconfig.json"))).toBe(true);
    // As it was before the prepare script: nothing generated.
    await rm(join(clone, "apps", "web", ".svelte-kit"), { recursive: true });

    const deploy = await run(
      process.execPath,
      ["packages/pipeline/bin/codex-pipeline.js", "preview-deploy", "--pr", "1"],
      clone,
      env,
    );
    expect(deploy.code, explain(deploy)).toBe(1);
    // The step that failed says so, and why in one line.
    expect(deploy.stdout).toMatch(/✗ run the platform tests against the branch \(.*\) — .+/);
    // The error names the file and the first lines of what went wrong.
    expect(deploy.stderr).toMatch(/apps\/web\/test\/build-setup\.ts/);
    expect(deploy.stderr).toMatch(/tsconfig/i);
    expect(deploy.stderr).not.toMatch(/^error: 1 test\(s\) failed:\s*$/m);
    const summary = await readFile(
      join(clone, ".codex", "envs", "preview-1", "summary.md"),
      "utf8",
    );
    expect(summary).toMatch(/apps\/web\/test\/build-setup\.ts/);
    expect(summary).toMatch(/\| run the platform tests against the branch \| failed \|/);
  });

  it("installed again as the README says, the preview deploys and its URL answers", async () => {
    const install = await run("pnpm", ["install", "--offline", "--frozen-lockfile"], clone, env);
    expect(install.code, explain(install)).toBe(0);
    expect(existsSync(join(clone, "apps", "web", ".svelte-kit", "tsconfig.json"))).toBe(true);

    const deploy = await run(
      process.execPath,
      ["packages/pipeline/bin/codex-pipeline.js", "preview-deploy", "--pr", "1", "--skip-tests"],
      clone,
      env,
    );
    expect(deploy.code, explain(deploy)).toBe(0);
    expect(deploy.stdout).toContain(`web      http://pr-1.localhost:${port}`);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port, path: "/", headers: { host: `pr-1.localhost:${port}` } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(200);

    const described = await run(
      process.execPath,
      ["packages/pipeline/bin/codex-pipeline.js", "status"],
      clone,
      env,
    );
    expect(described.code, explain(described)).toBe(0);
    if (userInfo().uid === 0) {
      // Root's Postgres could not enter the closed folder: status says where its files went.
      expect(described.stdout).toMatch(
        /Postgres data: \S+ \(not in .*is closed to the "postgres" user/,
      );
    }
    expect(described.stdout).toMatch(/preview-1 +v1 +pr_1 +healthy/);
  });

  it("as root, the copy of Postgres's binaries depends on nothing in this clone, which may go", async () => {
    if (userInfo().uid !== 0) return; // only root's Postgres runs as another user
    const copies: string[] = [];
    for (const root of reachableRoots()) {
      for (const entry of await readdir(root).catch(() => [] as string[]))
        if (entry.startsWith("postgres-binaries-")) copies.push(join(root, entry));
    }
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      for (const entry of await readdir(copy, { recursive: true })) {
        const path = join(copy, entry);
        if (!(await lstat(path)).isSymbolicLink()) continue;
        expect(await realpath(path), path).toMatch(new RegExp(`^${copy}/`));
      }
    }
  });
});
