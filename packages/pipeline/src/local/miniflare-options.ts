/**
 * Turns the registry into one Miniflare configuration: every live environment's Workers on one
 * port, routed by Host header, each bound to its own environment's siblings. Pure: the host
 * reads the files and passes their contents in.
 */
import { join } from "node:path";
import type { MiniflareOptions, WorkerOptions } from "miniflare";
import type { WranglerConfig } from "../core/derive";
import type { Registry, Version } from "./registry";
import { currentVersion } from "./registry";

export const FALLBACK_WORKER = "codex-local-fallback";

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

export function buildMiniflareOptions(
  registry: Registry,
  inputs: (environment: string) => EnvironmentInputs,
  options: { port: number; live: LiveEnvironment[] },
): MiniflareOptions {
  const workers: WorkerOptions[] = [fallbackWorker(options.live)];
  for (const env of options.live) {
    const record = registry.environments[env.name];
    const version = record && currentVersion(record);
    if (!version) continue;
    const input = inputs(env.name);
    for (const worker of version.workers) {
      const config = input.configs[worker.name];
      if (!config) continue;
      workers.push(workerOptions(worker, config, input, version));
    }
  }
  // CODEX_BIND_HOST=0.0.0.0 makes the environments reachable from outside a container.
  return { host: process.env.CODEX_BIND_HOST || "127.0.0.1", port: options.port, workers };
}

function workerOptions(
  worker: Version["workers"][number],
  config: WranglerConfig,
  input: EnvironmentInputs,
  version: Version,
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
  if (worker.kind === "web" && config.assets?.binding) {
    options.assets = {
      directory: version.assetsDir,
      binding: config.assets.binding,
      routerConfig: { has_user_worker: true },
    };
  }
  return options;
}

/** Answers every host no environment claims: a 404 page that lists the live environments. */
function fallbackWorker(live: LiveEnvironment[]): WorkerOptions {
  return {
    name: FALLBACK_WORKER,
    modules: true,
    script: FALLBACK_SCRIPT,
    compatibilityDate: "2026-04-20",
    bindings: { ENVIRONMENTS: JSON.stringify(live) },
  };
}

const FALLBACK_SCRIPT = `
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
export default {
  fetch(request, env) {
    const live = JSON.parse(env.ENVIRONMENTS);
    const host = new URL(request.url).host;
    const rows = live.map((e) => '<li><a href="' + escape(e.urls.web) + '">' + escape(e.name) + '</a> <small>' + escape(e.version) + '</small></li>').join("");
    const body = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>No environment here</title></head><body>' +
      '<h1>No environment at ' + escape(host) + '</h1>' +
      (live.length ? '<p>Live environments:</p><ul>' + rows + '</ul>' : '<p>No environment is live. Run <code>pnpm preview-deploy --pr 1</code>.</p>') +
      '</body></html>';
    if ((request.headers.get("accept") || "").includes("application/json")) {
      return Response.json({ error: "unknown_host", host, environments: live }, { status: 404 });
    }
    return new Response(body, { status: 404, headers: { "content-type": "text/html; charset=utf-8" } });
  },
};
`;
