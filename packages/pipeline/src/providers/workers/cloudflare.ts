/**
 * The Worker platform on Cloudflare: the real `wrangler` CLI deploys each environment's derived
 * configs, one Worker at a time in deploy order (auth, webhook, then web), so that every service
 * binding names a Worker that already exists. Secrets travel in a `--secrets-file` (mode 0600, in
 * a fresh temporary folder, removed whatever happens), never in argv.
 *
 * Cloudflare keeps every version of a Worker; we record in a small JSON state file which version
 * each deploy made, per environment, so that `rollback` knows where to go and `list` what runs.
 * Per Cloudflare's docs, `wrangler rollback` rolls back neither bindings nor data.
 */
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { BUILD_PATHS, WEB_BUILD_MARKER, WORKER_DIRS, buildStack, codeHash } from "../../build";
import {
  deriveStack,
  loadStack,
  type DerivedStack,
  type DerivedWorker,
  type WorkerKind,
} from "../../core/derive";
import {
  PRODUCTION,
  checkEnvironment,
  parseEnvironment,
  type Environment,
} from "../../core/environments";
import { durationFromEnv } from "../../env";
import { PipelineError, userError, type ErrorCode } from "../../errors";
import { TIMED_OUT, run } from "../../exec";
import { REPO_ROOT, readJson, statePaths, withLock, writeFileAtomic } from "../../local/state";
import type { DeployedEnvironment, DeployResult, StackUrls, WorkerPlatform } from "./shared";

const WRANGLER_FAILED: ErrorCode = "CLOUD_FAILED";
const CLOUDFLARE_API = "https://api.cloudflare.com/client/v4";

/** How many complete deploys (releases) each environment keeps in the state file. */
export const KEEP_RELEASES = 10;
/** How many Worker records (deploys and rollbacks of single Workers) each environment keeps. */
const KEEP_RECORDS = 6 * KEEP_RELEASES;

/** Secrets a Worker gets when a value is provided; the required ones come from derive.ts. */
export const OPTIONAL_SECRETS: Readonly<Record<WorkerKind, readonly string[]>> = Object.freeze({
  web: Object.freeze(["STRIPE_SECRET_KEY", "STRIPE_PRICE_ID"]),
  auth: Object.freeze([]),
  webhook: Object.freeze(["STRIPE_SECRET_KEY"]),
});

/** Every secret name a Worker of the stack may hold; they are kept out of wrangler's environment. */
const SECRET_NAMES = [
  "DATABASE_URL",
  "SESSION_SECRET",
  "STRIPE_WEBHOOK_SECRET",
  "STRIPE_SECRET_KEY",
  "STRIPE_PRICE_ID",
];

// Cloudflare's "script not found" and "service not found": what deleting a deleted Worker says.
const NOT_FOUND_CODES = /\[code: (?:10007|10090)\]/;
const VERSION_ID =
  /Current Version ID:\s*([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/;
const WORKERS_DEV_URL = /https:\/\/[a-z0-9-]+\.([a-z0-9-]+)\.workers\.dev/;

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
const WRANGLER_TIMEOUT_MS = 600_000;

/** Runs a command to completion; never rejects on a non-zero exit (the caller reads `code`). */
export type CommandRunner = (
  command: string,
  args: readonly string[],
  options: RunOptions,
) => Promise<CommandResult>;

/** Secret values by name (SESSION_SECRET, STRIPE_WEBHOOK_SECRET, ...); DATABASE_URL comes from deploy. */
export type SecretValues = Readonly<Record<string, string>>;

/** The same values for every environment, or values chosen per environment. */
export type SecretSource =
  SecretValues | ((environment: Environment) => SecretValues | Promise<SecretValues>);

export interface CloudflareOptions {
  apiToken: string;
  accountId: string;
  /** CLOUDFLARE_API_BASE_URL, including /client/v4; Cloudflare's own API when unset. */
  apiBaseUrl?: string;
  /** The account's workers.dev subdomain: urls() are https://<name>.<subdomain>.workers.dev. */
  workersSubdomain?: string;
  /** The JSON file recording each environment's deployed versions (for rollback and list). */
  stateFile?: string;
  /** The secret values each environment's Workers get, besides DATABASE_URL. */
  secrets?: SecretSource;
  /** How long one wrangler command may take before it is stopped; 10 minutes by default. */
  commandTimeoutMs?: number;
  /** Runs wrangler; tests inject a recording runner. */
  run?: CommandRunner;
  /**
   * Runs `deploy` (the web Worker's) while the web app's vite output is current and nobody
   * rebuilds it. The default takes build.ts's lock and reuses buildStack's vite step.
   */
  withWebBuild?: <T>(stack: DerivedStack, deploy: () => Promise<T>) => Promise<T>;
}

/** One Worker's version, as a deploy or a rollback left it. */
export interface WorkerRecord {
  environment: string;
  /** The Worker's name on Cloudflare. */
  worker: string;
  kind: WorkerKind;
  versionId: string;
  at: string;
  action: "deploy" | "rollback";
  url?: string;
}

/** A deploy in which every Worker of the environment succeeded. */
export interface Release {
  environment: string;
  /** The combined id: the first 8 characters of each Worker's version id, in deploy order. */
  id: string;
  workers: { kind: WorkerKind; worker: string; versionId: string }[];
  at: string;
}

export interface CloudflareState {
  /** The workers.dev subdomain wrangler reported, when no option sets it. */
  subdomain?: string;
  records: WorkerRecord[];
  releases: Release[];
  /** The release each environment serves, by environment name. */
  current: Record<string, string>;
}

/** Runs wrangler: exec.ts's runner, in a process group of its own that a timeout stops. */
export const runCommand: CommandRunner = run;

/** The combined id of one version per Worker. */
export function releaseId(versions: readonly { versionId: string }[]): string {
  return versions.map((v) => v.versionId.slice(0, 8)).join(".");
}

function readStateSync(file: string): CloudflareState | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as CloudflareState;
  } catch {
    return undefined;
  }
}

