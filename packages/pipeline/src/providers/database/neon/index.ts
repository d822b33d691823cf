/**
 * Database branches on Neon (the DatabaseBranches provider). Every environment is a Neon branch
 * of the project's default branch: `pr-<N>` for previews, `staging`, and the default branch
 * itself for production. A Neon branch is a copy-on-write clone, so making one is O(1) whatever
 * the size of main; the local target's template copy is O(size of main). Requests, retries and
 * errors are in ./api.ts, branch operations in ./branches.ts.
 */
import {
  branchName,
  checkEnvironment,
  environmentFromBranch,
  showInput,
  type Environment,
} from "../../../core/environments";
import { PipelineError, userError } from "../../../errors";
import type { Branch as NeonBranch } from "@neondatabase/api-client";
import type { Branch, BranchInfo, DatabaseBranches } from "../shared";
import {
  NEON_API_KEY_HINT,
  NEON_PROJECT_HINT,
  NeonApi,
  type NeonDatabaseBranchesOptions,
} from "./api";
import { NeonBranches, defaultBranch, expiry } from "./branches";

export { NEON_API_HOST_DEFAULT, NEON_SWEEP_COMMAND, type NeonDatabaseBranchesOptions } from "./api";
/** Neon refuses an `expires_at` further than this from now. */
export const NEON_MAX_TTL_DAYS = 30;
export const NEON_DEFAULT_TTL_DAYS = 14;
/** The database and role a new Neon project starts with (NEON_DATABASE_NAME, NEON_ROLE_NAME). */
export const NEON_DEFAULT_DATABASE = "neondb";
export const NEON_DEFAULT_ROLE = "neondb_owner";

const DAY_MS = 86_400_000;
const SCRATCH_TTL_MS = 3_600_000;
const DEFAULT_ATTEMPTS = 5;
// Neon's own pattern for project, branch and endpoint IDs.
const NEON_ID = /^[a-z0-9-]{1,60}$/;
const ENVIRONMENT_BRANCH = /^(?:pr-[1-9][0-9]*|staging)$/;

