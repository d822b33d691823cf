/**
 * The Neon API client: its set-up, retries and error mapping. The only part of the Neon provider
 * that speaks HTTP, through Neon's official client (`@neondatabase/api-client`).
 *
 * Every call is retried on 429, 423, 5xx and network failures, with exponential backoff and
 * jitter (Retry-After wins when Neon sends it). Errors say what to do, and never carry the API
 * key: it lives only in the client's private headers, and any text Neon sends back is scrubbed.
 */
// The client library is imported on the first call: loading it takes a tenth of a second or
// more, which every command of the local target (that never calls Neon) would pay at start-up.
import type { Api } from "@neondatabase/api-client";
import { showInput } from "../../../core/environments";
import { createScrubber } from "../../../core/scrub";
import { PipelineError, userError, type ErrorCode, type ErrorKind } from "../../../errors";

export const NEON_API_HOST_DEFAULT = "https://console.neon.tech/api/v2";
/** What `pnpm cleanup` runs to free branch slots; shown when the project is full. */
export const NEON_SWEEP_COMMAND = "pnpm cleanup --stale --target cloud";

const DEFAULT_BASE_DELAY_MS = 500;
const MAX_BACKOFF_MS = 30_000;
/** Longer Retry-After values are clamped: a pipeline step should not sit silent for minutes. */
const MAX_RETRY_AFTER_MS = 60_000;
const DEFAULT_TIMEOUT_MS = 30_000;
// Failures worth another try: the request may not have reached Neon, or Neon dropped it.
// ECONNREFUSED and ENOTFOUND are left out: they mean a wrong NEON_API_HOST far more often.
const RETRIED_NETWORK_CODES = new Set([
  "ECONNABORTED",
  "ETIMEDOUT",
  "ECONNRESET",
  "EPIPE",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
]);

export interface NeonDatabaseBranchesOptions {
  apiKey: string;
  /** The project's ID (for example "autumn-sun-12345678"), not its display name. */
  projectId: string;
  /** The API base URL including `/api/v2` (NEON_API_HOST); Neon's own by default. */
  apiHost?: string;
  /** The database every branch URL points at; "neondb" by default (NEON_DATABASE_NAME). */
  databaseName?: string;
  /** The role every branch URL logs in as; "neondb_owner" by default (NEON_ROLE_NAME). */
  roleName?: string;
  /** Days until an untouched preview branch is deleted by Neon; 14 by default, at most 30. */
  ttlDays?: number;
  /** Attempts per API call (5 by default) and the first backoff delay (500 ms by default). */
  retry?: { attempts?: number; baseDelayMs?: number };
  /** Per-request timeout in ms (30 s by default); a timed-out request is retried. */
  timeoutMs?: number;
  /** Sleeps between retries and operation polls; tests inject one that records instead. */
  wait?: (ms: number) => Promise<void>;
  /** Progress lines (never holding a secret or a connection string). */
  log?: (line: string) => void;
}

/** What went wrong with one API call, with everything Neon said already scrubbed. */
interface Failure {
  /** The HTTP status, when Neon answered at all. */
  status?: number;
  /** Neon's error code (for example BRANCHES_LIMIT_EXCEEDED), or a network error's code. */
  code?: string;
  message: string;
  retryAfterMs?: number;
}

interface CallOptions<T> {
  /** The call names a project only, so a 404 can only mean the project is missing. */
  projectScoped?: boolean;
  /** Called instead of failing when Neon answers 404 about something other than the project. */
  onMissing?: () => T;
  /** Called instead of failing when Neon answers 409 (the thing already exists). */
  onConflict?: () => T;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class NeonApi {
  // Private fields stay out of util.inspect and JSON.stringify: the client's headers hold the key.
  #client: Promise<Api<unknown>> | undefined;
  readonly #clientOptions: { apiKey: string; timeoutMs: number };
  readonly #scrub: (text: string) => string;
  readonly #attempts: number;
  readonly #baseDelayMs: number;
  readonly projectId: string;
  readonly apiHost: string;
  readonly wait: (ms: number) => Promise<void>;
  readonly log: (line: string) => void;

  constructor(options: NeonDatabaseBranchesOptions, attempts: number) {
    this.apiHost = parseApiHost(options.apiHost ?? NEON_API_HOST_DEFAULT);
    this.#scrub = createScrubber([options.apiKey]);
    this.projectId = options.projectId;
    this.#attempts = attempts;
    this.#baseDelayMs = options.retry?.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
    this.wait = options.wait ?? sleep;
    this.log = options.log ?? (() => {});
    this.#clientOptions = {
      apiKey: options.apiKey,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    };
  }

