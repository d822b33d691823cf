/**
 * Running commands: every tool the pipeline starts (vite, wrangler, vitest, Playwright, pnpm
 * check) and the benchmarks' CLI runs go through here. A command runs as the leader of a process
 * group of its own (stdin closed, output piped) and is tracked until it ends: if this command is
 * interrupted (SIGINT, SIGTERM), the handler stops it and everything it started (wrangler's
 * esbuild and workerd, vitest's workers, Playwright's Chromium) with it, instead of leaving them
 * running. A failure is structured, as Dagger's ExecError is: the command, its exit code or
 * signal, and the end of its output.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { PipelineError, type ErrorCode } from "./errors";
import { killGroup } from "./local/processes";

// Process groups this command started and has not seen finish: stopped if it is interrupted.
const running = new Set<number>();

/** Stops every tracked child group; for SIGINT and SIGTERM handlers. */
export function killTracked(signal: NodeJS.Signals = "SIGKILL"): void {
  for (const pgid of running) killGroup(pgid, signal);
  running.clear();
}

/** The exit code a command stopped by its timeout reports (as coreutils' timeout does). */
export const TIMED_OUT = 124;

export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Stops the command (and its children) after this long; it then exits with TIMED_OUT. */
  timeoutMs?: number;
  /** Each line of output (stdout and stderr) as it arrives. */
  onLine?: (line: string) => void;
  /** Called with the command's process group once it started. */
  onStart?: (pgid: number) => void | Promise<void>;
}

export interface ExecResult {
  /** The exit code; 127 when the command could not start, TIMED_OUT when its timeout stopped it. */
  code: number;
  /** The signal that ended the command, if one did. */
  signal?: NodeJS.Signals;
  stdout: string;
  stderr: string;
  /** stdout and stderr as they came, interleaved. */
  output: string;
}

/** The last `count` non-empty lines of `text`. */
export function lastLines(text: string, count: number): string[] {
  return text
    .split("\n")
    .map((line) => line.trimEnd())
    .filter(Boolean)
    .slice(-count);
}

/** Runs a command to completion; never rejects on a non-zero exit (the caller reads `code`). */
export function run(
  command: string,
  args: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(command, [...args], {
      cwd: options.cwd,
      env: options.env,
      detached: process.platform !== "win32",
      stdio: ["ignore", "pipe", "pipe"],
    }) as unknown as ChildProcessWithoutNullStreams;
    const pgid = child.pid;
    if (pgid !== undefined) running.add(pgid);
    const started = pgid === undefined ? undefined : options.onStart?.(pgid);
    const out = { stdout: "", stderr: "", output: "" };
    for (const stream of ["stdout", "stderr"] as const) {
      let partial = "";
      child[stream].on("data", (chunk: Buffer) => {
        const text = chunk.toString("utf8");
        out[stream] += text;
        out.output += text;
        if (!options.onLine) return;
        const lines = (partial + text).split("\n");
        partial = lines.pop() ?? "";
        lines.forEach(options.onLine);
      });
      child[stream].on("end", () => partial && options.onLine?.(partial));
    }
    let timedOut = false;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            if (pgid !== undefined) killGroup(pgid);
            else child.kill("SIGKILL");
          }, options.timeoutMs);
    const finish = (result: ExecResult) => {
      clearTimeout(timer);
      if (pgid !== undefined) running.delete(pgid);
      void Promise.resolve(started).finally(() => resolve(result));
    };
    child.on("error", (error) =>
      finish({
        code: 127,
        stdout: out.stdout,
        stderr: out.stderr + error.message,
        output: out.output + error.message,
      }),
    );
    child.on("close", (code, signal) => {
      if (timedOut) {
        const seconds = Math.round((options.timeoutMs ?? 0) / 1000);
        finish({ ...out, code: TIMED_OUT, stderr: `${out.stderr}\nno answer within ${seconds} s` });
      } else finish({ ...out, code: code ?? 1, ...(signal ? { signal } : {}) });
    });
  });
}

/** A command that failed: what ran, how it ended, and the end of its output. */
export class ExecError extends PipelineError {
  override name = "ExecError";

  constructor(
    code: ErrorCode,
    what: string,
    readonly command: readonly string[],
    readonly result: ExecResult,
    readonly tail: readonly string[],
  ) {
    super(code, `${what} failed:\n${tail.join("\n")}`);
  }
}

/**
 * Runs a command and rejects with an {@link ExecError} (`code`, "<what> failed:" and the last
 * `tailLines` lines of its output) unless it exits 0.
 */
export async function exec(
  command: string,
  args: readonly string[],
  failure: { code: ErrorCode; what: string; tailLines?: number },
  options: ExecOptions = {},
): Promise<ExecResult> {
  const result = await run(command, args, options);
  if (result.code === 0) return result;
  const tail = lastLines(result.output, failure.tailLines ?? 20);
  throw new ExecError(failure.code, failure.what, [command, ...args], result, tail);
}
