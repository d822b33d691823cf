/**
 * Per-environment config derivation. Each deployable's wrangler config is the single source of
 * truth; from it we derive the concrete config of one environment (its Worker name, its
 * `ENVIRONMENT`, service bindings rewired to the same environment's siblings, no routes for
 * previews). The local target serves exactly what `wrangler deploy` would upload.
 *
 * Everything here is pure except `readWranglerConfig`, the one function that reads a file.
 */
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parse, printParseErrorCode, type ParseError } from "jsonc-parser";
import { PipelineError, userError } from "../errors";
import {
  checkEnvironment,
  showInput,
  workerName,
  type Environment,
  type EnvironmentKind,
} from "./environments";
import { WORKER_SECRETS } from "./secrets";

export type WorkerKind = "web" | "auth" | "webhook";

export interface ServiceBinding {
  binding: string;
  service: string;
  entrypoint?: string;
}

/** The parts of a wrangler config the pipeline reads or rewrites; everything else passes through. */
export interface WranglerConfig {
  name: string;
  main?: string;
  compatibility_date?: string;
  compatibility_flags?: string[];
  vars?: Record<string, unknown>;
  services?: ServiceBinding[];
  routes?: unknown[];
  route?: unknown;
  assets?: { directory?: string; binding?: string; [k: string]: unknown };
  env?: Record<string, Partial<WranglerConfig> & Record<string, unknown>>;
  [key: string]: unknown;
}

export interface StackWorker {
  kind: WorkerKind;
  /** Absolute path of its wrangler.jsonc. */
  configPath: string;
  config: WranglerConfig;
}

export interface DerivedWorker {
  kind: WorkerKind;
  /** The Worker's name in this environment. */
  name: string;
  /** The concrete config: no `env` key, absolute paths. */
  config: WranglerConfig;
  /** Names of the secrets this Worker needs in this environment (values are never here). */
  secrets: string[];
}

export interface DerivedStack {
  environment: Environment;
  /** In deploy order: every Worker after the Workers it binds to (auth, webhook, then web). */
  workers: DerivedWorker[];
}

/** Where each deployable's wrangler config lives, relative to the repo root. */
export const STACK_CONFIGS: readonly { kind: WorkerKind; path: string }[] = Object.freeze([
  { kind: "web", path: "apps/web/wrangler.jsonc" },
  { kind: "auth", path: "workers/auth/wrangler.jsonc" },
  { kind: "webhook", path: "workers/stripe-webhook-handler/wrangler.jsonc" },
]);

/** Environments that have an `env.<name>` section in wrangler configs; previews never do. */
const SECTION_ENVIRONMENTS: ReadonlySet<EnvironmentKind> = new Set(["production", "staging"]);

/** Suffixes a section may use to name a sibling, e.g. "auth-worker-production". */
const SIBLING_SUFFIXES = ["", "-staging", "-production"];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalid(path: string, message: string, hint?: string): PipelineError {
  return userError("CONFIG_INVALID", `${path}: ${message}`, hint);
}

/** 1-based line and column of `offset` in `text`, as editors show them. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf("\n") + 1;
  return { line: before.split("\n").length, column: offset - lineStart + 1 };
}

/** Checks the fields the derivation relies on, so a malformed config fails here and not later. */
function checkShape(path: string, config: Record<string, unknown>, where: string): void {
  const at = (key: string) => (where ? `${where}.${key}` : key);
  for (const key of ["name", "main"]) {
    if (key in config && typeof config[key] !== "string") {
      throw invalid(path, `"${at(key)}" must be a string`);
    }
  }
  if ("vars" in config && !isRecord(config.vars)) {
    throw invalid(path, `"${at("vars")}" must be an object`);
  }
  if ("assets" in config) {
    const assets = config.assets;
    if (!isRecord(assets) || ("directory" in assets && typeof assets.directory !== "string")) {
      throw invalid(path, `"${at("assets")}" must be an object with a string "directory"`);
    }
  }
  if ("services" in config) {
    const services = config.services;
    if (!Array.isArray(services)) throw invalid(path, `"${at("services")}" must be an array`);
    services.forEach((service: unknown, i) => {
      if (
        !isRecord(service) ||
        typeof service.binding !== "string" ||
        typeof service.service !== "string" ||
        ("entrypoint" in service && typeof service.entrypoint !== "string")
      ) {
        throw invalid(
          path,
          `"${at(`services[${i}]`)}" must be { "binding": string, "service": string, "entrypoint"?: string }`,
        );
      }
    });
  }
}

