/**
 * Running the real `wrangler` CLI for one Worker of the stack, and reading what it says: the
 * pinned wrangler's bin, its environment (our credentials, never the secrets), and the messages
 * a failed run gives.
 */
import { createRequire } from "node:module";
import { join } from "node:path";
import { WORKER_DIRS } from "../../../build";
import { deriveStack, loadStack, type WorkerKind } from "../../../core/derive";
import type { Environment } from "../../../core/environments";
import { createScrubber } from "../../../core/scrub";
import { SECRET_NAMES } from "../../../core/secrets";
import type { ErrorCode } from "../../../errors";
import { TIMED_OUT, run } from "../../../exec";
import { REPO_ROOT } from "../../../state";
import type { ApiOptions } from "./api";

export const WRANGLER_FAILED: ErrorCode = "CLOUD_FAILED";

// Cloudflare's "script not found" and "service not found": what deleting a deleted Worker says.
export const NOT_FOUND_CODES = /\[code: (?:10007|10090)\]/;

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Stops the command (and its children) after this long; it then exits with TIMED_OUT. */
  timeoutMs?: number;
}

/** How long one wrangler command may take: CODEX_WRANGLER_TIMEOUT_MS, 10 minutes by default. */
export const WRANGLER_TIMEOUT_MS = 600_000;

/** Runs a command to completion; never rejects on a non-zero exit (the caller reads `code`). */
export type CommandRunner = (
  command: string,
  args: readonly string[],
  options: RunOptions,
) => Promise<CommandResult>;

/** Runs wrangler: exec.ts's runner, in a process group of its own that a timeout stops. */
export const runCommand: CommandRunner = run;

export interface WranglerOptions extends ApiOptions {
  /** How long one wrangler command may take before it is stopped; 10 minutes by default. */
  commandTimeoutMs?: number;
  /** Runs wrangler; tests inject a recording runner. */
  run?: CommandRunner;
}

/** wrangler for one account: each call runs one command in the directory of a Worker. */
export class Wrangler {
  constructor(private readonly options: WranglerOptions) {}

  /** wrangler's environment: ours, minus secrets and other Cloudflare credentials, plus the target's. */
  private env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    const secret = new RegExp(`^(?:${SECRET_NAMES.join("|")})(?:_|$)`);
    for (const [key, value] of Object.entries(process.env)) {
      if (secret.test(key) || key.startsWith("CLOUDFLARE_")) continue;
      env[key] = value;
    }
    return {
      ...env,
      CLOUDFLARE_API_TOKEN: this.options.apiToken,
      CLOUDFLARE_ACCOUNT_ID: this.options.accountId,
      ...(this.options.apiBaseUrl ? { CLOUDFLARE_API_BASE_URL: this.options.apiBaseUrl } : {}),
      WRANGLER_SEND_METRICS: "false",
      // Debug output and the debug log file wrangler always writes would otherwise be able to
      // hold request bodies, secret bindings included.
      WRANGLER_LOG: "log",
      WRANGLER_LOG_SANITIZE: "true",
      CI: "true",
      NO_COLOR: "1",
    };
  }

  run(kind: WorkerKind, args: string[]): Promise<CommandResult> {
    return this.runIn(WORKER_DIRS[kind], args);
  }

  /** Runs wrangler in `cwd`: a Worker that is not part of the stack (the report Worker). */
  runIn(cwd: string, args: string[]): Promise<CommandResult> {
    // wrangler's own bin, run by this Node: `pnpm exec` would cost a second per call.
    return (this.options.run ?? runCommand)(process.execPath, [wranglerBin(), ...args], {
      cwd,
      env: this.env(),
      timeoutMs: this.options.commandTimeoutMs ?? WRANGLER_TIMEOUT_MS,
    });
  }
}

/** The Worker names of `environment`, by kind, in deploy order, as this checkout's configs give them. */
export function workerNames(environment: Environment): { kind: WorkerKind; name: string }[] {
  return deriveStack(loadStack(REPO_ROOT), environment).workers.map((w) => ({
    kind: w.kind,
    name: w.name,
  }));
}

let resolvedWrangler: string | undefined;

/** The pinned wrangler's CLI script, as the repository's lockfile installed it. */
export function wranglerBin(): string {
  resolvedWrangler ??= createRequire(join(REPO_ROOT, "package.json")).resolve(
    "wrangler/bin/wrangler.js",
  );
  return resolvedWrangler;
}

/** "a, b and c", or "none". */
export function listNames(names: readonly string[]): string {
  if (names.length === 0) return "none";
  if (names.length === 1) return names[0] as string;
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}

/** "timed out", "exited with 1", or (for a deploy that exited 0) "printed no version id". */
export function describeExit(result: CommandResult): string {
  if (result.code === TIMED_OUT) return "timed out (Cloudflare did not answer in time)";
  return result.code !== 0 ? `exited with ${result.code}` : "printed no version id";
}

/** wrangler colours its errors even with NO_COLOR set. */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching terminal escape sequences is the point
  return text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "");
}

/**
 * The end of a command's output for an error message, with every known secret value (and a
 * database URL's password on its own) replaced, should wrangler ever echo one.
 */
export function tail(result: CommandResult, secrets: readonly string[]): string {
  return createScrubber(secrets)(stripAnsi(`${result.stdout}\n${result.stderr}`))
    .split("\n")
    .map((line) => line.trimEnd())
    .filter(Boolean)
    .slice(-20)
    .map((line) => `  ${line}`)
    .join("\n");
}
