/**
 * The local target's state folder (.codex/ at the repo root, or CODEX_STATE_DIR): the Postgres
 * data, the resident host's pid/port/log, each environment's derived configs, bundles, versions
 * and summaries, and the registry of environments the host serves.
 */
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import lockfile from "proper-lockfile";
import { PipelineError, userError } from "./errors";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
export const DEFAULT_PORT = 8787;

export interface StatePaths {
  root: string;
  pgData: string;
  hostFile: string;
  hostLog: string;
  registry: string;
  locks: string;
  builds: string;
  env(name: string): string;
}

export function statePaths(
  root = process.env.CODEX_STATE_DIR ?? join(REPO_ROOT, ".codex"),
): StatePaths {
  const abs = resolve(root);
  return {
    root: abs,
    pgData: join(abs, "pg"),
    hostFile: join(abs, "host.json"),
    hostLog: join(abs, "host.log"),
    registry: join(abs, "registry.json"),
    locks: join(abs, "locks"),
    builds: join(abs, "builds"),
    env: (name) => join(abs, "envs", name),
  };
}

/** Writes a file so that readers see the old or the new content, never half of one. */
export async function writeFileAtomic(path: string, content: string, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${crypto.randomUUID()}.tmp`;
  await writeFile(temp, content, { mode });
  await rename(temp, path);
}

export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new PipelineError("CONFIG_INVALID", `${path} is not valid JSON`, {
      cause: error,
      hint: "Delete it (or run `pnpm cleanup --pr N`) and run the command again.",
    });
  }
}

export async function removeDir(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

/**
 * Runs `fn` holding the named lock. Runs for the same environment are serialized: a second run
 * waits for the first (up to `waitMs`), then fails with a clear message. A lock whose holder died
 * (kill -9) goes stale after 10 s and is taken over.
 */
export async function withLock<T>(
  paths: StatePaths,
  name: string,
  fn: () => Promise<T>,
  waitMs = 10 * 60_000,
): Promise<T> {
  await mkdir(paths.locks, { recursive: true });
  const target = join(paths.locks, `${name}.lock-target`);
  await writeFile(target, "", { flag: "a" });
  const retries = Math.max(1, Math.ceil(waitMs / 500));
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(target, {
      stale: 10_000,
      update: 2_000,
      retries: { retries, minTimeout: 500, maxTimeout: 500, factor: 1 },
      realpath: false,
    });
  } catch (error) {
    throw userError(
      "LOCKED",
      `another run holds the lock for ${name}`,
      "Wait for it to finish; a lock left by a killed run expires after 10 seconds.",
    ).withCause(error);
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => {});
  }
}
