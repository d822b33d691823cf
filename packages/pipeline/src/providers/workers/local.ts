/**
 * The Worker platform on the local host: an environment's version is its derived configs and
 * wrangler's bundles under .codex/envs/<env>/versions/<id>/; deploying writes them, points the
 * registry at them, and asks the host to reload. Bundles are written before the registry points
 * at them, so an interrupted deploy never leaves a route to a missing bundle.
 */
import { chmod, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { DerivedStack, WorkerKind } from "../../core/derive";
import { checkEnvironment, localHostnames, type Environment } from "../../core/environments";
import { PipelineError, userError } from "../../errors";
import { listMigrations } from "@codex/database/migrate";
import { buildStack, codeHash, versionHash, webCodeHash } from "../../build";
import type { WranglerConfig } from "../../core/derive";
import type { ReleaseBundles, ReleaseHandle } from "../../old-code";
import { reloadHost } from "../../local/host-client";
import { environmentUrl } from "../../local/miniflare-options";
import {
  currentVersion,
  readRegistry,
  updateRegistry,
  type EnvironmentRecord,
  type Version,
} from "../../local/registry";
import { readJson, withLock, writeFileAtomic, type StatePaths } from "../../state";
import type { DeployedEnvironment, DeployResult, StackUrls, WorkerPlatform } from "./shared";

/** How many versions each environment keeps for rollback. */
export const KEEP_VERSIONS = 5;

function randomSecret(prefix = ""): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return prefix + Buffer.from(bytes).toString("base64url");
}

export class LocalWorkerPlatform implements WorkerPlatform {
  constructor(
    private readonly paths: StatePaths,
    private readonly port: number,
  ) {}

  private lock = <T>(name: string, fn: () => Promise<T>) => withLock(this.paths, name, fn);

  urls(environment: Environment): StackUrls {
    const hosts = localHostnames(environment);
    return {
      web: environmentUrl(hosts.web, this.port),
      auth: environmentUrl(hosts.auth, this.port),
      webhook: environmentUrl(hosts.webhook, this.port),
    };
  }

  /** Records the environment before anything is built, so that cleanup and status can see it. */
  async register(input: Environment, database: string): Promise<void> {
    const environment = checkEnvironment(input);
    const now = new Date().toISOString();
    await updateRegistry(
      this.paths,
      (registry) => {
        const existing = registry.environments[environment.name];
        registry.environments[environment.name] = existing
          ? { ...existing, database, updatedAt: now }
          : {
              name: environment.name,
              kind: environment.kind,
              ...(environment.pr === undefined ? {} : { pr: environment.pr }),
              database,
              createdAt: now,
              updatedAt: now,
              versions: [],
            };
      },
      this.lock,
    );
  }

  /** The environment's generated local secrets, made once and kept (mode 0600). */
  async secrets(environment: Environment): Promise<Record<string, string>> {
    const file = join(this.paths.env(environment.name), "secrets.json");
    const existing = await readJson<Record<string, string>>(file);
    if (existing) return existing;
    const secrets = {
      SESSION_SECRET: randomSecret(),
      STRIPE_WEBHOOK_SECRET: randomSecret("whsec_"),
    };
    await writeFileAtomic(file, JSON.stringify(secrets), 0o600);
    await chmod(file, 0o600);
    return secrets;
  }

  async deploy(
    stack: DerivedStack,
    options: { database: string; rebuild?: boolean },
  ): Promise<DeployResult> {
    // Checked before anything is recorded, written or built.
    const environment = checkEnvironment(stack.environment);
    await this.register(environment, options.database);
    await this.secrets(environment);
    const code = await codeHash();
    const hash = versionHash(code, stack);
    const registry = await readRegistry(this.paths);
    const record = registry.environments[environment.name] as EnvironmentRecord;
    const current = currentVersion(record);
    let version: Version;
    let built = false;
    if (current && current.sourceHash === hash && !options.rebuild) {
      version = current;
    } else {
      const id = `v${record.versions.reduce((n, v) => Math.max(n, Number(v.id.slice(1)) || 0), 0) + 1}`;
      const versionDir = join(this.paths.env(environment.name), "versions", id);
      const result = await buildStack(stack, await webCodeHash(), versionDir);
      const hosts = localHostnames(environment);
      const hostOf: Record<WorkerKind, string> = {
        web: hosts.web,
        auth: hosts.auth,
        webhook: hosts.webhook,
      };
      version = {
        id,
        createdAt: new Date().toISOString(),
        sourceHash: hash,
        migrations: listMigrations().length,
        assetsDir: result.assetsDir,
        workers: result.workers.map((w) => ({ ...w, hostname: hostOf[w.kind] })),
      };
      built = true;
    }
    await this.activate(environment, version);
    return { version: version.id, urls: this.urls(environment), built };
  }

