/**
 * The Worker platform on Cloudflare: the real `wrangler` CLI deploys each environment's derived
 * configs, one Worker at a time in deploy order (auth, webhook, then web), so that every service
 * binding names a Worker that already exists. Secrets travel in a `--secrets-file` (mode 0600, in
 * a fresh temporary folder, removed whatever happens), never in argv.
 *
 * The folder keeps one concern per file: wrangler.ts runs the CLI, api.ts is the only place that
 * speaks HTTP to Cloudflare's API, state.ts records the versions each deploy made (see there),
 * rollback.ts goes back to one, and secrets.ts says which secrets a Worker gets.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { BUILD_PATHS, buildStack, webBuildIsCurrent, webCodeHash } from "../../../build";
import {
  deriveStack,
  loadStack,
  type DerivedStack,
  type DerivedWorker,
  type WorkerKind,
} from "../../../core/derive";
import {
  REPORT_WORKER_BASE,
  checkEnvironment,
  environmentFromWorker,
  parseEnvironment,
  reportWorkerName,
  type Environment,
} from "../../../core/environments";
import { durationFromEnv } from "../../../env";
import { OPTIONAL_SECRETS } from "../../../core/secrets";
import { PipelineError, userError } from "../../../errors";
import { REPO_ROOT, statePaths, withLock } from "../../../state";
import type { DeployedEnvironment, DeployResult, StackUrls, WorkerPlatform } from "../shared";
import { deleteSecret, listScripts, listSecretNames } from "./api";
import { deleteReport, publishReport, type PublishedReport } from "./report";
import {
  checkRollback,
  commitOfTag,
  liveRelease,
  releaseOf,
  rollback,
  rollbackTarget,
  type Platform,
} from "./rollback";
import { secretValues, secretsFromEnv, secretsOf, type SecretSource } from "./secrets";
import type { ReleaseHandle } from "../../../old-code";
import { buildCommit, findCommit, migrationsAt } from "../../../release-build";
import { StateFile, newReleaseTag, releaseId, type Release, type WorkerRecord } from "./state";
import {
  NOT_FOUND_CODES,
  WRANGLER_FAILED,
  WRANGLER_TIMEOUT_MS,
  Wrangler,
  describeExit,
  listNames,
  stripAnsi,
  tail,
  workerNames,
  type WranglerOptions,
} from "./wrangler";

export { secretsFromEnv, releaseId };
export type { PublishedReport };
export type { CloudflareState } from "./state";
export { runCommand, wranglerBin, type CommandResult, type CommandRunner } from "./wrangler";

const VERSION_ID =
  /Current Version ID:\s*([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/;
const WORKERS_DEV_URL = /https:\/\/[a-z0-9-]+\.([a-z0-9-]+)\.workers\.dev/;

export interface CloudflareOptions extends WranglerOptions {
  /** The account's workers.dev subdomain: urls() are https://<name>.<subdomain>.workers.dev. */
  workersSubdomain?: string;
  /** The JSON file recording each environment's deployed versions (for rollback and list). */
  stateFile?: string;
  /** The secret values each environment's Workers get, besides DATABASE_URL. */
  secrets?: SecretSource;
  /** The commit deployed (GITHUB_SHA), in each release's tag and message. */
  commit?: string;
  /**
   * Secrets a deploy of the environment leaves as the Workers hold them: not sent, and not
   * required, since a `--secrets-file` deploy keeps every secret the file does not name
   * (wrangler deploy --help: "Secrets from previous deployments will not be deleted").
   */
  kept?: (environment: Environment) => readonly string[];
  /**
   * Runs `deploy` (the web Worker's) while the web app's vite output is current and nobody
   * rebuilds it. The default takes build.ts's lock and reuses buildStack's vite step.
   */
  withWebBuild?: <T>(stack: DerivedStack, deploy: () => Promise<T>) => Promise<T>;
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
    ...(env.GITHUB_SHA ? { commit: env.GITHUB_SHA } : {}),
    ...overrides,
  });
}

