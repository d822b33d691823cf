/**
 * Turns the registry into Miniflare configurations, one per live environment. Pure: the host
 * reads the files and passes their contents in.
 */
import { join } from "node:path";
import type { MiniflareOptions, WorkerOptions } from "miniflare";
import type { WranglerConfig } from "../core/derive";
import type { Registry, Version } from "./registry";
import { currentVersion } from "./registry";

export interface EnvironmentInputs {
  /** Derived configs by Worker name. */
  configs: Record<string, WranglerConfig>;
  /** Secret bindings shared by the environment's Workers (not DATABASE_URL). */
  secrets: Record<string, string>;
  databaseUrl: string;
}

export interface LiveEnvironment {
  name: string;
  version: string;
  urls: { web: string; auth: string; webhook: string };
}

/** What a runtime needs of a version: its bundles and assets (not where its configs were read). */
export interface ServedVersion {
  workers: readonly Omit<Version["workers"][number], "configPath">[];
  assetsDir: string;
}

export function environmentUrl(hostname: string, port: number): string {
  return `http://${hostname}:${port}`;
}

/** The environments that can be served: a current version whose bundles all exist. */
export function liveEnvironments(
  registry: Registry,
  port: number,
  bundleExists: (version: Version) => boolean,
): LiveEnvironment[] {
  const live: LiveEnvironment[] = [];
  for (const record of Object.values(registry.environments)) {
    const version = currentVersion(record);
    if (!version || !bundleExists(version)) continue;
    const host = (kind: string) =>
      environmentUrl(version.workers.find((w) => w.kind === kind)?.hostname ?? "", port);
    live.push({
      name: record.name,
      version: version.id,
      urls: { web: host("web"), auth: host("auth"), webhook: host("webhook") },
    });
  }
  return live.sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));
}

/**
 * One environment's own Miniflare: its Workers, each bound to its siblings by name (so a binding
 * cannot reach another environment's Workers: they live in another runtime), routed by Host
 * header among themselves. It listens on a loopback port the OS picks; only the front server
 * (front.ts) is reached from outside, and it forwards each request with its Host header.
 */
export function environmentOptions(
  version: ServedVersion,
  input: EnvironmentInputs,
): MiniflareOptions {
  const workers: WorkerOptions[] = [];
  for (const worker of version.workers) {
    const config = input.configs[worker.name];
    if (config) workers.push(workerOptions(worker, config, input, version));
  }
  return { host: "127.0.0.1", port: 0, workers };
}

function workerOptions(
  worker: ServedVersion["workers"][number],
  config: WranglerConfig,
  input: EnvironmentInputs,
  version: Pick<Version, "assetsDir">,
): WorkerOptions {
  const vars: Record<string, string> = {};
  for (const [key, value] of Object.entries(config.vars ?? {})) {
    vars[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  const serviceBindings: Record<string, string> = {};
  for (const service of config.services ?? []) serviceBindings[service.binding] = service.service;
  const options: WorkerOptions = {
    name: worker.name,
    // wrangler's bundles keep non-literal import()s, which Miniflare cannot follow on its own.
    modules: [{ type: "ESModule", path: join(worker.bundleDir, worker.main) }],
    modulesRoot: worker.bundleDir,
    compatibilityDate: config.compatibility_date ?? "2026-04-20",
    compatibilityFlags: config.compatibility_flags ?? [],
    bindings: { ...vars, ...input.secrets, DATABASE_URL: input.databaseUrl },
    serviceBindings,
    routes: [`${worker.hostname}/*`],
  };
  // Miniflare 4.20260426 gives every Worker's asset storage one name and keeps the first: two web
  // Workers in one instance would both serve the first one's files. One web Worker per instance.
  if (worker.kind === "web" && config.assets?.binding) {
    options.assets = {
      directory: version.assetsDir,
      binding: config.assets.binding,
      routerConfig: { has_user_worker: true },
    };
  }
  return options;
}