  /** Points the registry at `version` (adding it when new), prunes old versions, reloads the host. */
  private async activate(environment: Environment, version: Version): Promise<void> {
    const pruned: string[] = [];
    await updateRegistry(
      this.paths,
      (registry) => {
        const record = registry.environments[environment.name];
        if (!record)
          throw new PipelineError("NOT_FOUND", `${environment.name} vanished from the registry`);
        if (!record.versions.some((v) => v.id === version.id)) record.versions.push(version);
        record.current = version.id;
        record.updatedAt = new Date().toISOString();
        while (record.versions.length > KEEP_VERSIONS) {
          const old = record.versions.shift();
          if (old) pruned.push(old.id);
        }
      },
      this.lock,
    );
    await reloadHost(this.paths, this.port);
    for (const id of pruned) {
      await rm(join(this.paths.env(environment.name), "versions", id), {
        recursive: true,
        force: true,
      });
    }
  }

  async list(): Promise<DeployedEnvironment[]> {
    const registry = await readRegistry(this.paths);
    return Object.values(registry.environments).map((record) => {
      const hosts = Object.fromEntries(
        (currentVersion(record)?.workers ?? []).map((w) => [
          w.kind,
          environmentUrl(w.hostname, this.port),
        ]),
      ) as Partial<StackUrls>;
      return {
        name: record.name,
        ...(record.current ? { version: record.current } : {}),
        versions: record.versions.map((v) => v.id),
        urls: { web: hosts.web ?? "", auth: hosts.auth ?? "", webhook: hosts.webhook ?? "" },
        updatedAt: record.updatedAt,
      };
    });
  }

  async delete(input: Environment): Promise<boolean> {
    // A name is a folder below envs/: an unchecked one could reach anywhere in the state.
    const environment = checkEnvironment(input);
    let existed = false;
    await updateRegistry(
      this.paths,
      (registry) => {
        existed = environment.name in registry.environments;
        registry.environments = Object.fromEntries(
          Object.entries(registry.environments).filter(([name]) => name !== environment.name),
        );
      },
      this.lock,
    );
    // Reload even when it was not registered: a half-finished earlier cleanup may have left routes.
    await reloadHost(this.paths, this.port);
    await rm(this.paths.env(environment.name), { recursive: true, force: true });
    return existed;
  }

  async live(input: Environment): Promise<string | undefined> {
    const environment = checkEnvironment(input);
    return (await readRegistry(this.paths)).environments[environment.name]?.current;
  }

  /** The version a rollback would serve; refused (a user error) when there is none. */
  async checkRollback(input: Environment, to?: string): Promise<string> {
    return (await this.rollbackPlan(checkEnvironment(input), to)).target.id;
  }

  async release(input: Environment, id?: string): Promise<ReleaseHandle | undefined> {
    const environment = checkEnvironment(input);
    const record = (await readRegistry(this.paths)).environments[environment.name];
    const version = record?.versions.find((v) => v.id === (id ?? record.current));
    if (!version) return undefined;
    const migrations = version.migrations === undefined ? {} : { migrations: version.migrations };
    // The bundles this machine built for the version, still on disk.
    const load = async (): Promise<ReleaseBundles> => {
      const configs: Record<string, WranglerConfig> = {};
      for (const worker of version.workers) {
        const config = await readJson<WranglerConfig>(worker.configPath);
        if (config) configs[worker.name] = config;
      }
      return {
        version: version.id,
        ...migrations,
        workers: version.workers,
        assetsDir: version.assetsDir,
        configs,
        secrets: await this.secrets(environment),
      };
    };
    return { version: version.id, ...migrations, source: "its recorded bundles", load };
  }

  async rollbackTarget(input: Environment, to?: string): Promise<string | undefined> {
    return (await this.rollbackPlan(checkEnvironment(input), to)).target.id;
  }

  async rollback(input: Environment, to?: string): Promise<{ from: string; to: string }> {
    const environment = checkEnvironment(input);
    const { from, target } = await this.rollbackPlan(environment, to);
    await this.activate(environment, target);
    return { from, to: target.id };
  }

  /** The version a rollback serves, read from the registry; refused when there is none. */
  private async rollbackPlan(
    environment: Environment,
    to: string | undefined,
  ): Promise<{ from: string; target: Version }> {
    const registry = await readRegistry(this.paths);
    const record = registry.environments[environment.name];
    if (!record?.current) {
      throw userError("NOT_FOUND", `${environment.name} has no deployed version to roll back from`);
    }
    const index = record.versions.findIndex((v) => v.id === record.current);
    const target = to ? record.versions.find((v) => v.id === to) : record.versions[index - 1];
    if (!target) {
      throw userError(
        "NO_PREVIOUS_VERSION",
        to
          ? `${environment.name} has no version ${to} (kept: ${record.versions.map((v) => v.id).join(", ")})`
          : `${environment.name} has no version before ${record.current}`,
      );
    }
    return { from: record.current, target };
  }
}

export async function ensureEnvDir(paths: StatePaths, environment: Environment): Promise<string> {
  const dir = paths.env(environment.name);
  await mkdir(dir, { recursive: true });
  return dir;
}