export class NeonDatabaseBranches implements DatabaseBranches {
  readonly #api: NeonApi;
  readonly #branches: NeonBranches;
  readonly #ttlMs: number;

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
    this.#api = new NeonApi(options, attempts);
    this.#branches = new NeonBranches(
      this.#api,
      options.databaseName ?? NEON_DEFAULT_DATABASE,
      options.roleName ?? NEON_DEFAULT_ROLE,
    );
    this.#ttlMs = ttlDays * DAY_MS;
  }

  async ensureMain(): Promise<{ url: string; directUrl: string; created: boolean }> {
    const main = defaultBranch(await this.#branches.all(), this.#api.projectId);
    // Main is never created here: a Neon project always has its default branch. Migrations are
    // the commands' job, as on the local target.
    return { ...(await this.#urls(main)), created: false };
  }

  /** The pooled URI (for the Workers) and the direct one (for migrations and tests). */
  async #urls(branch: NeonBranch): Promise<{ url: string; directUrl: string }> {
    return {
      url: await this.#branches.connectionUri(branch, true),
      directUrl: await this.#branches.connectionUri(branch, false),
    };
  }

  async ensure(environment: Environment, options: { reset?: boolean } = {}): Promise<Branch> {
    // Both refuse a bad environment before any call.
    const name = branchName(environment);
    const env = checkEnvironment(environment);
    if (env.kind === "production" && options.reset) {
      throw userError("INVALID_ENVIRONMENT", "refusing to reset the default branch (production)");
    }
    const branches = await this.#branches.all();
    const main = defaultBranch(branches, this.#api.projectId);
    if (env.kind === "production") {
      return {
        name: main.name,
        environment: env.name,
        ...(await this.#urls(main)),
        created: false,
      };
    }
    // Previews expire on their own if cleanup never runs; staging is meant to persist.
    const expiresAt = env.kind === "preview" ? expiry(this.#ttlMs) : undefined;
    let branch = branches.find((b) => b.name === name);
    let created = false;
    if (!branch) {
      const made = await this.#branches.create(name, main, expiresAt);
      branch = made.branch;
      created = made.created;
    } else if (branch.default) {
      throw userError(
        "INVALID_ENVIRONMENT",
        `the Neon branch "${name}" is the project's default branch: refusing to use it for ${env.name}`,
      );
    } else if (options.reset) {
      branch = await this.#branches.restore(branch, main);
    } else if (expiresAt) {
      // An open PR keeps its branch: every deploy pushes the expiry out again.
      branch = await this.#branches.extend(branch, expiresAt);
    } else {
      this.#api.log(`neon: reusing branch ${name}`);
    }
    return { name, environment: env.name, ...(await this.#urls(branch)), created };
  }

  async url(environment: Environment): Promise<string> {
    const name = branchName(environment);
    const branches = await this.#branches.all();
    if (checkEnvironment(environment).kind === "production") {
      return this.#branches.connectionUri(defaultBranch(branches, this.#api.projectId), true);
    }
    const branch = branches.find((b) => b.name === name);
    if (!branch) {
      throw userError(
        "NOT_FOUND",
        `Neon project "${this.#api.projectId}" has no branch "${name}" for ${environment.name}`,
        "Create it first (preview-deploy makes a preview's branch).",
      );
    }
    return this.#branches.connectionUri(branch, true);
  }

  async list(): Promise<BranchInfo[]> {
    const infos: BranchInfo[] = [];
    for (const branch of await this.#branches.all()) {
      if (branch.default || !ENVIRONMENT_BRANCH.test(branch.name)) continue;
      const environment = environmentFromBranch(branch.name)?.name;
      if (environment) infos.push({ name: branch.name, environment, createdAt: branch.created_at });
    }
    return infos.sort((a, b) => a.name.localeCompare(b.name));
  }

  async delete(environment: Environment): Promise<boolean> {
    const name = branchName(environment);
    if (checkEnvironment(environment).kind === "production") {
      throw userError("INVALID_ENVIRONMENT", "refusing to delete the default branch (production)");
    }
    const branch = (await this.#branches.all()).find((b) => b.name === name);
    if (!branch) return false;
    if (branch.default) {
      throw userError(
        "INVALID_ENVIRONMENT",
        `refusing to delete "${name}": it is the project's default branch`,
      );
    }
    return this.#branches.remove(branch);
  }

  async scratch(label: string): Promise<{ url: string; drop(): Promise<void> }> {
    const slug = String(label)
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 40);
    const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const name = `scratch-${slug ? `${slug}-` : ""}${suffix}`;
    const main = defaultBranch(await this.#branches.all(), this.#api.projectId);
    // An hour is plenty to try migrations; Neon removes it even if drop() never runs.
    const { branch } = await this.#branches.create(name, main, expiry(SCRATCH_TTL_MS));
    // Only migrations use it: a direct connection.
    const url = await this.#branches.connectionUri(branch, false);
    let dropped = false;
    return {
      url,
      drop: async () => {
        if (dropped) return;
        await this.#branches.remove(branch);
        dropped = true;
      },
    };
  }

  /**
   * Whether this API key can read the Neon project `projectId`: a key scoped to another project
   * cannot (Neon answers 404 or 403), an account or organization key can.
   */
  async reaches(projectId: string): Promise<boolean> {
    if (!NEON_ID.test(projectId)) return false;
    try {
      await this.#api.call(`checking access to project "${projectId}"`, (client) =>
        client.getProject(projectId),
      );
      return true;
    } catch (error) {
      if (
        error instanceof PipelineError &&
        (error.code === "NOT_FOUND" || error.code === "INVALID_ARGUMENT")
      ) {
        return false;
      }
      throw error;
    }
  }

  async refreshFromMain(): Promise<void> {
    // Nothing to do: a Neon branch copies main as it is at creation (O(1), copy-on-write), so
    // there is no snapshot to refresh, unlike the local target's template database.
  }
}

/**
 * The Neon provider configured from the environment: NEON_API_KEY and NEON_PROJECT_ID are
 * required; NEON_API_HOST (a stub, or another region's API), NEON_DATABASE_NAME and
 * NEON_ROLE_NAME (the database and role every URL names: Neon's defaults, neondb and
 * neondb_owner, unless set) are optional.
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
  const databaseName = env.NEON_DATABASE_NAME?.trim();
  const roleName = env.NEON_ROLE_NAME?.trim();
  return new NeonDatabaseBranches({
    ...options,
    apiKey,
    projectId,
    ...(apiHost ? { apiHost } : {}),
    ...(databaseName ? { databaseName } : {}),
    ...(roleName ? { roleName } : {}),
  });
}