/** Checks a whole config, top level and `env` sections. */
function checkConfig(path: string, value: unknown): asserts value is WranglerConfig {
  if (!isRecord(value)) throw invalid(path, "the config must be a JSON object");
  if (typeof value.name !== "string" || value.name === "") {
    throw invalid(path, `"name" must be a non-empty string`);
  }
  checkShape(path, value, "");
  if ("env" in value) {
    if (!isRecord(value.env)) throw invalid(path, `"env" must be an object`);
    for (const [envName, section] of Object.entries(value.env)) {
      if (!isRecord(section)) throw invalid(path, `"env.${envName}" must be an object`);
      checkShape(path, section, `env.${envName}`);
    }
  }
}

/**
 * Reads and parses one wrangler.jsonc (comments and trailing commas allowed, as wrangler allows).
 * Syntax errors name the file, line and column.
 */
export function readWranglerConfig(path: string): WranglerConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new PipelineError("CONFIG_INVALID", `cannot read wrangler config ${path}`, {
      kind: "user",
      hint: "Check that the file exists and is readable.",
      cause,
    });
  }
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  const errors: ParseError[] = [];
  const value: unknown = parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  const first = errors[0];
  if (first) {
    const { line, column } = lineColumn(text, first.offset);
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
    throw userError(
      "CONFIG_INVALID",
      `${path}:${line}:${column}: ${printParseErrorCode(first.error)}${more}`,
      "Fix the JSONC syntax at that position.",
    );
  }
  checkConfig(path, value);
  return value;
}

/** Reads the stack's three wrangler configs from a checkout at `repoRoot`. */
export function loadStack(repoRoot: string): StackWorker[] {
  const root = resolve(repoRoot);
  return STACK_CONFIGS.map(({ kind, path }) => {
    const configPath = join(root, path);
    return { kind, configPath, config: readWranglerConfig(configPath) };
  });
}

/**
 * The top-level config with the environment's section laid over it, as wrangler does: a key
 * present in the section replaces the top-level one whole (so `vars` and `services` are never
 * merged key by key). Keys the section lacks come from the top level.
 */
function mergeSection(worker: StackWorker, env: Environment): Record<string, unknown> {
  const top = structuredClone(worker.config) as Record<string, unknown>;
  const section = SECTION_ENVIRONMENTS.has(env.kind) ? worker.config.env?.[env.name] : undefined;
  // The section's own name is what the cloud already runs; a different one would deploy a second Worker.
  const expected = workerName(worker.config.name, env);
  if (section?.name !== undefined && section.name !== expected) {
    throw invalid(
      worker.configPath,
      `"env.${env.name}.name" is "${section.name}" but the pipeline names this Worker "${expected}"`,
      `Set "env.${env.name}.name" to "${expected}", or remove it.`,
    );
  }
  const merged: Record<string, unknown> = { ...top, ...structuredClone(section ?? {}) };
  delete merged.env;
  delete merged.$schema;
  return merged;
}

/** Finds the stack Worker a service binding names, by base name or base name + section suffix. */
function resolveSibling(
  service: string,
  byBaseName: ReadonlyMap<string, number>,
): number | undefined {
  // An exact base-name match wins, so a Worker whose base name ends in "-staging" stays reachable.
  for (const suffix of SIBLING_SUFFIXES) {
    if (suffix === "" || service.endsWith(suffix)) {
      const index = byBaseName.get(service.slice(0, service.length - suffix.length));
      if (index !== undefined) return index;
    }
  }
  return undefined;
}

/** Kahn's algorithm; among ready Workers the input order decides, so output is deterministic. */
function deployOrder(workers: readonly StackWorker[], deps: readonly Set<number>[]): number[] {
  const done = new Set<number>();
  const order: number[] = [];
  while (order.length < workers.length) {
    const next = workers.findIndex(
      (_, i) => !done.has(i) && [...(deps[i] ?? [])].every((d) => done.has(d)),
    );
    if (next === -1) {
      throw userError(
        "CONFIG_INVALID",
        `service bindings form a cycle: ${describeCycle(workers, deps, done)}`,
        "A Worker must be deployable before the Workers that bind to it; remove one binding of the cycle.",
      );
    }
    done.add(next);
    order.push(next);
  }
  return order;
}

