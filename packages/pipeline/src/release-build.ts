/**
 * A release rebuilt from its commit, for the old-code check on a target that cannot give the
 * bundles it serves back (Cloudflare: the 2024 API document this project validates against has
 * no path that returns a version's modules). Every cloud deploy tags its Worker versions with
 * the commit it deployed (providers/workers/cloudflare/state.ts), so the code production serves
 * is that commit's sources, built as build.ts builds any checkout: the commit's files from git
 * (`git archive`, no work tree touched), its own lockfile installed (`pnpm install
 * --frozen-lockfile --prefer-offline`, from the store the current install filled), then vite and
 * `wrangler deploy --dry-run` on its own wrangler configs. The sources are removed afterwards;
 * the bundles are kept under the state folder, by commit and environment, so that a second
 * check of the same release (a rollback's, a re-run) builds nothing.
 *
 * What it needs: the commit in this clone's history (CI: `actions/checkout` with
 * `fetch-depth: 0`), git, and pnpm. Without the commit, the caller reports the check as skipped,
 * naming why.
 */
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildStack, type BuiltWorker } from "./build";
import { deriveStack, loadStack, type WranglerConfig } from "./core/derive";
import type { Environment } from "./core/environments";
import { exec, run } from "./exec";
import { readJson, REPO_ROOT, withLock, writeFileAtomic, type StatePaths } from "./state";

const JOURNAL = "packages/database/drizzle/meta/_journal.json";

/** A commit's bundles for one environment, as built (and kept) here. */
export interface CommitBuild {
  commit: string;
  /** Entries in the commit's drizzle journal: the migrations its code was written against. */
  migrations: number;
  workers: BuiltWorker[];
  assetsDir: string;
  /** Derived wrangler configs by Worker name. */
  configs: Record<string, WranglerConfig>;
}

/**
 * The full id of the commit `ref` (a hash or a prefix of one) in `repo`, or why it cannot be had:
 * no git, no repository (a Dagger source leaves .git out unless given), or a history without it
 * (a shallow CI checkout).
 */
export async function findCommit(
  ref: string,
  repo = REPO_ROOT,
): Promise<{ commit: string } | { missing: string }> {
  if (!/^[0-9a-f]{4,40}$/i.test(ref)) return { missing: `"${ref}" is not a commit hash` };
  const result = await run("git", ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], {
    cwd: repo,
  });
  const full = result.stdout.trim();
  if (result.code === 0 && /^[0-9a-f]{40}$/.test(full)) return { commit: full };
  if (result.code === 127) return { missing: "git is not installed here" };
  const inside = await run("git", ["rev-parse", "--git-dir"], { cwd: repo });
  if (inside.code !== 0) return { missing: `${repo} is not a git checkout` };
  return {
    missing: `this clone does not have commit ${ref} (a shallow checkout: fetch the full history, fetch-depth: 0)`,
  };
}

/** How many migrations the drizzle journal at `commit` lists; undefined without one. */
export async function migrationsAt(commit: string, repo = REPO_ROOT): Promise<number | undefined> {
  const result = await run("git", ["show", `${commit}:${JOURNAL}`], { cwd: repo });
  if (result.code !== 0) return undefined;
  try {
    const journal = JSON.parse(result.stdout) as { entries?: unknown[] };
    return Array.isArray(journal.entries) ? journal.entries.length : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The bundles of `commit` (a full id, see findCommit) for `environment`: kept ones when this
 * state folder built them before, else built now (about a minute: install, vite, three bundles).
 * One build per commit and environment at a time (a lock in `paths`).
 */
export async function buildCommit(input: {
  commit: string;
  environment: Environment;
  paths: StatePaths;
  repo?: string;
}): Promise<CommitBuild> {
  const { commit, environment, paths } = input;
  const repo = input.repo ?? REPO_ROOT;
  const dir = join(paths.root, "releases", `${commit.slice(0, 12)}-${environment.name}`);
  const record = join(dir, "release.json");
  return withLock(paths, `release-${commit.slice(0, 12)}-${environment.name}`, async () => {
    const kept = await readJson<CommitBuild>(record);
    if (kept?.commit === commit) return kept;
    await rm(dir, { recursive: true, force: true });
    // The sources go to a temporary folder outside any checkout: nothing (vitest, eslint, pnpm's
    // workspace lookup) mistakes them for part of this one.
    const sources = await mkdtemp(join(tmpdir(), `codex-release-${commit.slice(0, 12)}-`));
    try {
      const archive = `${sources}.tar`;
      await exec(
        "git",
        ["archive", "--format=tar", "-o", archive, commit],
        { code: "BUILD_FAILED", what: `git archive of ${commit.slice(0, 12)}` },
        { cwd: repo },
      );
      try {
        await exec(
          "tar",
          ["-xf", archive, "-C", sources],
          { code: "BUILD_FAILED", what: `unpacking ${commit.slice(0, 12)}` },
          {},
        );
      } finally {
        await rm(archive, { force: true });
      }
      await exec(
        "pnpm",
        ["install", "--frozen-lockfile", "--prefer-offline"],
        { code: "BUILD_FAILED", what: `installing ${commit.slice(0, 12)}'s dependencies` },
        { cwd: sources, env: { ...process.env, CI: "true", NO_COLOR: "1" } },
      );
      const stack = deriveStack(loadStack(sources), environment);
      const built = await buildStack(stack, commit, join(dir, "bundles"), sources);
      const journal = JSON.parse(await readFile(join(sources, JOURNAL), "utf8")) as {
        entries?: unknown[];
      };
      const result: CommitBuild = {
        commit,
        migrations: journal.entries?.length ?? 0,
        workers: built.workers,
        assetsDir: built.assetsDir,
        configs: Object.fromEntries(stack.workers.map((w) => [w.name, w.config])),
      };
      await mkdir(dir, { recursive: true });
      await writeFileAtomic(record, `${JSON.stringify(result, null, 2)}\n`);
      return result;
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    } finally {
      await rm(sources, { recursive: true, force: true });
    }
  });
}
