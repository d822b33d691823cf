/**
 * Environment names, and every provider-facing name derived from them, computed in one place.
 * Input from flags, configs and Host headers is validated here, before anything is created, so
 * that a bad PR number can never reach a Worker name, a Neon branch or a SQL identifier.
 */
import { userError } from "../errors";

export type EnvironmentKind = "production" | "staging" | "preview";

export interface Environment {
  /** "production", "staging" or "preview-<N>". */
  name: string;
  kind: EnvironmentKind;
  /** The pull request number; set for previews only. */
  pr?: number;
}

/** Postgres `int4` max: GitHub PR numbers fit, and so does anything we store them in. */
export const MAX_PR = 2_147_483_647;

/** Cloudflare's limit on a Worker (script) name. */
export const WORKER_NAME_MAX = 63;

const WORKER_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
// Digits only, no leading zero: "01" and "1" would otherwise name two environments for one PR.
const PR_DIGITS = /^[1-9][0-9]*$/;
const SHOWN_MAX = 40;
const ENVIRONMENT_FORMS = `"production", "staging" or "preview-<N>" (N a pull request number)`;

export const PRODUCTION: Environment = Object.freeze({ name: "production", kind: "production" });
export const STAGING: Environment = Object.freeze({ name: "staging", kind: "staging" });

/** The PR number, or undefined when the input is not canonical digits in 1..MAX_PR. */
function parsePr(pr: string | number): number | undefined {
  if (typeof pr === "number") {
    return Number.isInteger(pr) && pr >= 1 && pr <= MAX_PR ? pr : undefined;
  }
  if (typeof pr !== "string" || !PR_DIGITS.test(pr)) return undefined;
  // Compare as a number only once we know it is short: a 400-digit string would parse to Infinity.
  if (pr.length > String(MAX_PR).length) return undefined;
  const n = Number(pr);
  return n <= MAX_PR ? n : undefined;
}

/**
 * Shows untrusted input inside an error message: short, on one line, and unambiguous, so a
 * pasted log line or terminal escape sequence cannot garble the message that reports it.
 */
