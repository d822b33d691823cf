/**
 * Shared helpers for the benchmarks in this folder: flags, throwaway state folders ("sandboxes")
 * with their own local host, running the codex-pipeline CLI and timing it, stopping a host and
 * everything it started, the process tree and its memory, and plain-text tables.
 *
 * Nothing here asserts anything: the benchmarks print figures.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { freePort } from "../packages/database/src/embedded.ts";
import { BUILD_PATHS, withLock } from "@codex/pipeline";

export { freePort };

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const CLI = join(REPO, "packages", "pipeline", "bin", "codex-pipeline.js");

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
const children = new Set<ChildProcess>();

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
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    }
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
  dispose(): Promise<void>;
}

export async function createSandbox(label: string): Promise<Sandbox> {
  const dir = await tempDir(label);
  const port = await freePort();
  let disposed = false;
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    unregister();
    await stopHost(dir);
    await removeDir(dir);
  };
  const unregister = onCleanup(dispose);
  return { dir, port, dispose };
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

function runCliOnce(sandbox: Sandbox, args: string[]): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: REPO,
      env: {
        ...process.env,
        CODEX_STATE_DIR: sandbox.dir,
        CODEX_PORT: String(sandbox.port),
        NO_COLOR: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
      if (verbose) process.stderr.write(c);
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
      if (verbose) process.stderr.write(c);
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = performance.now() - started;
      children.delete(child);
      const result = { code: code ?? 1, ms, stdout, stderr, steps: parseSteps(stdout) };
      if (result.code !== 0) {
        const tail = `${stdout}\n${stderr}`.trim().split("\n").slice(-25).join("\n");
        reject(new Error(`codex-pipeline ${args.join(" ")} exited ${result.code}:\n${tail}`));
      } else resolvePromise(result);
    });
  });
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

export interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  /** Start time in clock ticks since boot: with the pid, identifies a process (pids are reused). */
  start: string;
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const rest = stat.slice(close + 2).split(" ");
    return { pid, ppid: Number(rest[1]), comm, start: rest[19] ?? "" };
  } catch {
    return undefined;
  }
}

export function processTable(): Map<number, Proc> {
  const table = new Map<number, Proc>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const proc = readProc(Number(entry));
    if (proc) table.set(proc.pid, proc);
  }
  return table;
}

/** `root` and all its descendants (walking ppid links in /proc). */
export function processTree(root: number, table = processTable()): Proc[] {
  const children = new Map<number, Proc[]>();
  for (const proc of table.values()) {
    const list = children.get(proc.ppid) ?? [];
    list.push(proc);
    children.set(proc.ppid, list);
  }
  const rootProc = table.get(root);
  if (!rootProc) return [];
  const out: Proc[] = [];
  const queue = [rootProc];
  for (let p = queue.shift(); p; p = queue.shift()) {
    out.push(p);
    queue.push(...(children.get(p.pid) ?? []));
  }
  return out;
}

function stillSame(proc: Proc): boolean {
  return readProc(proc.pid)?.start === proc.start;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(proc: Proc, sig: NodeJS.Signals): void {
  try {
    if (stillSame(proc)) process.kill(proc.pid, sig);
  } catch {
    // Gone already.
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export { sleep };

async function waitGone(procs: Proc[], ms: number): Promise<Proc[]> {
  const deadline = Date.now() + ms;
  let left = procs.filter(stillSame);
  while (left.length && Date.now() < deadline) {
    await sleep(100);
    left = left.filter(stillSame);
  }
  return left;
}

/** Processes started for the sandbox `dir`: its host (by environment and entry) and Postgres. */
function sandboxProcesses(dir: string): Proc[] {
  const found: Proc[] = [];
  for (const proc of processTable().values()) {
    try {
      const cmdline = readFileSync(`/proc/${proc.pid}/cmdline`, "utf8");
      if (cmdline.includes(`${join(dir, "pg")}`)) {
        found.push(proc);
        continue;
      }
      if (!cmdline.includes("host-main.ts")) continue;
      const environ = readFileSync(`/proc/${proc.pid}/environ`, "utf8").split("\0");
      if (environ.includes(`CODEX_STATE_DIR=${dir}`)) found.push(proc);
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found;
}

/**
 * Stops the sandbox's host the way the pipeline does (POST /shutdown, which stops Miniflare and
 * Postgres), then ends anything of its tree still alive, by pid: the host, then workerd and
 * Postgres (SIGINT to Postgres is its fast shutdown).
 */
export async function stopHost(dir: string): Promise<void> {
  const info = await hostInfo(dir);
  const table = processTable();
  const roots = new Map<number, Proc>();
  for (const p of sandboxProcesses(dir)) roots.set(p.pid, p);
  const hostProc = info ? table.get(info.pid) : undefined;
  if (hostProc && roots.has(hostProc.pid)) roots.set(hostProc.pid, hostProc);
  const tree = new Map<number, Proc>();
  for (const root of roots.values()) {
    for (const p of processTree(root.pid, table)) tree.set(p.pid, p);
  }
  if (!tree.size) return;
  if (info && roots.has(info.pid)) {
    await fetch(`http://127.0.0.1:${info.controlPort}/shutdown`, {
      method: "POST",
      signal: AbortSignal.timeout(5_000),
    }).catch(() => undefined);
  }
  const hosts = [...tree.values()].filter((p) => roots.has(p.pid) && p.comm !== "postgres");
  for (const p of await waitGone(hosts, 15_000)) signal(p, "SIGKILL");
  let left = await waitGone([...tree.values()], 2_000);
  for (const p of left) signal(p, p.comm === "postgres" ? "SIGINT" : "SIGTERM");
  left = await waitGone(left, 5_000);
  for (const p of left) signal(p, "SIGKILL");
}

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