  #api(): Promise<Api<unknown>> {
    this.#client ??= import("@neondatabase/api-client").then(({ createApiClient }) =>
      createApiClient({
        apiKey: this.#clientOptions.apiKey,
        baseURL: this.apiHost,
        timeout: this.#clientOptions.timeoutMs,
        // Never follow a redirect with the bearer token to another host.
        maxRedirects: 0,
      }),
    );
    return this.#client;
  }

  async call<T>(
    what: string,
    send: (client: Api<unknown>) => Promise<{ data: T }>,
    options: CallOptions<T> = {},
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let failure: Failure;
      try {
        return (await send(await this.#api())).data;
      } catch (error) {
        // Anything but an HTTP client error is a bug of ours: let it surface as it is.
        if (!isHttpClientError(error)) throw error;
        failure = describeFailure(error, this.#scrub);
      }
      if (failure.status === 404 && options.onMissing && !mentionsProject(failure)) {
        return options.onMissing();
      }
      if (failure.status === 409 && options.onConflict && !isBranchLimit(failure)) {
        return options.onConflict();
      }
      if (isRetryable(failure) && attempt < this.#attempts) {
        const delay = failure.retryAfterMs ?? this.#backoff(attempt);
        this.log(
          `neon: ${what} failed (${summary(failure)}); retrying in ${delay} ms ` +
            `(attempt ${attempt + 1} of ${this.#attempts})`,
        );
        await this.wait(delay);
        continue;
      }
      throw this.#error(what, failure, attempt, options.projectScoped === true);
    }
  }

  /** Exponential backoff with "equal jitter": half fixed, half random, so retries spread out. */
  #backoff(attempt: number): number {
    const ceiling = Math.min(MAX_BACKOFF_MS, this.#baseDelayMs * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  #error(what: string, failure: Failure, attempts: number, projectScoped: boolean): PipelineError {
    const cause = new Error(`Neon API, ${what}: ${summary(failure)}`);
    const make = (code: ErrorCode, kind: ErrorKind, message: string, hint?: string) =>
      new PipelineError(code, message, { kind, cause, ...(hint ? { hint } : {}) });
    const tries = attempts > 1 ? ` (gave up after ${attempts} attempts)` : "";
    const { status } = failure;

    if (isBranchLimit(failure)) {
      return make(
        "DATABASE_FAILED",
        "user",
        `Neon project "${this.projectId}" has reached its branches limit while ${what}: ${failure.message}`,
        `Delete preview branches that are no longer needed: ${NEON_SWEEP_COMMAND} (Free plans allow 10 branches per project).`,
      );
    }
    if (status === 401 || status === 403) {
      return make(
        "INVALID_ARGUMENT",
        "user",
        `NEON_API_KEY was refused by the Neon API (${status}) while ${what}: ${failure.message}`,
        NEON_API_KEY_HINT,
      );
    }
    if (
      status === 404 &&
      (mentionsProject(failure) || (projectScoped && !mentionsBranch(failure)))
    ) {
      return make(
        "NOT_FOUND",
        "user",
        `Neon project "${this.projectId}" not found: check NEON_PROJECT_ID`,
        NEON_PROJECT_HINT,
      );
    }
    if (status === 409) {
      return make("LOCKED", "user", `Neon refused ${what}: it conflicts (409): ${failure.message}`);
    }
    if (status === 423) {
      return make(
        "LOCKED",
        "user",
        `Neon project "${this.projectId}" is busy with other operations while ${what}${tries}: ${failure.message}`,
        "Wait for the running operations to finish (Operations in the Neon console), then retry.",
      );
    }
    if (status === 429) {
      return make(
        "DATABASE_FAILED",
        "system",
        `the Neon API kept rate-limiting us while ${what}${tries}`,
        "Too many Neon API calls at once (other pipelines sharing this key?): retry in a minute.",
      );
    }
    if (status !== undefined && status >= 500) {
      return make(
        "DATABASE_FAILED",
        "system",
        `the Neon API failed while ${what}: ${status} ${failure.message}${tries}`,
        "Neon may be having an incident (https://neonstatus.com): retry later.",
      );
    }
    if (status === undefined) {
      return make(
        "DATABASE_FAILED",
        "system",
        `could not reach the Neon API at ${this.apiHost} while ${what}: ${failure.message}${tries}`,
        "Check the network, and NEON_API_HOST if it is set.",
      );
    }
    if (status === 404 && /\b(?:database|role)\b/i.test(failure.message)) {
      return make(
        "NOT_FOUND",
        "user",
        `Neon refused ${what}: ${failure.message}`,
        "Set NEON_DATABASE_NAME and NEON_ROLE_NAME to a database and role of the project (Neon's defaults: neondb, neondb_owner).",
      );
    }
    return make(
      status === 404 ? "NOT_FOUND" : "DATABASE_FAILED",
      "system",
      `Neon refused ${what}: ${status}${failure.code ? ` ${failure.code}` : ""} ${failure.message}`,
    );
  }
}

export const NEON_API_KEY_HINT =
  "Create an API key in the Neon console (Account settings → API keys) with access to the project, and set NEON_API_KEY to it.";
export const NEON_PROJECT_HINT =
  "NEON_PROJECT_ID is the project's ID from Settings → General in the Neon console (for example autumn-sun-12345678), not its name.";

function parseApiHost(host: string): string {
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw userError(
      "INVALID_ARGUMENT",
      `NEON_API_HOST "${showInput(host)}" is not a URL`,
      `Use the API base URL including /api/v2, for example ${NEON_API_HOST_DEFAULT}.`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw userError(
      "INVALID_ARGUMENT",
      `NEON_API_HOST must be an http(s) URL (got ${url.protocol})`,
    );
  }
  if (url.username || url.password) {
    throw userError("INVALID_ARGUMENT", "NEON_API_HOST must not carry credentials");
  }
  return url.toString().replace(/\/+$/, "");
}

function describeFailure(error: unknown, scrub: (text: string) => string): Failure {
  const e = (typeof error === "object" && error !== null ? error : {}) as {
    response?: { status?: unknown; data?: unknown; headers?: unknown };
    code?: unknown;
    message?: unknown;
  };
  const status = e.response?.status;
  if (typeof status === "number") {
    const data = e.response?.data;
    const body = (typeof data === "object" && data !== null ? data : {}) as {
      code?: unknown;
      message?: unknown;
    };
    const text =
      typeof body.message === "string" && body.message !== ""
        ? body.message
        : typeof data === "string" && data !== ""
          ? data.slice(0, 300)
          : `HTTP ${status}`;
    const retryAfterMs = parseRetryAfter(header(e.response?.headers, "retry-after"));
    return {
      status,
      ...(typeof body.code === "string" && body.code !== "" ? { code: scrub(body.code) } : {}),
      message: scrub(text),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }
  return {
    ...(typeof e.code === "string" ? { code: e.code } : {}),
    message: scrub(typeof e.message === "string" ? e.message : String(error)),
  };
}

function header(headers: unknown, name: string): string | undefined {
  if (typeof headers !== "object" || headers === null) return undefined;
  const h = headers as { get?: (n: string) => unknown } & Record<string, unknown>;
  const value = typeof h.get === "function" ? h.get(name) : h[name];
  return typeof value === "string" ? value : undefined;
}

/** Retry-After in seconds or as an HTTP date, clamped to MAX_RETRY_AFTER_MS. */
function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, Math.round(ms)));
}