function emptyState(): CloudflareState {
  return { records: [], releases: [], current: {} };
}

/** "a, b and c", or "none". */
function listNames(names: readonly string[]): string {
  if (names.length === 0) return "none";
  if (names.length === 1) return names[0] as string;
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}

/**
 * The Workers' secret values for `environment` from environment variables: NAME_<KIND>
 * (NAME_PRODUCTION, NAME_STAGING, NAME_PREVIEW) when set, else NAME. DATABASE_URL is not read:
 * it comes from the deploy (the environment's own branch).
 */
export function secretsFromEnv(env: NodeJS.ProcessEnv, environment: Environment): SecretValues {
  const suffix = environment.kind.toUpperCase();
  const values: Record<string, string> = {};
  for (const name of SECRET_NAMES) {
    if (name === "DATABASE_URL") continue;
    const value = env[`${name}_${suffix}`] || env[name];
    if (value) values[name] = value;
  }
  return values;
}

/**
 * The platform from the environment: CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID (required),
 * CLOUDFLARE_API_BASE_URL and CLOUDFLARE_WORKERS_SUBDOMAIN (optional). A secret NAME is read from
 * NAME_<KIND> (NAME_PRODUCTION, NAME_STAGING, NAME_PREVIEW) when set, else from NAME, so that
 * production's values need not be shared with previews.
 */
export function cloudflareFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<CloudflareOptions> = {},
): CloudflareWorkerPlatform {
  const required = (name: string): string => {
    const value = env[name];
    if (!value) {
      throw userError(
        "INVALID_ARGUMENT",
        `${name} is not set: the cloud target needs it to deploy Workers`,
        `Set ${name} (see the Cloudflare dashboard), or use --target local.`,
      );
    }
    return value;
  };
  const apiToken = required("CLOUDFLARE_API_TOKEN");
  const accountId = required("CLOUDFLARE_ACCOUNT_ID");
  const secrets = (environment: Environment) => secretsFromEnv(env, environment);
  return new CloudflareWorkerPlatform({
    apiToken,
    accountId,
    ...(env.CLOUDFLARE_API_BASE_URL ? { apiBaseUrl: env.CLOUDFLARE_API_BASE_URL } : {}),
    ...(env.CLOUDFLARE_WORKERS_SUBDOMAIN
      ? { workersSubdomain: env.CLOUDFLARE_WORKERS_SUBDOMAIN }
      : {}),
    stateFile: join(statePaths(env.CODEX_STATE_DIR).root, "cloudflare.json"),
    commandTimeoutMs: durationFromEnv("CODEX_WRANGLER_TIMEOUT_MS", WRANGLER_TIMEOUT_MS, env),
    secrets,
    ...overrides,
  });
}

