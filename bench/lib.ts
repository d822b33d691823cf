/**
 * Shared helpers for the benchmarks in this folder: flags, throwaway state folders ("sandboxes")
 * with their own local host, running the codex-pipeline CLI and timing it, stopping a host and
 * everything it started, the process tree and its memory, and plain-text tables.
 *
 * Nothing here asserts anything: the benchmarks print figures.
 */
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { freePort } from "../packages/database/src/embedded.ts";
import {
  BUILD_PATHS,
  descendants,
  isAlive,
  killTracked,
  run,
  statePaths,
  stopHost as stopPipelineHost,
  withLock,
} from "@codex/pipeline";

export { freePort, descendants, isAlive as alive };

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** The CLI of a checkout of this repository (this one, or another commit's worktree). */
export function cliOf(checkout: string): string {
  return join(checkout, "packages", "pipeline", "bin", "codex-pipeline.js");
}
export const CLI = cliOf(REPO);

/** Runs `fn` holding the pipeline's build lock, so that no build rewrites .svelte-kit meanwhile. */
export function withBuildLock<T>(fn: () => Promise<T>): Promise<T> {
  return withLock(BUILD_PATHS, "build", fn);
}

/** The little of postgres.js that the benchmarks use. */
export interface Sql {
  unsafe<T = Record<string, unknown>[]>(query: string): Promise<T>;
  end(options?: { timeout?: number }): Promise<void>;
}
export type Postgres = (url: string, options?: Record<string, unknown>) => Sql;

/** postgres.js, resolved the way the pipeline resolves it (bench/ has no dependencies of its own). */
export function loadPostgres(): Postgres {
  const require = createRequire(join(REPO, "packages", "pipeline", "package.json"));
  return require("postgres") as Postgres;
}

// ---------------------------------------------------------------------------------------------
// Flags

type FlagSpec = Record<string, { type: "string" | "boolean"; default?: string | boolean }>;

/** Parses the script's flags plus the common ones (--quick, --verbose, --keep, --help). */
export function flags<T extends FlagSpec>(usage: string, spec: T) {
  const { values: parsed } = parseArgs({
    args: process.argv.slice(2),
    options: {
      quick: { type: "boolean", default: false },
      verbose: { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
      ...spec,
    },
    strict: true,
    allowPositionals: false,
  });
  const values = parsed as Record<string, string | boolean | undefined>;
  if (values.help) {
    console.log(usage.trim());
    process.exit(0);
  }
  verbose = values.verbose === true;
  keep = values.keep === true;
  return values;
}

let verbose = false;
let keep = false;

export function intFlag(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
}

export function listFlag(value: unknown, fallback: number[], name: string): number[] {
  if (value === undefined) return fallback;
  const list = String(value)
    .split(",")
    .map((s) => Number(s.trim()));
  if (!list.length || list.some((n) => !Number.isFinite(n) || n <= 0)) {
    throw new Error(`--${name} must be a comma-separated list of positive numbers`);
  }
  return list;
}

/** Progress goes to stderr, so that stdout holds only the figures. */
export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// Cleanup: on success, on error, and on SIGINT/SIGTERM

const cleanups = new Map<number, () => Promise<void>>();
let nextCleanup = 0;

/** Registers `fn` to run at exit (last registered runs first); returns a function to unregister. */
export function onCleanup(fn: () => Promise<void>): () => void {
  const id = nextCleanup++;
  cleanups.set(id, fn);
  return () => {
    cleanups.delete(id);
  };
}

let cleaning: Promise<void> | undefined;
function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    killTracked("SIGTERM");
    const ids = [...cleanups.keys()].sort((a, b) => b - a);
    for (const id of ids) {
      const fn = cleanups.get(id);
      cleanups.delete(id);
      await fn?.().catch((error: unknown) => note(`cleanup: ${(error as Error).message}`));
    }
  })();
  return cleaning;
}

/** Runs a benchmark's main function; cleans up whatever it started, however it ends. */
export function runBench(main: () => Promise<void>): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      note(`${signal} again: exiting without finishing the cleanup`);
      process.exit(130);
    }
    signalled = true;
    note(`\n${signal}: stopping what this benchmark started…`);
    void cleanupAll().finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  main().then(
    () => cleanupAll().then(() => process.exit(0)),
    (error: unknown) => {
      if (signalled) return;
      note(`\nbenchmark failed: ${error instanceof Error ? error.message : String(error)}`);
      void cleanupAll().finally(() => process.exit(1));
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Temp folders

/** A temp folder that Postgres (run as the `postgres` user when we are root) can traverse. */
export async function tempDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `codex-bench-${label}-`));
  await chmod(dir, 0o755);
  return dir;
}

