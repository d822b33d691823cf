/**
 * Database branches on Neon, through Neon's official HTTP client (`@neondatabase/api-client`).
 * Every environment is a Neon branch of the project's default branch: `pr-<N>` for previews,
 * `staging`, and the default branch itself for production. A Neon branch is a copy-on-write
 * clone, so making one is O(1) whatever the size of main; the local target's template copy is
 * O(size of main).
 *
 * Every call is retried on 429, 423, 5xx and network failures, with exponential backoff and
 * jitter (Retry-After wins when Neon sends it). Errors say what to do, and never carry the API
 * key: it lives only in the client's private headers, and any text Neon sends back is scrubbed.
 */
import {
  createApiClient,
  EndpointType,
  type Api,
  type Branch as NeonBranch,
  type Operation,
} from "@neondatabase/api-client";
import {
  branchName,
  checkEnvironment,
  parseEnvironment,
  showInput,
  type Environment,
} from "../../core/environments";
import { createScrubber } from "../../core/scrub";
import { PipelineError, userError, type ErrorCode, type ErrorKind } from "../../errors";
import type { Branch, BranchInfo, DatabaseBranches } from "./shared";

export const NEON_API_HOST_DEFAULT = "https://console.neon.tech/api/v2";
/** Neon refuses an `expires_at` further than this from now. */
export const NEON_MAX_TTL_DAYS = 30;
export const NEON_DEFAULT_TTL_DAYS = 14;
/** What `pnpm cleanup` runs to free branch slots; shown when the project is full. */
export const NEON_SWEEP_COMMAND = "pnpm cleanup --stale --target cloud";

const DAY_MS = 86_400_000;
const SCRATCH_TTL_MS = 3_600_000;
const DEFAULT_ATTEMPTS = 5;
const DEFAULT_BASE_DELAY_MS = 500;
const MAX_BACKOFF_MS = 30_000;
/** Longer Retry-After values are clamped: a pipeline step should not sit silent for minutes. */
const MAX_RETRY_AFTER_MS = 60_000;
const DEFAULT_TIMEOUT_MS = 30_000;
const OPERATION_POLL_MS = 1_000;
const OPERATION_MAX_POLLS = 300;
const PAGE_SIZE = 100;
const MAX_PAGES = 100;
// Neon's own pattern for project, branch and endpoint IDs.
const NEON_ID = /^[a-z0-9-]{1,60}$/;
const ENVIRONMENT_BRANCH = /^(?:pr-[1-9][0-9]*|staging)$/;
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
  /** The database every branch URL points at; "neondb" by default. */
  databaseName?: string;
  /** The role every branch URL logs in as; "neondb_owner" by default. */
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

export class NeonDatabaseBranches implements DatabaseBranches {
  // Private fields stay out of util.inspect and JSON.stringify: the client's headers hold the key.
  readonly #client: Api<unknown>;
  readonly #scrub: (text: string) => string;
  readonly #projectId: string;
  readonly #apiHost: string;
  readonly #databaseName: string;
  readonly #roleName: string;
  readonly #ttlMs: number;
  readonly #attempts: number;
  readonly #baseDelayMs: number;
  readonly #wait: (ms: number) => Promise<void>;
  readonly #log: (line: string) => void;