function isRetryable(failure: Failure): boolean {
  const { status } = failure;
  if (status === undefined)
    return failure.code !== undefined && RETRIED_NETWORK_CODES.has(failure.code);
  // 423: another operation on the project is still running; Neon asks clients to try again.
  return status === 429 || status === 423 || status >= 500;
}

function isBranchLimit(failure: Failure): boolean {
  if (failure.status === undefined || failure.status < 400 || failure.status >= 500) return false;
  return (
    /BRANCHES_LIMIT/i.test(failure.code ?? "") ||
    /\bbranch(?:es)?\b[^.]*\blimit\b|\blimit\b[^.]*\bbranch(?:es)?\b/i.test(failure.message)
  );
}

function mentionsProject(failure: Failure): boolean {
  return /\bproject\b/i.test(failure.message);
}

function mentionsBranch(failure: Failure): boolean {
  return /\b(?:branch|endpoint|database|role)\b/i.test(failure.message);
}

/** An error from axios (the official client's transport), with or without a response. */
function isHttpClientError(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    (error as { isAxiosError?: unknown }).isAxiosError === true
  );
}

function summary(failure: Failure): string {
  const head = failure.status !== undefined ? String(failure.status) : (failure.code ?? "error");
  return `${head}${failure.status !== undefined && failure.code ? ` ${failure.code}` : ""}: ${failure.message}`;
}