export async function removeDir(dir: string): Promise<void> {
  if (keep) {
    note(`kept ${dir} (--keep)`);
    return;
  }
  await rm(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// Sandboxes: a state folder and a port of their own, so that nothing touches <repo>/.codex

export interface Sandbox {
  dir: string;
  port: number;
  /** The checkout whose CLI runs in this sandbox (REPO unless another design is measured). */
  checkout: string;
  dispose(): Promise<void>;
}

export async function createSandbox(label: string, checkout = REPO): Promise<Sandbox> {
  const dir = await tempDir(label);
  // CODEX_PORT: the port to use (on a shared machine, the one you were given); else a free one.
  const port = process.env.CODEX_PORT ? Number(process.env.CODEX_PORT) : await freePort();
  let disposed = false;
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    unregister();
    await stopHost(dir);
    await removeDir(dir);
  };
  const unregister = onCleanup(dispose);
  return { dir, port, checkout, dispose };
}

export interface Step {
  name: string;
  ms: number;
}

export interface CliResult {
  code: number;
  ms: number;
  stdout: string;
  stderr: string;
  steps: Step[];
}

/** "850 ms", "1.2 s", "1 min 5 s", "1 h 3 min" (the pipeline's formatDuration) back to milliseconds. */
export function parseDuration(text: string): number | undefined {
  let m = /^(\d+) ms$/.exec(text);
  if (m) return Number(m[1]);
  m = /^([\d.]+) s$/.exec(text);
  if (m) return Number(m[1]) * 1000;
  m = /^(\d+) min (\d+) s$/.exec(text);
  if (m) return Number(m[1]) * 60_000 + Number(m[2]) * 1000;
  m = /^(\d+) h (\d+) min$/.exec(text);
  if (m) return Number(m[1]) * 3_600_000 + Number(m[2]) * 60_000;
  return undefined;
}

/** The "  ✓ step (1.2 s) — detail" lines of the CLI's progress output. */
export function parseSteps(output: string): Step[] {
  const steps: Step[] = [];
  for (const line of output.split("\n")) {
    const m = /^\s+✓ (.+?) \(([^)]+)\)(?: — .*)?$/.exec(line);
    const ms = m?.[2] === undefined ? undefined : parseDuration(m[2]);
    if (m?.[1] !== undefined && ms !== undefined) steps.push({ name: m[1], ms });
  }
  return steps;
}

/** Failed CLI runs that were retried (with their first error line), for the output's notes. */
export const retried: string[] = [];

/**
 * Runs `codex-pipeline <args>` and times it, from spawn to exit. With `retries`, a failed run is
 * noted (see `retried`) and run again; the time is the successful attempt's.
 */
export async function runCli(
  sandbox: Sandbox,
  args: string[],
  options: { retries?: number } = {},
): Promise<CliResult> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await runCliOnce(sandbox, args);
    } catch (error) {
      if (attempt >= (options.retries ?? 0) || cleaning) throw error;
      const reason = failureReason(error);
      retried.push(`${args.join(" ")}: ${reason}`);
      note(`  retrying after a failure of codex-pipeline ${args.join(" ")}: ${reason}`);
    }
  }
}

/** The CLI's "error: ..." line and the two lines after it, from a runCli failure. */
export function failureReason(error: unknown): string {
  const lines = (error as Error).message.split("\n").filter((l) => l.trim());
  const at = Math.max(
    0,
    lines.findIndex((l) => /^error:/.test(l)),
  );
  return lines
    .slice(at, at + 3)
    .map((l) => l.trim())
    .join(" | ")
    .slice(0, 400);
}

/** A note for the output when any run was retried. */
export function retriedNote(): string[] {
  if (!retried.length) return [];
  return [
    "",
    `${retried.length} CLI run(s) failed and were retried (times are of the successful attempt):`,
    ...retried.map((r) => `  ${r}`),
  ];
}

async function runCliOnce(sandbox: Sandbox, args: string[]): Promise<CliResult> {
  const started = performance.now();
  const result = await run(process.execPath, [cliOf(sandbox.checkout), ...args], {
    cwd: sandbox.checkout,
    env: {
      ...process.env,
      CODEX_STATE_DIR: sandbox.dir,
      CODEX_PORT: String(sandbox.port),
      NO_COLOR: "1",
    },
    ...(verbose ? { onLine: (line: string) => process.stderr.write(`${line}\n`) } : {}),
  });
  const { code, stdout, stderr } = result;
  if (code !== 0) {
    const tail = `${stdout}\n${stderr}`.trim().split("\n").slice(-25).join("\n");
    throw new Error(`codex-pipeline ${args.join(" ")} exited ${code}:\n${tail}`);
  }
  return { code, ms: performance.now() - started, stdout, stderr, steps: parseSteps(stdout) };
}

export interface HostInfo {
  pid: number;
  port: number;
  controlPort: number;
  pgPort: number;
}

export async function hostInfo(dir: string): Promise<HostInfo | undefined> {
  const text = await readFile(join(dir, "host.json"), "utf8").catch(() => undefined);
  return text ? (JSON.parse(text) as HostInfo) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Processes

/**
 * Stops the sandbox's host the way the pipeline does (POST /shutdown, which stops Miniflare and
 * Postgres, then whatever of its tree is left).
 */
export async function stopHost(dir: string): Promise<void> {
  await stopPipelineHost(statePaths(dir));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Memory {
  rssKb: number;
  pssKb: number;
}

/** VmRSS from /proc/<pid>/status, and Pss (shared pages split between sharers) when readable. */
export function memoryOf(pid: number): Memory {
  let rssKb = 0;
  let pssKb = 0;
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    rssKb = Number(m?.[1] ?? 0);
  } catch {
    // Gone.
  }
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    pssKb = Number(m?.[1] ?? 0);
  } catch {
    pssKb = rssKb;
  }
  return { rssKb, pssKb };
}

// ---------------------------------------------------------------------------------------------
// Figures

export function min(values: number[]): number {
  return Math.min(...values);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] ?? NaN)
    : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

export const seconds = (ms: number, digits = 2) => (ms / 1000).toFixed(digits);
export const mb = (kb: number) => (kb / 1024).toFixed(0);

/** A plain table: columns of figures right-aligned, the others (and the first) left-aligned. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = headers.map(
    (_, i) => i > 0 && rows.every((r) => /^[-\d.,x%/ yn()]*$/.test(r[i] ?? "")),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export function machine(): string {
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const cpus = readFileSync("/proc/cpuinfo", "utf8").match(/^processor\s*:/gm)?.length ?? 0;
  return `node ${process.version}, ${cpus} CPUs, load average ${load}`;
}

export function fileExists(path: string): boolean {
  return existsSync(path);
}