  constructor(options: NeonDatabaseBranchesOptions) {
    if (typeof options.apiKey !== "string" || options.apiKey.trim() === "") {
      throw userError("INVALID_ARGUMENT", "the Neon API key is empty", NEON_API_KEY_HINT);
    }
    if (!NEON_ID.test(options.projectId)) {
      throw userError(
        "INVALID_ARGUMENT",
        `"${showInput(options.projectId)}" is not a Neon project ID (lowercase letters, digits and dashes)`,
        NEON_PROJECT_HINT,
      );
    }
    const ttlDays = options.ttlDays ?? NEON_DEFAULT_TTL_DAYS;
    if (!(ttlDays > 0 && ttlDays <= NEON_MAX_TTL_DAYS)) {
      throw userError(
        "INVALID_ARGUMENT",
        `a Neon branch TTL must be more than 0 and at most ${NEON_MAX_TTL_DAYS} days (got ${showInput(ttlDays)})`,
      );
    }
    const attempts = options.retry?.attempts ?? DEFAULT_ATTEMPTS;
    if (!Number.isInteger(attempts) || attempts < 1) {
      throw userError(
        "INVALID_ARGUMENT",
        `retry attempts must be a positive integer (got ${showInput(attempts)})`,
      );
    }
    this.#apiHost = parseApiHost(options.apiHost ?? NEON_API_HOST_DEFAULT);
    this.#scrub = createScrubber([options.apiKey]);
    this.#projectId = options.projectId;
    this.#databaseName = options.databaseName ?? "neondb";
    this.#roleName = options.roleName ?? "neondb_owner";
    this.#ttlMs = ttlDays * DAY_MS;
    this.#attempts = attempts;
    this.#baseDelayMs = options.retry?.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
    this.#wait = options.wait ?? sleep;
    this.#log = options.log ?? (() => {});
    this.#client = createApiClient({
      apiKey: options.apiKey,
      baseURL: this.#apiHost,
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      // Never follow a redirect with the bearer token to another host.
      maxRedirects: 0,
    });
  }

  async ensureMain(): Promise<{ url: string; created: boolean }> {
    const main = defaultBranch(await this.#branches(), this.#projectId);
    // Main is never created here: a Neon project always has its default branch. Migrations are
    // the commands' job, as on the local target.
    return { url: await this.#connectionUri(main), created: false };
  }

  async ensure(environment: Environment, options: { reset?: boolean } = {}): Promise<Branch> {
    // Both refuse a bad environment before any call.
    const name = branchName(environment);
    const env = checkEnvironment(environment);
    if (env.kind === "production" && options.reset) {
      throw userError("INVALID_ENVIRONMENT", "refusing to reset the default branch (production)");
    }
    const branches = await this.#branches();
    const main = defaultBranch(branches, this.#projectId);
    if (env.kind === "production") {
      return {
        name: main.name,
        environment: env.name,
        url: await this.#connectionUri(main),
        created: false,
      };
    }
    // Previews expire on their own if cleanup never runs; staging is meant to persist.
    const expiresAt = env.kind === "preview" ? this.#expiry(this.#ttlMs) : undefined;
    let branch = branches.find((b) => b.name === name);
    let created = false;
    if (!branch) {
      const made = await this.#create(name, main, expiresAt);
      branch = made.branch;
      created = made.created;
    } else if (branch.default) {
      throw userError(
        "INVALID_ENVIRONMENT",
        `the Neon branch "${name}" is the project's default branch: refusing to use it for ${env.name}`,
      );
    } else if (options.reset) {
      branch = await this.#restore(branch, main);
    } else if (expiresAt) {
      // An open PR keeps its branch: every deploy pushes the expiry out again.
      branch = await this.#extend(branch, expiresAt);
    } else {
      this.#log(`neon: reusing branch ${name}`);
    }
    return { name, environment: env.name, url: await this.#connectionUri(branch), created };
  }

  async url(environment: Environment): Promise<string> {
    const name = branchName(environment);
    const branches = await this.#branches();
    if (checkEnvironment(environment).kind === "production") {
      return this.#connectionUri(defaultBranch(branches, this.#projectId));
    }
    const branch = branches.find((b) => b.name === name);
    if (!branch) {
      throw userError(
        "NOT_FOUND",
        `Neon project "${this.#projectId}" has no branch "${name}" for ${environment.name}`,
        "Create it first (preview-deploy makes a preview's branch).",
      );
    }
    return this.#connectionUri(branch);
  }

  async list(): Promise<BranchInfo[]> {
    const infos: BranchInfo[] = [];
    for (const branch of await this.#branches()) {
      if (branch.default || !ENVIRONMENT_BRANCH.test(branch.name)) continue;
      const environment = environmentOfBranch(branch.name);
      if (environment) infos.push({ name: branch.name, environment, createdAt: branch.created_at });
    }
    return infos.sort((a, b) => a.name.localeCompare(b.name));
  }

  async delete(environment: Environment): Promise<boolean> {
    const name = branchName(environment);
    if (checkEnvironment(environment).kind === "production") {
      throw userError("INVALID_ENVIRONMENT", "refusing to delete the default branch (production)");
    }
    const branch = (await this.#branches()).find((b) => b.name === name);
    if (!branch) return false;
    if (branch.default) {
      throw userError(
        "INVALID_ENVIRONMENT",
        `refusing to delete "${name}": it is the project's default branch`,
      );
    }
    return this.#deleteBranch(branch);
  }

  async scratch(label: string): Promise<{ url: string; drop(): Promise<void> }> {
    const slug = String(label)
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 40);
    const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const name = `scratch-${slug ? `${slug}-` : ""}${suffix}`;
    const main = defaultBranch(await this.#branches(), this.#projectId);
    // An hour is plenty to try migrations; Neon removes it even if drop() never runs.
    const { branch } = await this.#create(name, main, this.#expiry(SCRATCH_TTL_MS));
    const url = await this.#connectionUri(branch);
    let dropped = false;
    return {
      url,
      drop: async () => {
        if (dropped) return;
        await this.#deleteBranch(branch);
        dropped = true;
      },
    };
  }

  async refreshFromMain(): Promise<void> {
    // Nothing to do: a Neon branch copies main as it is at creation (O(1), copy-on-write), so
    // there is no snapshot to refresh, unlike the local target's template database.
  }

  // --- branches -------------------------------------------------------------------------------

  /** Every branch of the project, following Neon's cursor pagination. */
  async #branches(): Promise<NeonBranch[]> {
    const all: NeonBranch[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const data = await this.#call(
        "listing branches",
        () =>
          this.#client.listProjectBranches({
            projectId: this.#projectId,
            limit: PAGE_SIZE,
            ...(cursor ? { cursor } : {}),
          }),
        { projectScoped: true },
      );
      const branches = Array.isArray(data.branches) ? data.branches : [];
      all.push(...branches);
      const next = data.pagination?.next;
      if (!next || next === cursor || branches.length < PAGE_SIZE) break;
      cursor = next;
    }
    return all;
  }

  async #create(
    name: string,
    parent: NeonBranch,
    expiresAt: string | undefined,
  ): Promise<{ branch: NeonBranch; created: boolean }> {
    this.#log(
      `neon: creating branch ${name} from ${parent.name}${expiresAt ? ` (expires ${expiresAt})` : ""}`,
    );
    const data = await this.#call(
      `creating branch "${name}"`,
      () =>
        this.#client.createProjectBranch(this.#projectId, {
          branch: {
            name,
            parent_id: parent.id,
            ...(expiresAt ? { expires_at: expiresAt } : {}),
          },
          endpoints: [{ type: EndpointType.ReadWrite }],
        }),
      // 409: a concurrent run (or our own retried POST) made it first; use that one.
      { projectScoped: true, onConflict: () => undefined },
    );
    if (!data) {
      const existing = (await this.#branches()).find((b) => b.name === name);
      if (!existing) {
        throw new PipelineError(
          "DATABASE_FAILED",
          `Neon answered 409 (conflict) to creating branch "${name}", yet lists no branch of that name`,
        );
      }
      this.#log(`neon: branch ${name} already existed; reusing it`);
      return { branch: existing, created: false };
    }
    await this.#settle(data.operations, `creating branch "${name}"`);
    return { branch: data.branch, created: true };
  }

  async #restore(branch: NeonBranch, main: NeonBranch): Promise<NeonBranch> {
    const source = branch.parent_id ?? main.id;
    this.#log(`neon: resetting branch ${branch.name} from its parent`);
    // Restoring in place keeps the branch's ID, endpoint and URL (and Neon re-applies its TTL);
    // delete and create would hand out a new host and burn a branch slot meanwhile.
    const data = await this.#call(`resetting branch "${branch.name}"`, () =>
      this.#client.restoreProjectBranch(this.#projectId, branch.id, { source_branch_id: source }),
    );
    await this.#settle(data.operations, `resetting branch "${branch.name}"`);
    return data.branch ?? branch;
  }

  async #extend(branch: NeonBranch, expiresAt: string): Promise<NeonBranch> {
    this.#log(`neon: reusing branch ${branch.name}; it now expires ${expiresAt}`);
    try {
      const data = await this.#call(`extending the expiry of branch "${branch.name}"`, () =>
        this.#client.updateProjectBranch(this.#projectId, branch.id, {
          branch: { expires_at: expiresAt },
        }),
      );
      await this.#settle(data.operations, `updating branch "${branch.name}"`);
      return data.branch ?? branch;
    } catch (error) {
      // The branch works as it is: a refused extension is worth a line, not a failed deploy.
      // What the user must fix (the key, the project) is rethrown.
      if (!(error instanceof PipelineError) || error.kind === "user") throw error;
      this.#log(
        `neon: could not extend the expiry of ${branch.name} (${error.message}); ` +
          `it still expires ${branch.expires_at ?? "never"}`,
      );
      return branch;
    }
  }

  async #deleteBranch(branch: NeonBranch): Promise<boolean> {
    this.#log(`neon: deleting branch ${branch.name}`);
    const data = await this.#call(
      `deleting branch "${branch.name}"`,
      () => this.#client.deleteProjectBranch({ projectId: this.#projectId, branchId: branch.id }),
      { onMissing: () => undefined },
    );
    if (!data) return false; // gone meanwhile (Neon's TTL, or a concurrent cleanup)
    await this.#settle(data.operations, `deleting branch "${branch.name}"`);
    return true;
  }

  /** The branch's pooled connection string (it holds a password: never log it). */
  async #connectionUri(branch: NeonBranch): Promise<string> {
    const data = await this.#call(`getting the connection string of branch "${branch.name}"`, () =>
      this.#client.getConnectionUri({
        projectId: this.#projectId,
        branch_id: branch.id,
        database_name: this.#databaseName,
        role_name: this.#roleName,
        pooled: true,
      }),
    );
    if (typeof data.uri !== "string" || data.uri === "") {
      throw new PipelineError(
        "DATABASE_FAILED",
        `Neon returned no connection string for branch "${branch.name}"`,
      );
    }
    return data.uri;
  }

  /** Waits until Neon has finished the operations a change started. */
  async #settle(operations: Operation[] | undefined, what: string): Promise<void> {
    let pending = (operations ?? []).filter((op) => !operationDone(op, what));
    for (let polls = 0; pending.length > 0; polls++) {
      if (polls >= OPERATION_MAX_POLLS) {
        throw new PipelineError(
          "DATABASE_FAILED",
          `Neon did not finish ${what} within ${(OPERATION_MAX_POLLS * OPERATION_POLL_MS) / 1000} s ` +
            `(${pending.map((op) => `${op.action}: ${op.status}`).join(", ")})`,
          { hint: "See the project's Operations page in the Neon console, then retry." },
        );
      }
      await this.#wait(OPERATION_POLL_MS);
      const still: Operation[] = [];
      for (const op of pending) {
        const { operation } = await this.#call(`checking operation ${op.action}`, () =>
          this.#client.getProjectOperation(this.#projectId, op.id),
        );
        if (!operationDone(operation, what)) still.push(operation);
      }
      pending = still;
    }
  }

  #expiry(fromNowMs: number): string {
    // RFC 3339 to the second, as Neon asks.
    return new Date(Date.now() + fromNowMs).toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  // --- HTTP: retries and errors ---------------------------------------------------------------

  async #call<T>(
    what: string,
    send: () => Promise<{ data: T }>,
    options: CallOptions<T> = {},
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let failure: Failure;
      try {
        return (await send()).data;
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
        this.#log(
          `neon: ${what} failed (${summary(failure)}); retrying in ${delay} ms ` +
            `(attempt ${attempt + 1} of ${this.#attempts})`,
        );
        await this.#wait(delay);
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
        `Neon project "${this.#projectId}" has reached its branches limit while ${what}: ${failure.message}`,
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
        `Neon project "${this.#projectId}" not found: check NEON_PROJECT_ID`,
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
        `Neon project "${this.#projectId}" is busy with other operations while ${what}${tries}: ${failure.message}`,
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
        `could not reach the Neon API at ${this.#apiHost} while ${what}: ${failure.message}${tries}`,
        "Check the network, and NEON_API_HOST if it is set.",
      );
    }
    return make(
      status === 404 ? "NOT_FOUND" : "DATABASE_FAILED",
      "system",
      `Neon refused ${what}: ${status}${failure.code ? ` ${failure.code}` : ""} ${failure.message}`,
    );
  }
}