export function showInput(input: unknown): string {
  const text = String(input);
  const chars = Array.from(text); // by code point, so a surrogate pair is never cut in half
  const head = chars.length > SHOWN_MAX ? chars.slice(0, SHOWN_MAX).join("") + "…" : text;
  return head.replace(/[\p{Cc}\u2028\u2029"\\]/gu, (c) => {
    const named: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"' };
    if (c === "\\") return "\\\\";
    return named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

/** The preview environment of pull request `pr`, which must be a positive integer. */
export function previewEnvironment(pr: string | number): Environment {
  const n = parsePr(pr);
  if (n === undefined) {
    throw userError(
      "INVALID_PR",
      `--pr must be a positive integer (got "${showInput(pr)}")`,
      `Pass the pull request number as plain digits between 1 and ${MAX_PR}, for example --pr 123.`,
    );
  }
  return preview(n);
}

function preview(pr: number): Environment {
  return { name: `preview-${pr}`, kind: "preview", pr };
}

/**
 * The environment whose name ends `name` after `prefix` ("main" is production, "staging" is
 * staging, `<prefix><N>` is preview N), or undefined when it is none of ours.
 */
function environmentAfter(prefix: string, name: string, main: string): Environment | undefined {
  if (typeof name !== "string") return undefined;
  if (name === main) return { ...PRODUCTION };
  if (name === "staging") return { ...STAGING };
  const pr = name.startsWith(prefix) ? parsePr(name.slice(prefix.length)) : undefined;
  return pr === undefined ? undefined : preview(pr);
}

/** Parses an environment name: "production", "staging" or "preview-<N>". */
export function parseEnvironment(name: string): Environment {
  const environment = environmentAfter("preview-", name, "production");
  if (environment) return environment;
  throw userError(
    "INVALID_ENVIRONMENT",
    `unknown environment "${showInput(name)}": expected ${ENVIRONMENT_FORMS}`,
    `N is plain digits between 1 and ${MAX_PR}, for example preview-123.`,
  );
}

/** The environment named by the CLI flags: `--pr N` or `--environment NAME`, exactly one. */
export function environmentFromFlags(flags: { pr?: string; environment?: string }): Environment {
  const hasPr = flags.pr !== undefined;
  const hasEnvironment = flags.environment !== undefined;
  if (hasPr === hasEnvironment) {
    throw userError(
      "INVALID_ARGUMENT",
      hasPr
        ? "--pr and --environment cannot be used together"
        : "an environment is required: pass --pr N or --environment NAME",
      `Use --pr N for a pull request's preview, or --environment production|staging.`,
    );
  }
  return hasPr
    ? previewEnvironment(flags.pr as string)
    : parseEnvironment(flags.environment as string);
}

/**
 * Checks an Environment that may have been built by hand (or read back from state), so that every
 * name derived from it is derived from a checked value. A value the parsers made passes as it is,
 * without parsing its name again; the name is parsed only to say what is wrong with one.
 */
export function checkEnvironment(env: Environment): Environment {
  const { name, kind, pr } = env;
  const valid =
    kind === "preview"
      ? typeof pr === "number" && parsePr(pr) === pr && name === `preview-${pr}`
      : (kind === "production" || kind === "staging") && pr === undefined && name === kind;
  if (valid) return env;
  parseEnvironment(name);
  throw userError(
    "INVALID_ENVIRONMENT",
    `inconsistent environment: name "${showInput(name)}", kind "${showInput(kind)}", pr ${showInput(pr)}`,
  );
}

/** The Worker name of `baseName` in `env`: `<base>-production`, `<base>-staging`, `<base>-preview-<N>`. */
export function workerName(baseName: string, env: Environment): string {
  const name = `${baseName}-${checkEnvironment(env).name}`;
  if (name.length > WORKER_NAME_MAX) {
    throw userError(
      "NAME_TOO_LONG",
      `Worker name "${showInput(name)}" is ${name.length} characters; Cloudflare allows at most ${WORKER_NAME_MAX}`,
      `Shorten the Worker's base name "${showInput(baseName)}" in its wrangler config.`,
    );
  }
  if (!WORKER_NAME_PATTERN.test(name)) {
    throw userError(
      "INVALID_ENVIRONMENT",
      `Worker name "${showInput(name)}" (${name.length} characters, at most ${WORKER_NAME_MAX}) is not valid: ` +
        `use lowercase letters, digits and inner dashes only`,
      `Fix the Worker's base name "${showInput(baseName)}" in its wrangler config.`,
    );
  }
  return name;
}

/**
 * The environment of the Worker called `name` (workerName's inverse), given the stack's base
 * names, or undefined when it is none of ours.
 */
export function environmentFromWorker(
  name: string,
  baseNames: readonly string[],
): Environment | undefined {
  for (const base of baseNames) {
    const environment = name.startsWith(`${base}-`)
      ? environmentAfter("preview-", name.slice(base.length + 1), "production")
      : undefined;
    if (environment) return environment;
  }
  return undefined;
}

/**
 * The base name of the static-assets-only Worker that publishes an environment's e2e folder (the
 * Playwright report, screenshots and visual comparison images) on the cloud target.
 */
export const REPORT_WORKER_BASE = "codex-report";

/** The report Worker of `env`: `codex-report-preview-<N>` (31 characters at most). */
export function reportWorkerName(env: Environment): string {
  return workerName(REPORT_WORKER_BASE, env);
}

/** The environment whose report Worker is `name` (reportWorkerName's inverse), or undefined. */
export function environmentFromReportWorker(name: string): Environment | undefined {
  return environmentFromWorker(name, [REPORT_WORKER_BASE]);
}

/** "main" for production, "staging", or `<prefix><N>` for preview N: environmentAfter's inverse. */
function labelOf(env: Environment, prefix: string): string {
  const checked = checkEnvironment(env);
  if (checked.kind === "production") return "main";
  return checked.kind === "staging" ? "staging" : `${prefix}${checked.pr}`;
}

/** The Neon branch of `env`. Production is the project's default branch, "main". */
export function branchName(env: Environment): string {
  return labelOf(env, "pr-");
}

/** The environment whose Neon branch is `name` (branchName's inverse), or undefined if none. */
export function environmentFromBranch(name: string): Environment | undefined {
  return environmentAfter("pr-", name, "main");
}

/**
 * The local target's database for `env`: lowercase letters, digits and underscores only, so it
 * needs no quoting in `CREATE DATABASE ... TEMPLATE` and cannot inject anything.
 */
export function databaseName(env: Environment): string {
  return labelOf(env, "pr_");
}

/** The environment whose local database is `name` (databaseName's inverse), or undefined if none. */
export function environmentFromDatabase(name: string): Environment | undefined {
  return environmentAfter("pr_", name, "main");
}

/** The local target's hosts of one environment, all served on one port and routed by Host header. */
export interface Hostnames {
  web: string;
  auth: string;
  webhook: string;
}

const PRODUCTION_HOSTS = new Set(Object.values(localHostnames(PRODUCTION)));

/** Production owns the bare `localhost`; other environments prefix it with their short label. */
export function localHostnames(env: Environment): Hostnames {
  const checked = checkEnvironment(env);
  if (checked.kind === "production") {
    return { web: "localhost", auth: "auth.localhost", webhook: "webhook.localhost" };
  }
  const label = branchName(checked); // "staging" or "pr-<N>", as environmentFromHostname reads it
  return {
    web: `${label}.localhost`,
    auth: `${label}-auth.localhost`,
    webhook: `${label}-webhook.localhost`,
  };
}

/**
 * The environment name a local Host header belongs to (web, auth or webhook host; any port is
 * ignored), or undefined when it is none of ours.
 */
export function environmentFromHostname(host: string): string | undefined {
  // Host headers are case-insensitive and may carry a port and a trailing root dot.
  const hostname = host.trim().toLowerCase().replace(/:\d*$/, "").replace(/\.$/, "");
  if (PRODUCTION_HOSTS.has(hostname)) return "production";
  const label = /^(staging|pr-[0-9]+)(?:-auth|-webhook)?\.localhost$/.exec(hostname)?.[1];
  return label === undefined ? undefined : environmentFromBranch(label)?.name;
}