/**
 * Runs `deploy` holding build.ts's build lock, once the vite output matches the sources: wrangler
 * reads apps/web/.svelte-kit while it bundles and uploads, and nobody may rewrite it meanwhile.
 * A stale output is rebuilt by buildStack (outside the lock, which buildStack takes itself).
 */
async function withCurrentWebBuild<T>(stack: DerivedStack, deploy: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const code = await webCodeHash();
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
  private readonly wrangler: Wrangler;
  private readonly state: StateFile;

  constructor(options: CloudflareOptions) {
    if (!options.apiToken)
      throw userError("INVALID_ARGUMENT", "a Cloudflare API token is required");
    if (!options.accountId) {
      throw userError("INVALID_ARGUMENT", "a Cloudflare account id is required");
    }
    this.options = options;
    this.wrangler = new Wrangler(options);
    this.state = new StateFile(options.stateFile ?? join(statePaths().root, "cloudflare.json"));
  }

  urls(environment: Environment): StackUrls {
    const subdomain = this.options.workersSubdomain ?? this.state.readSync()?.subdomain;
    if (!subdomain) {
      throw userError(
        "INVALID_ARGUMENT",
        "the account's workers.dev subdomain is unknown until the first deploy",
        "Set CLOUDFLARE_WORKERS_SUBDOMAIN (the <subdomain> of <name>.<subdomain>.workers.dev).",
      );
    }
    const byKind = Object.fromEntries(
      workerNames(environment).map(({ kind, name }) => [
        kind,
        `https://${name}.${subdomain}.workers.dev`,
      ]),
    ) as Record<WorkerKind, string>;
    return { web: byKind.web, auth: byKind.auth, webhook: byKind.webhook };
  }

  /**
   * Fails, naming it, when a secret some Worker of `stack` needs has no value, before anything
   * is created. `supplied` names values the caller will provide itself before the deploy.
   */
  async checkSecrets(stack: DerivedStack, supplied: readonly string[] = []): Promise<void> {
    const values = { ...(await secretValues(this.options.secrets, stack.environment)) };
    for (const name of supplied) values[name] ??= "(supplied)";
    for (const worker of stack.workers)
      secretsOf(worker, values, "(the branch's URL)", stack.environment);
  }

  /**
   * True when every Worker of `stack` that takes secret `name` holds one now (on Cloudflare,
   * which lists secret names, never values); false when one lacks it or does not exist yet.
   */
  async holdsSecret(stack: DerivedStack, name: string): Promise<boolean> {
    const takers = stack.workers.filter(
      (w) => w.secrets.includes(name) || OPTIONAL_SECRETS[w.kind].includes(name),
    );
    for (const worker of takers) {
      const names = await listSecretNames(this.options, worker.name);
      if (!names?.includes(name)) return false;
    }
    return takers.length > 0;
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
    const values = await secretValues(this.options.secrets, environment);
    const kept = this.options.kept?.(environment) ?? [];
    // Every secret is resolved before the first upload: a missing one must not leave half a stack.
    const plans = stack.workers.map((worker) => ({
      worker,
      secrets: secretsOf(worker, values, options.database, environment, kept),
    }));
    const withWebBuild = this.options.withWebBuild ?? withCurrentWebBuild;
    // One tag on every Worker of this deploy: how a runner with no state file tells releases apart.
    const tag = newReleaseTag(this.options.commit);

    const configs = await mkdtemp(join(tmpdir(), "codex-cloudflare-"));
    const deployed: WorkerRecord[] = [];
    try {
      for (const [index, { worker, secrets }] of plans.entries()) {
        try {
          const upload = () => this.deployWorker(configs, worker, secrets, tag);
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
          await this.state.update((state) => {
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
    await this.state.release(release);
    // A Worker without workers.dev prints no URL; then only an explicit subdomain can name one.
    const printed = (kind: WorkerKind) => deployed.find((d) => d.kind === kind)?.url ?? "";
    const subdomain = this.options.workersSubdomain ?? (await this.state.read()).subdomain;
    const urls = subdomain
      ? this.urls(environment)
      : { web: printed("web"), auth: printed("auth"), webhook: printed("webhook") };
    return { version: release.id, urls, built: true };
  }

  /**
   * One `wrangler deploy`, with the Worker's secrets in a 0600 file that never outlives it, tagged
   * with the release. `--secrets-file` keeps the secrets a version had and the file does not
   * name, so an optional secret no longer provided is deleted first: the release's version then
   * holds exactly the secrets it was given.
   */
  private async deployWorker(
    configs: string,
    worker: DerivedWorker,
    secrets: Record<string, string>,
    tag: string,
  ): Promise<{ versionId: string; url?: string }> {
    const config = join(configs, `${worker.kind}.json`);
    await writeFile(config, `${JSON.stringify(worker.config, null, 2)}\n`, { mode: 0o600 });
    await this.removeStaleSecrets(worker.kind, worker.name, secrets);
    const message = `codex deploy of ${this.options.commit?.slice(0, 12) ?? "a local checkout"}`;
    const result = await this.withSecretsFile(secrets, (secretsFile) =>
      this.wrangler.run(worker.kind, [
        "deploy",
        "--config",
        config,
        "--secrets-file",
        secretsFile,
        "--tag",
        tag,
        "--message",
        message,
      ]),
    );
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

  /** Runs `use` with `secrets` in a 0600 file, in a fresh folder that is removed whatever happens. */
  private async withSecretsFile<T>(
    secrets: Record<string, string>,
    use: (file: string) => Promise<T>,
  ): Promise<T> {
    const secretsDir = await mkdtemp(join(tmpdir(), "codex-secrets-"));
    try {
      const secretsFile = join(secretsDir, "secrets.json");
      await writeFile(secretsFile, JSON.stringify(secrets), { mode: 0o600, flag: "wx" });
      return await use(secretsFile);
    } finally {
      await rm(secretsDir, { recursive: true, force: true });
    }
  }

  /**
   * Deletes from Worker `name` the optional secrets (STRIPE_SECRET_KEY, ...) that `keep` does not
   * hold: unsetting one must take it off the Worker. Cloudflare deploys a version without it.
   */
  private async removeStaleSecrets(
    kind: WorkerKind,
    name: string,
    keep: Record<string, string>,
  ): Promise<void> {
    const stale = OPTIONAL_SECRETS[kind].filter((secret) => !(secret in keep));
    if (stale.length === 0) return;
    const held = (await listSecretNames(this.options, name)) ?? [];
    for (const secret of stale)
      if (held.includes(secret)) await deleteSecret(this.options, name, secret);
  }

  /**
   * The secrets each Worker of `environment` has now, as far as this run knows them: every value
   * the secrets source gives, and DATABASE_URL when `database` is given. By kind.
   */
  private async currentSecrets(
    environment: Environment,
    database: string | undefined,
  ): Promise<Map<WorkerKind, Record<string, string>>> {
    const values = await secretValues(this.options.secrets, environment);
    const stack = deriveStack(loadStack(REPO_ROOT), environment);
    return new Map(
      stack.workers.map((worker) => {
        const secrets: Record<string, string> = {};
        for (const name of [...worker.secrets, ...OPTIONAL_SECRETS[worker.kind]]) {
          const value = name === "DATABASE_URL" ? database : values[name];
          if (value) secrets[name] = value;
        }
        return [worker.kind, secrets];
      }),
    );
  }

  /**
   * Gives Worker `name` the secrets `secrets` again (one `wrangler secret bulk`, one new version)
   * and takes off the optional ones it does not name: after a rollback, which brings back the
   * old version's secrets.
   */
  private async reapplySecrets(
    kind: WorkerKind,
    name: string,
    secrets: Record<string, string>,
  ): Promise<void> {
    if (Object.keys(secrets).length > 0) {
      const result = await this.withSecretsFile(secrets, (file) =>
        this.wrangler.run(kind, ["secret", "bulk", file, "--name", name]),
      );
      if (result.code !== 0) {
        throw new PipelineError(
          WRANGLER_FAILED,
          `wrangler secret bulk for ${name} ${describeExit(result)}:\n${tail(result, Object.values(secrets))}`,
        );
      }
    }
    await this.removeStaleSecrets(kind, name, secrets);
  }

  /**
   * Publishes `e2eDir` (the Playwright report, screenshots, visual images) as the environment's
   * report Worker (report.ts), refusing any file that holds one of the environment's secrets.
   */
  async publishReport(
    environment: Environment,
    e2eDir: string,
    /** Other values that must not be published: the branch's DATABASE_URL, a run's tokens. */
    secrets: readonly string[] = [],
  ): Promise<PublishedReport> {
    const env = checkEnvironment(environment);
    const subdomain = this.options.workersSubdomain ?? (await this.state.read()).subdomain;
    if (!subdomain) {
      throw userError(
        "INVALID_ARGUMENT",
        "the account's workers.dev subdomain is unknown, so the report's URL is too",
        "Set CLOUDFLARE_WORKERS_SUBDOMAIN (the <subdomain> of <name>.<subdomain>.workers.dev).",
      );
    }
    const known = [
      this.options.apiToken,
      ...secrets,
      ...Object.values(await secretValues(this.options.secrets, env)),
    ];
    return publishReport(this.wrangler, env, e2eDir, { subdomain, secrets: known });
  }

  /**
   * Every environment with Workers on the account: what this machine recorded, merged with
   * Cloudflare's own list of Workers, so that a fresh CI runner (which recorded nothing) still
   * sees, sweeps and reports what earlier runs deployed.
   */
  async list(): Promise<DeployedEnvironment[]> {
    const state = await this.state.read();
    const remote = await listScripts(this.options);
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
    // A report Worker left alone (a cleanup stopped halfway) still makes its preview known.
    const bases = [...loadStack(REPO_ROOT).map((w) => w.config.name), REPORT_WORKER_BASE];
    for (const script of remote) {
      const owner = environmentFromWorker(script.name, bases);
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
      const parsed = parseEnvironment(env.name);
      const names = [...workerNames(parsed).map((n) => n.name), reportWorkerName(parsed)];
      return names.some((n) => existing.has(n));
    });
  }

  async delete(environment: Environment): Promise<boolean> {
    const env = checkEnvironment(environment);
    const state = await this.state.read();
    // The names the configs give now, and any a past deploy recorded under another name.
    const targets = new Map<string, WorkerKind>();
    for (const { kind, name } of workerNames(env)) targets.set(name, kind);
    for (const r of state.records) if (r.environment === env.name) targets.set(r.worker, r.kind);
    // The reverse of deploy order: nothing binds to web, and its siblings go only after it.
    const order: WorkerKind[] = ["web", "webhook", "auth"];
    const sorted = [...targets].sort((a, b) => order.indexOf(a[1]) - order.indexOf(b[1]));

    // The report Worker first: nothing binds to it, and a preview is gone only with it.
    let existed = await deleteReport(this.wrangler, env);
    const deleted: string[] = existed ? [reportWorkerName(env)] : [];
    for (const [index, [name, kind]] of sorted.entries()) {
      const result = await this.wrangler.run(kind, ["delete", "--name", name, "--force"]);
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
    await this.state.forget(env.name);
    return existed;
  }

  /** What rollback.ts works with; `secrets` are what each Worker gets again once rolled back. */
  private parts(secrets = new Map<WorkerKind, Record<string, string>>()): Platform {
    return {
      state: this.state,
      wrangler: this.wrangler,
      api: this.options,
      reapplySecrets: ({ kind, worker }) =>
        this.reapplySecrets(kind, worker, secrets.get(kind) ?? {}),
    };
  }

  async checkRollback(environment: Environment, to?: string): Promise<undefined> {
    await checkRollback(this.parts(), checkEnvironment(environment), to);
    return undefined;
  }

  async rollbackTarget(environment: Environment, to?: string): Promise<string | undefined> {
    return rollbackTarget(this.parts(), checkEnvironment(environment), to);
  }

  /**
   * The release `version` names (what the environment serves now by default), rebuilt from the
   * commit its release tag names (release-build.ts): Cloudflare's versions give back the tag,
   * not the modules. Unavailable, with the reason, when the Workers were deployed without a
   * commit, from different commits, or from one this clone does not have.
   */
  async release(environment: Environment, version?: string): Promise<ReleaseHandle | undefined> {
    const env = checkEnvironment(environment);
    const workers = await releaseOf(this.parts(), env, version);
    if (!workers) return undefined;
    const id = releaseId(workers);
    const unavailable = (why: string): ReleaseHandle => ({
      version: id,
      source: "not available",
      unavailable: why,
      load: () => Promise.reject(new PipelineError("NOT_FOUND", why)),
    });
    const untagged = workers.find((w) => !w.tag);
    if (untagged) {
      return unavailable(
        `${untagged.name}'s version ${untagged.versionId.slice(0, 8)} has no codex release tag, so its commit is unknown`,
      );
    }
    const commits = new Set(workers.map((w) => commitOfTag(w.tag ?? "")));
    const [commit] = commits;
    if (commits.size > 1) {
      return unavailable(`release ${id}'s Workers were deployed from different commits`);
    }
    if (!commit) {
      return unavailable(
        `release ${id} was deployed without a commit (no GITHUB_SHA), so it cannot be rebuilt`,
      );
    }
    const found = await findCommit(commit);
    if ("missing" in found) {
      return unavailable(`release ${id} was deployed from commit ${commit}, but ${found.missing}`);
    }
    const full = found.commit;
    const migrations = await migrationsAt(full);
    const paths = statePaths(dirname(this.state.file));
    return {
      version: id,
      ...(migrations === undefined ? {} : { migrations }),
      source: `built from commit ${full.slice(0, 12)}`,
      load: async () => {
        const built = await buildCommit({ commit: full, environment: env, paths });
        const urls = this.options.workersSubdomain ? this.urls(env) : undefined;
        const hostname = (kind: WorkerKind, name: string) =>
          urls ? new URL(urls[kind]).hostname : `${name}.release.invalid`;
        return {
          version: id,
          migrations: built.migrations,
          workers: built.workers.map((w) => ({ ...w, hostname: hostname(w.kind, w.name) })),
          assetsDir: built.assetsDir,
          configs: built.configs,
          secrets: await this.releaseSecrets(env),
        };
      },
    };
  }

  /** The secret values the environment's Workers run with, DATABASE_URL aside (old-code.ts's). */
  private async releaseSecrets(environment: Environment): Promise<Record<string, string>> {
    const values = await secretValues(this.options.secrets, environment);
    const { DATABASE_URL: _, ...rest } = values;
    return rest;
  }

  /** What each Worker serves now, from Cloudflare's deployments (not this machine's record). */
  live(environment: Environment): Promise<string | undefined> {
    return liveRelease(this.parts(), checkEnvironment(environment));
  }

  async rollback(
    environment: Environment,
    to?: string,
    options: { database?: string } = {},
  ): Promise<{ from: string; to: string }> {
    const env = checkEnvironment(environment);
    const secrets = await this.currentSecrets(env, options.database);
    return rollback(this.parts(secrets), env, to);
  }
}