/**
 * The Neon provider configured from the environment: NEON_API_KEY and NEON_PROJECT_ID are
 * required, NEON_API_HOST is optional (a stub, or another region's API).
 */
export function neonFromEnv(
  env: Record<string, string | undefined> = process.env,
  options: Omit<NeonDatabaseBranchesOptions, "apiKey" | "projectId" | "apiHost"> = {},
): NeonDatabaseBranches {
  const apiKey = env.NEON_API_KEY?.trim();
  if (!apiKey) {
    throw userError(
      "INVALID_ARGUMENT",
      "NEON_API_KEY is not set: the cloud target needs a Neon API key",
      NEON_API_KEY_HINT,
    );
  }
  const projectId = env.NEON_PROJECT_ID?.trim();
  if (!projectId) {
    throw userError(
      "INVALID_ARGUMENT",
      "NEON_PROJECT_ID is not set: the cloud target needs the Neon project to branch",
      NEON_PROJECT_HINT,
    );
  }
  const apiHost = env.NEON_API_HOST?.trim();
  return new NeonDatabaseBranches({
    ...options,
    apiKey,
    projectId,
    ...(apiHost ? { apiHost } : {}),
  });
}

const NEON_API_KEY_HINT =
  "Create an API key in the Neon console (Account settings → API keys) with access to the project, and set NEON_API_KEY to it.";