/** True when the web app's vite output on disk was built from the current sources. */
async function webBuildIsCurrent(code: string): Promise<boolean> {
  const marker = await readJson<{ hash?: string }>(WEB_BUILD_MARKER)
    .then((m) => m?.hash)
    .catch(() => undefined);
  return (
    marker === code && existsSync(join(WORKER_DIRS.web, ".svelte-kit", "cloudflare", "_worker.js"))
  );
}

/**
 * Runs `deploy` holding build.ts's build lock, once the vite output matches the sources: wrangler
 * reads apps/web/.svelte-kit while it bundles and uploads, and nobody may rewrite it meanwhile.
 * A stale output is rebuilt by buildStack (outside the lock, which buildStack takes itself).
 */
async function withCurrentWebBuild<T>(stack: DerivedStack, deploy: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const code = await codeHash();
    const done = await withLock(BUILD_PATHS, "build", async () =>
      (await webBuildIsCurrent(code)) ? { value: await deploy() } : undefined,
    );
    if (done) return done.value;
    if (attempt > 0) {
      throw new PipelineError(
        "BUILD_FAILED",
        "the web app's sources changed while it was being built for the deploy",
        { hint: "Run the deploy again once the sources are settled." },
      );
    }
    const scratch = await mkdtemp(join(tmpdir(), "codex-web-build-"));
    try {
      const web = { ...stack, workers: stack.workers.filter((w) => w.kind === "web") };
      await buildStack(web, code, scratch);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
}

export class CloudflareWorkerPlatform implements WorkerPlatform {
  private readonly options: CloudflareOptions;
  private readonly run: CommandRunner;
  private readonly stateFile: string;

  constructor(options: CloudflareOptions) {
    if (!options.apiToken)
      throw userError("INVALID_ARGUMENT", "a Cloudflare API token is required");
    if (!options.accountId) {
      throw userError("INVALID_ARGUMENT", "a Cloudflare account id is required");
    }
    this.options = options;
    this.run = options.run ?? runCommand;
    this.stateFile = options.stateFile ?? join(statePaths().root, "cloudflare.json");
  }

  /** The Worker names of `environment`, by kind, in deploy order, as this checkout's configs give them. */
  private names(environment: Environment): { kind: WorkerKind; name: string }[] {
    return deriveStack(loadStack(REPO_ROOT), environment).workers.map((w) => ({
      kind: w.kind,
      name: w.name,
    }));
  }

  urls(environment: Environment): StackUrls {
    const subdomain = this.options.workersSubdomain ?? readStateSync(this.stateFile)?.subdomain;
    if (!subdomain) {
      throw userError(
        "INVALID_ARGUMENT",
        "the account's workers.dev subdomain is unknown until the first deploy",
        "Set CLOUDFLARE_WORKERS_SUBDOMAIN (the <subdomain> of <name>.<subdomain>.workers.dev).",
      );
    }
    const byKind = Object.fromEntries(
      this.names(environment).map(({ kind, name }) => [
        kind,
        `https://${name}.${subdomain}.workers.dev`,
      ]),
    ) as Record<WorkerKind, string>;
    return { web: byKind.web, auth: byKind.auth, webhook: byKind.webhook };
  }

  /** wrangler's environment: ours, minus secrets and other Cloudflare credentials, plus the target's. */
  private wranglerEnv(): NodeJS.ProcessEnv {
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

  private async wrangler(kind: WorkerKind, args: string[]): Promise<CommandResult> {
    // wrangler's own bin, run by this Node: `pnpm exec` would cost a second per call.
    return this.run(process.execPath, [wranglerBin(), ...args], {
      cwd: WORKER_DIRS[kind],
      env: this.wranglerEnv(),
      timeoutMs: this.options.commandTimeoutMs ?? WRANGLER_TIMEOUT_MS,
    });
  }

  /** The values of every secret `worker` needs; a required one that is missing fails here. */
  private secretsOf(
    worker: DerivedWorker,
    values: SecretValues,
    database: string,
    environment: Environment,
  ): Record<string, string> {
    const secrets: Record<string, string> = {};
    for (const name of worker.secrets) {
      const value = name === "DATABASE_URL" ? database : values[name];
      if (!value) {
        const suffix = environment.kind.toUpperCase();
        throw userError(
          "INVALID_ARGUMENT",
          `${name} is not set: ${worker.name} needs it, and nothing was created`,
          `Set ${name}_${suffix} (or ${name}) in the environment of the cloud target.`,
        );
      }
      secrets[name] = value;
    }
    for (const name of OPTIONAL_SECRETS[worker.kind]) {
      const value = values[name];
      if (value && !(name in secrets)) secrets[name] = value;
    }
    return secrets;
  }

  /**
   * Fails, naming it, when a secret some Worker of `stack` needs has no value, before anything
   * is created. `supplied` names values the caller will provide itself before the deploy.
   */
  async checkSecrets(stack: DerivedStack, supplied: readonly string[] = []): Promise<void> {
    const values = { ...(await this.secretValues(stack.environment)) };
    for (const name of supplied) values[name] ??= "(supplied)";
    for (const worker of stack.workers)
      this.secretsOf(worker, values, "(the branch's URL)", stack.environment);
  }

  private async secretValues(environment: Environment): Promise<SecretValues> {
    const source = this.options.secrets ?? {};
    return typeof source === "function" ? source(environment) : source;
  }

  async deploy(
    stack: DerivedStack,
    options: { database: string; rebuild?: boolean },
  ): Promise<DeployResult> {
    // `rebuild` changes nothing here: every cloud deploy uploads, and vite reruns when sources change.
    const environment = checkEnvironment(stack.environment);
    if (typeof options.database !== "string" || options.database === "") {
      throw userError("INVALID_ARGUMENT", `no database connection for ${environment.name}`);
    }
    const values = await this.secretValues(environment);
    // Every secret is resolved before the first upload: a missing one must not leave half a stack.
    const plans = stack.workers.map((worker) => ({
      worker,
      secrets: this.secretsOf(worker, values, options.database, environment),
    }));
    const withWebBuild = this.options.withWebBuild ?? withCurrentWebBuild;

    const configs = await mkdtemp(join(tmpdir(), "codex-cloudflare-"));
    const deployed: WorkerRecord[] = [];
    try {
      for (const [index, { worker, secrets }] of plans.entries()) {
        try {
          const upload = () => this.deployWorker(configs, worker, secrets);
          const { versionId, url } = await (worker.kind === "web"
            ? withWebBuild(stack, upload)
            : upload());
          const record: WorkerRecord = {
            environment: environment.name,
            worker: worker.name,
            kind: worker.kind,
            versionId,
            at: new Date().toISOString(),
            action: "deploy",
            ...(url ? { url } : {}),
          };
          await this.updateState((state) => {
            state.records.push(record);
            const learned = url ? WORKERS_DEV_URL.exec(url)?.[1] : undefined;
            if (learned) state.subdomain = learned;
          });
          deployed.push(record);
        } catch (error) {
          const rest = plans.slice(index + 1).map((p) => p.worker.name);
          throw new PipelineError(
            WRANGLER_FAILED,
            `deploying ${environment.name} stopped at ${worker.name}: ` +
              `deployed ${listNames(deployed.map((d) => d.worker))}; failed ${worker.name}; ` +
              `not attempted ${listNames(rest)}.\n${(error as Error).message}`,
            {
              hint: `Run the deploy again: it redeploys every Worker of ${environment.name} in place.`,
              cause: error,
            },
          );
        }
      }
    } finally {
      await rm(configs, { recursive: true, force: true });
    }

    const release: Release = {
      environment: environment.name,
      id: releaseId(deployed),
      workers: deployed.map(({ kind, worker, versionId }) => ({ kind, worker, versionId })),
      at: new Date().toISOString(),
    };
    await this.updateState((state) => {
      state.releases = state.releases.filter(
        (r) => r.environment !== environment.name || r.id !== release.id,
      );
      state.releases.push(release);
      state.current[environment.name] = release.id;
      const own = state.releases.filter((r) => r.environment === environment.name);
      const drop = new Set(own.slice(0, Math.max(0, own.length - KEEP_RELEASES)));
      state.releases = state.releases.filter((r) => !drop.has(r));
      const mine = state.records.filter((r) => r.environment === environment.name);
      // Each Worker's latest record says what it runs now, so it stays whatever its age.
      const latest = new Set(new Map(mine.map((r) => [r.kind, r])).values());
      const old = new Set(
        mine.slice(0, Math.max(0, mine.length - KEEP_RECORDS)).filter((r) => !latest.has(r)),
      );
      state.records = state.records.filter((r) => !old.has(r));
    });
    // A Worker without workers.dev prints no URL; then only an explicit subdomain can name one.
    const printed = (kind: WorkerKind) => deployed.find((d) => d.kind === kind)?.url ?? "";
    const subdomain = this.options.workersSubdomain ?? (await this.readState()).subdomain;
    const urls = subdomain
      ? this.urls(environment)
      : { web: printed("web"), auth: printed("auth"), webhook: printed("webhook") };
    return { version: release.id, urls, built: true };
  }

  /** One `wrangler deploy`, with the Worker's secrets in a 0600 file that never outlives it. */
  private async deployWorker(
    configs: string,
    worker: DerivedWorker,
    secrets: Record<string, string>,
  ): Promise<{ versionId: string; url?: string }> {
    const config = join(configs, `${worker.kind}.json`);
    await writeFile(config, `${JSON.stringify(worker.config, null, 2)}\n`, { mode: 0o600 });
    const secretsDir = await mkdtemp(join(tmpdir(), "codex-secrets-"));
    let result: CommandResult;
    try {
      const secretsFile = join(secretsDir, "secrets.json");
      await writeFile(secretsFile, JSON.stringify(secrets), { mode: 0o600, flag: "wx" });
      result = await this.wrangler(worker.kind, [
        "deploy",
        "--config",
        config,
        "--secrets-file",
        secretsFile,
      ]);
    } finally {
      await rm(secretsDir, { recursive: true, force: true });
    }
    const versionId = VERSION_ID.exec(result.stdout)?.[1];
    if (result.code !== 0 || !versionId) {
      throw new PipelineError(
        WRANGLER_FAILED,
        `wrangler deploy of ${worker.name} ${describeExit(result)}:\n` +
          tail(result, Object.values(secrets)),
      );
    }
    const url = WORKERS_DEV_URL.exec(result.stdout)?.[0];
    return { versionId, ...(url ? { url } : {}) };
  }

  /**
   * Every environment with Workers on the account: what this machine recorded, merged with
   * Cloudflare's own list of Workers, so that a fresh CI runner (which recorded nothing) still
   * sees, sweeps and reports what earlier runs deployed.
   */
  async list(): Promise<DeployedEnvironment[]> {
    const state = await this.readState();
    const remote = await this.remoteScripts();
    const byName = new Map<string, DeployedEnvironment>();
    for (const name of new Set(state.records.map((r) => r.environment))) {
      const records = state.records.filter((r) => r.environment === name);
      const releases = state.releases.filter((r) => r.environment === name);
      // Rollback records carry no URL: each Worker's is the latest one recorded.
      const latest = new Map(records.filter((r) => r.url).map((r) => [r.kind, r]));
      const current = state.current[name];
      byName.set(name, {
        name,
        ...(current ? { version: current } : {}),
        versions: releases.map((r) => r.id),
        urls: {
          web: latest.get("web")?.url ?? "",
          auth: latest.get("auth")?.url ?? "",
          webhook: latest.get("webhook")?.url ?? "",
        },
        updatedAt: records.at(-1)?.at ?? "",
      });
    }
    for (const script of remote) {
      const owner = this.ownerOf(script.name);
      if (!owner) continue;
      const known = byName.get(owner.name);
      if (known) {
        if (script.modifiedOn > known.updatedAt) known.updatedAt = script.modifiedOn;
        continue;
      }
      byName.set(owner.name, {
        name: owner.name,
        versions: [],
        urls: this.options.workersSubdomain ? this.urls(owner) : { web: "", auth: "", webhook: "" },
        updatedAt: script.modifiedOn,
      });
    }
    // Recorded here but gone from Cloudflare (deleted elsewhere): not deployed any more.
    const existing = new Set(remote.map((r) => r.name));
    return [...byName.values()].filter((env) => {
      const names = this.names(parseEnvironment(env.name)).map((n) => n.name);
      return names.some((n) => existing.has(n));
    });
  }

  /** The environment whose Worker is called `name`, by this checkout's naming; or undefined. */
  private ownerOf(name: string): Environment | undefined {
    for (const { name: production } of this.names(PRODUCTION)) {
      const base = production.slice(0, -`-${PRODUCTION.name}`.length);
      if (!name.startsWith(`${base}-`)) continue;
      try {
        return parseEnvironment(name.slice(base.length + 1));
      } catch {
        return undefined;
      }
    }
    return undefined;
  }

  /** The account's Workers, from the Cloudflare API (the same token and base URL as wrangler). */
  private async remoteScripts(): Promise<{ name: string; modifiedOn: string }[]> {
    const base = (this.options.apiBaseUrl ?? CLOUDFLARE_API).replace(/\/+$/, "");
    const url = `${base}/accounts/${encodeURIComponent(this.options.accountId)}/workers/scripts`;
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { authorization: `Bearer ${this.options.apiToken}`, accept: "application/json" },
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new PipelineError(
        "CLOUD_FAILED",
        `could not list the account's Workers: ${(error as Error).message}`,
        { hint: "Check the network, or CLOUDFLARE_API_BASE_URL if it is set.", cause: error },
      );
    }
    const body = (await response.json().catch(() => ({}))) as {
      success?: boolean;
      errors?: { code?: number; message?: string }[];
      result?: { id?: string; modified_on?: string }[];
    };
    if (!response.ok || body.success === false || !Array.isArray(body.result)) {
      const why = body.errors?.[0]?.message ?? `HTTP ${response.status}`;
      const denied = response.status === 401 || response.status === 403;
      throw new PipelineError(
        "CLOUD_FAILED",
        `Cloudflare refused to list the account's Workers: ${why}`,
        {
          kind: denied ? "user" : "system",
          hint: denied
            ? "CLOUDFLARE_API_TOKEN needs the Account › Workers Scripts › Edit permission on CLOUDFLARE_ACCOUNT_ID."
            : "Run the command again; Cloudflare's API may be having trouble.",
        },
      );
    }
    return body.result
      .filter((r): r is { id: string; modified_on?: string } => typeof r.id === "string")
      .map((r) => ({ name: r.id, modifiedOn: r.modified_on ?? "" }));
  }

  async delete(environment: Environment): Promise<boolean> {
    const env = checkEnvironment(environment);
    const state = await this.readState();
    // The names the configs give now, and any a past deploy recorded under another name.
    const targets = new Map<string, WorkerKind>();
    for (const { kind, name } of this.names(env)) targets.set(name, kind);
    for (const r of state.records) if (r.environment === env.name) targets.set(r.worker, r.kind);
    // The reverse of deploy order: nothing binds to web, and its siblings go only after it.
    const order: WorkerKind[] = ["web", "webhook", "auth"];
    const sorted = [...targets].sort((a, b) => order.indexOf(a[1]) - order.indexOf(b[1]));

    let existed = false;
    const deleted: string[] = [];
    for (const [index, [name, kind]] of sorted.entries()) {
      const result = await this.wrangler(kind, ["delete", "--name", name, "--force"]);
      if (result.code === 0) {
        existed = true;
        deleted.push(name);
      } else if (!NOT_FOUND_CODES.test(stripAnsi(result.stdout + result.stderr))) {
        throw new PipelineError(
          WRANGLER_FAILED,
          `deleting ${env.name} stopped at ${name}: deleted ${listNames(deleted)}; failed ${name}; ` +
            `not attempted ${listNames(sorted.slice(index + 1).map(([n]) => n))}.\n` +
            `wrangler delete ${describeExit(result)}:\n${tail(result, [])}`,
          { hint: `Run the cleanup again: Workers already gone count as deleted.` },
        );
      }
    }
    await this.updateState((s) => {
      s.records = s.records.filter((r) => r.environment !== env.name);
      s.releases = s.releases.filter((r) => r.environment !== env.name);
      s.current = Object.fromEntries(
        Object.entries(s.current).filter(([name]) => name !== env.name),
      );
    });
    return existed;
  }

  async checkRollback(environment: Environment, to?: string): Promise<void> {
    const env = checkEnvironment(environment);
    if (!(await this.recordedRollback(env, to))) this.parseReleaseId(env, to);
  }

  /**
   * The rollback this machine's record allows, or undefined when it recorded nothing for the
   * environment (a fresh runner, where Cloudflare's deployments decide).
   */
  private async recordedRollback(env: Environment, to: string | undefined) {
    const state = await this.readState();
    const releases = state.releases.filter((r) => r.environment === env.name);
    const currentId = state.current[env.name];
    const current = releases.find((r) => r.id === currentId);
    if (!current) return undefined;
    // What each Worker runs now: after a deploy that stopped halfway, not the current release.
    const live = new Map<WorkerKind, string>();
    for (const r of state.records) if (r.environment === env.name) live.set(r.kind, r.versionId);
    const intact = current.workers.every((w) => live.get(w.kind) === w.versionId);
    const target = to
      ? releases.find((r) => r.id === to)
      : intact
        ? releases[releases.indexOf(current) - 1]
        : current;
    if (!target) {
      throw userError(
        "NO_PREVIOUS_VERSION",
        to
          ? `${env.name} has no version ${to} (kept: ${releases.map((r) => r.id).join(", ")})`
          : `${env.name} has no version before ${current.id}`,
      );
    }
    const from = intact
      ? current.id
      : releaseId(current.workers.map((w) => ({ versionId: live.get(w.kind) ?? "--------" })));
    return { target, from, live };
  }

  /** `--to` as deploys print it: one version prefix per Worker, joined by dots. */
  private parseReleaseId(env: Environment, to: string | undefined): string[] | undefined {
    const count = this.names(env).length;
    const wanted = to?.split(".");
    if (wanted && (wanted.length !== count || wanted.some((w) => !/^[0-9a-f-]{1,36}$/i.test(w)))) {
      throw userError(
        "INVALID_ARGUMENT",
        `--to must be ${count} version prefixes joined by dots, as deploys print them (got "${to}")`,
      );
    }
    return wanted;
  }

  async rollback(environment: Environment, to?: string): Promise<{ from: string; to: string }> {
    const env = checkEnvironment(environment);
    const recorded = await this.recordedRollback(env, to);
    // Nothing recorded on this machine (a fresh CI runner): Cloudflare's deployments say it all.
    if (!recorded) return this.rollbackFromDeployments(env, to);
    const { target, from, live } = recorded;

    await this.rollbackWorkers(
      env,
      target.id,
      target.workers.map((w) => ({ ...w, skip: live.get(w.kind) === w.versionId })),
      "Run the rollback again: Workers already at the target version are skipped.",
      (w) =>
        this.updateState((s) => {
          s.records.push({
            environment: env.name,
            worker: w.worker,
            kind: w.kind,
            versionId: w.versionId,
            at: new Date().toISOString(),
            action: "rollback",
          });
        }),
    );
    await this.updateState((s) => {
      s.current[env.name] = target.id;
    });
    return { from, to: target.id };
  }

  /**
   * Rollback from Cloudflare's deployment history, for a machine that recorded no deploys: each
   * Worker goes back to the version its deployment before the current one served. `to` is a
   * combined id as deploys print them (the first 8 characters of each Worker's version id, in
   * deploy order), matched against each Worker's recent deployments.
   */
  private async rollbackFromDeployments(
    env: Environment,
    to?: string,
  ): Promise<{ from: string; to: string }> {
    const workers = this.names(env);
    const wanted = this.parseReleaseId(env, to);
    const plan: { kind: WorkerKind; worker: string; from: string; to: string }[] = [];
    for (const [index, { kind, name }] of workers.entries()) {
      const result = await this.wrangler(kind, ["deployments", "list", "--name", name, "--json"]);
      if (result.code !== 0) {
        if (NOT_FOUND_CODES.test(stripAnsi(result.stdout + result.stderr))) {
          throw userError("NOT_FOUND", `${env.name} has no deployed version to roll back from`);
        }
        throw new PipelineError(
          WRANGLER_FAILED,
          `could not read the deployments of ${name}: wrangler ${describeExit(result)}:\n${tail(result, [])}`,
        );
      }
      let deployments: { versions?: { version_id?: string; percentage?: number }[] }[];
      try {
        deployments = JSON.parse(result.stdout) as typeof deployments;
      } catch {
        throw new PipelineError(
          WRANGLER_FAILED,
          `wrangler printed no deployments list for ${name}`,
        );
      }
      // Oldest first; each deployment's main version is the one with the most traffic.
      const served = deployments
        .map(
          (d) =>
            [...(d.versions ?? [])].sort((a, b) => (b.percentage ?? 0) - (a.percentage ?? 0))[0]
              ?.version_id,
        )
        .filter((v): v is string => typeof v === "string");
      const live = served.at(-1);
      if (!live)
        throw userError("NOT_FOUND", `${env.name} has no deployed version to roll back from`);
      const prefix = wanted?.[index];
      const target = prefix
        ? [...served].reverse().find((v) => v.startsWith(prefix))
        : [...served].reverse().find((v) => v !== live);
      if (!target) {
        throw userError(
          "NO_PREVIOUS_VERSION",
          prefix
            ? `${name} has no recent deployment of a version starting ${prefix}`
            : `${env.name} has no version before the one it serves (${name} has one deployment)`,
        );
      }
      plan.push({ kind, worker: name, from: live, to: target });
    }
    const targetId = releaseId(plan.map((p) => ({ versionId: p.to })));
    await this.rollbackWorkers(
      env,
      targetId,
      plan.map((p) => ({ kind: p.kind, worker: p.worker, versionId: p.to, skip: p.from === p.to })),
      `Run it again with --to ${targetId}: Workers already there are skipped.`,
    );
    return { from: releaseId(plan.map((p) => ({ versionId: p.from }))), to: targetId };
  }

  /**
   * `wrangler rollback` of each Worker to its version, in order, skipping those already there.
   * A failure names the Workers rolled back, the one that failed and those not attempted.
   */
  private async rollbackWorkers(
    env: Environment,
    targetId: string,
    steps: { kind: WorkerKind; worker: string; versionId: string; skip: boolean }[],
    hint: string,
    after?: (step: { kind: WorkerKind; worker: string; versionId: string }) => Promise<void>,
  ): Promise<void> {
    const done: string[] = [];
    for (const [index, step] of steps.entries()) {
      if (step.skip) continue;
      const result = await this.wrangler(step.kind, [
        "rollback",
        step.versionId,
        "--name",
        step.worker,
        "--message",
        "codex rollback",
        "--yes",
      ]);
      if (result.code !== 0) {
        const rest = steps.slice(index + 1).map((s) => s.worker);
        throw new PipelineError(
          WRANGLER_FAILED,
          `rolling back ${env.name} to ${targetId} stopped at ${step.worker}: rolled back ${listNames(done)}; ` +
            `failed ${step.worker}; not attempted ${listNames(rest)}.\n` +
            `wrangler rollback ${describeExit(result)}:\n${tail(result, [])}`,
          { hint },
        );
      }
      done.push(step.worker);
      await after?.(step);
    }
  }

  private async readState(): Promise<CloudflareState> {
    return (await readJson<CloudflareState>(this.stateFile)) ?? emptyState();
  }

  /** Read, change and write the state under a lock: environments may deploy side by side. */
  private async updateState(change: (state: CloudflareState) => void): Promise<void> {
    await withLock(statePaths(dirname(this.stateFile)), "cloudflare-state", async () => {
      const state = await this.readState();
      change(state);
      await writeFileAtomic(this.stateFile, `${JSON.stringify(state, null, 2)}\n`, 0o600);
    });
  }
}

let resolvedWrangler: string | undefined;

/** The pinned wrangler's CLI script, as the repository's lockfile installed it. */
export function wranglerBin(): string {
  resolvedWrangler ??= createRequire(join(REPO_ROOT, "package.json")).resolve(
    "wrangler/bin/wrangler.js",
  );
  return resolvedWrangler;
}

/** "timed out", "exited with 1", or (for a deploy that exited 0) "printed no version id". */
function describeExit(result: CommandResult): string {
  if (result.code === TIMED_OUT) return "timed out (Cloudflare did not answer in time)";
  return result.code !== 0 ? `exited with ${result.code}` : "printed no version id";
}

/** wrangler colours its errors even with NO_COLOR set. */
function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching terminal escape sequences is the point
  return text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "");
}

/**
 * The end of a command's output for an error message, with every known secret value (and a
 * database URL's password on its own) replaced, should wrangler ever echo one.
 */
function tail(result: CommandResult, secrets: readonly string[]): string {
  const hidden = new Set<string>();
  for (const value of secrets) {
    if (value.length >= 4) hidden.add(value);
    try {
      const password = decodeURIComponent(new URL(value).password);
      if (password.length >= 4) hidden.add(password);
    } catch {
      // Not a URL: nothing more to hide.
    }
  }
  let text = stripAnsi(`${result.stdout}\n${result.stderr}`);
  for (const value of [...hidden].sort((a, b) => b.length - a.length)) {
    text = text.split(value).join("[redacted]");
  }
  return text
    .split("\n")
    .map((line) => line.trimEnd())
    .filter(Boolean)
    .slice(-20)
    .map((line) => `  ${line}`)
    .join("\n");
}