/** Follows dependencies among the unplaced Workers until one repeats, and prints that loop. */
function describeCycle(
  workers: readonly StackWorker[],
  deps: readonly Set<number>[],
  done: ReadonlySet<number>,
): string {
  const start = workers.findIndex((_, i) => !done.has(i));
  const path: number[] = [];
  let current = start;
  while (!path.includes(current)) {
    path.push(current);
    current = [...(deps[current] ?? [])].find((d) => !done.has(d)) ?? start;
  }
  const loop = [...path.slice(path.indexOf(current)), current];
  return loop.map((i) => `${workers[i]?.config.name} (${workers[i]?.configPath})`).join(" -> ");
}

/** Derives the concrete configs of the whole stack in `env`, in deploy order. Inputs are not mutated. */
export function deriveStack(workers: StackWorker[], env: Environment): DerivedStack {
  const environment = checkEnvironment(env);

  const byBaseName = new Map<string, number>();
  workers.forEach((worker, i) => {
    checkConfig(worker.configPath, worker.config);
    if (!isAbsolute(worker.configPath)) {
      // Relative paths would resolve against the process's cwd, which this module never reads.
      throw new PipelineError(
        "INVALID_ARGUMENT",
        `configPath must be absolute (got "${showInput(worker.configPath)}")`,
      );
    }
    const other = byBaseName.get(worker.config.name);
    if (other !== undefined) {
      throw invalid(
        worker.configPath,
        `Worker name "${worker.config.name}" is also used by ${workers[other]?.configPath}`,
      );
    }
    byBaseName.set(worker.config.name, i);
  });
  const names = workers.map((worker) => workerName(worker.config.name, environment));

  const deps = workers.map(() => new Set<number>());
  const configs = workers.map((worker, i): WranglerConfig => {
    const config = mergeSection(worker, environment);
    const name = names[i] as string;
    config.name = name;
    config.vars = { ...(isRecord(config.vars) ? config.vars : {}), ENVIRONMENT: environment.name };

    if (Array.isArray(config.services)) {
      config.services = (config.services as ServiceBinding[]).map((service) => {
        const sibling = resolveSibling(service.service, byBaseName);
        if (sibling === undefined) {
          throw userError(
            "UNKNOWN_SERVICE",
            `${worker.configPath}: binding "${service.binding}" names service "${service.service}", ` +
              `which is not a Worker of this stack (${[...byBaseName.keys()].join(", ")})`,
            "Name a sibling by its base name, for example the top-level name of its wrangler config.",
          );
        }
        deps[i]?.add(sibling);
        return { ...service, service: names[sibling] as string };
      });
    }

    if (environment.kind === "preview") {
      // Previews live on workers.dev only: a route or custom domain would claim a real hostname.
      delete config.routes;
      delete config.route;
      config.workers_dev = true;
    } else if (typeof config.workers_dev !== "boolean") {
      // Written out, as wrangler 4.86 would default it: on workers.dev only without a route (the
      // smoke checks and the URLs the pipeline prints are the workers.dev ones).
      const routed =
        (Array.isArray(config.routes) && config.routes.length > 0) || config.route !== undefined;
      config.workers_dev = !routed;
    }
    // Version preview URLs (<version>-<name>.<subdomain>.workers.dev) would serve any uploaded
    // version, with the environment's secrets, on a public URL: off for every kind. Left unset,
    // wrangler 4.86 sends no value and Cloudflare decides (wrangler's own API mock enables them
    // with workers.dev). A preview is a Worker of its own; it needs no version URLs either.
    config.preview_urls = false;

    const base = dirname(worker.configPath);
    if (typeof config.main === "string") config.main = resolve(base, config.main);
    if (isRecord(config.assets) && typeof config.assets.directory === "string") {
      config.assets = { ...config.assets, directory: resolve(base, config.assets.directory) };
    }
    return config as WranglerConfig;
  });

  const order = deployOrder(workers, deps);
  return {
    environment,
    workers: order.map((i) => {
      const worker = workers[i] as StackWorker;
      return {
        kind: worker.kind,
        name: names[i] as string,
        config: configs[i] as WranglerConfig,
        secrets: [...WORKER_SECRETS[worker.kind][environment.kind]],
      };
    }),
  };
}