const NEON_PROJECT_HINT =
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

function defaultBranch(branches: NeonBranch[], projectId: string): NeonBranch {
  const main = branches.find((b) => b.default);
  if (!main) {
    throw new PipelineError(
      "DATABASE_FAILED",
      `Neon project "${projectId}" lists no default branch`,
      { hint: "Mark the production branch as default in the Neon console." },
    );
  }
  return main;
}

/** The environment a branch named `pr-<N>` or `staging` belongs to, or undefined if none. */
function environmentOfBranch(name: string): string | undefined {
  try {
    return parseEnvironment(name === "staging" ? "staging" : `preview-${name.slice(3)}`).name;
  } catch {
    return undefined; // for example pr-99999999999: not a PR number we could have made
  }
}

function operationDone(op: Operation, what: string): boolean {
  const status: string = op.status;
  if (status === "finished" || status === "skipped" || status === "cancelled") return true;
  // "error" with a retry_at is retried by Neon itself; "failed" is final.
  if (status === "failed" || (status === "error" && !op.retry_at)) {
    throw new PipelineError(
      "DATABASE_FAILED",
      `Neon failed ${what}: operation ${op.action} ${status}${op.error ? `: ${op.error}` : ""}`,
      { hint: "See the project's Operations page in the Neon console." },
    );
  }
  return false;
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
