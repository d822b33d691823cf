/**
 * The resident local host: one process that owns the embedded Postgres server, one Miniflare
 * (one workerd) per environment in the registry, and the front server that routes the one port
 * to them by Host header. The pipeline starts it on demand (detached) and tells it to reload
 * after each change; a reload touches only the environments that changed, blue/green, and a
 * runtime that dies is started again alone (runtimes.ts). On start it serves
 * whatever the registry holds, so a crash or a reboot loses nothing but the time to restart.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { startEmbeddedServer, type EmbeddedServer } from "@codex/database/embedded";
import type { WranglerConfig } from "../core/derive";
import { PipelineError } from "../errors";
import { closeFrontServer, startFrontServer } from "./front";
import {
  environmentOptions,
  liveEnvironments,
  type EnvironmentInputs,
  type LiveEnvironment,
} from "./miniflare-options";
import { pgDataLocation, type PgDataLocation } from "./pg-data";
import { currentVersion, readRegistry, type Version } from "./registry";
import { Runtimes, type RuntimeSpec } from "./runtimes";
import { descendants, type ProcessRecord } from "./processes";
import { readJson, statePaths, writeFileAtomic, type StatePaths } from "../state";

export interface HostInfo {
  pid: number;
  /**
   * workerd (one per environment), Postgres and their helpers, to stop if this host dies without
   * stopping them. Rewritten after every reload, as environments come and go.
   */
  children?: ProcessRecord[];
  /** Where the environments are served (the front server). */
  port: number;
  /** The control API (reload, status, shutdown), on loopback. */
  controlPort: number;
  pgPort: number;
  /** Where Postgres keeps its files, and why that is not <state>/pg when it is not. */
  pgData?: PgDataLocation;
  startedAt: string;
}

export interface HostStatus extends HostInfo {
  uptimeMs: number;
  rssBytes: number;
  environments: LiveEnvironment[];
}

function log(message: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ time: new Date().toISOString(), message, ...fields }));
}

function bundleExists(version: Version): boolean {
  return (
    version.workers.every((w) => existsSync(join(w.bundleDir, w.main))) &&
    existsSync(version.assetsDir)
  );
}

async function environmentInputs(
  paths: StatePaths,
  registry: Awaited<ReturnType<typeof readRegistry>>,
  pg: EmbeddedServer,
): Promise<(name: string) => EnvironmentInputs> {
  const inputs: Record<string, EnvironmentInputs> = {};
  for (const record of Object.values(registry.environments)) {
    const version = record.versions.find((v) => v.id === record.current);
    if (!version) continue;
    const configs: Record<string, WranglerConfig> = {};
    for (const worker of version.workers) {
      const config = await readJson<WranglerConfig>(worker.configPath).catch(() => undefined);
      if (config) configs[worker.name] = config;
    }
    const secrets =
      (await readJson<Record<string, string>>(join(paths.env(record.name), "secrets.json"))) ?? {};
    inputs[record.name] = { configs, secrets, databaseUrl: pg.urlFor(record.database) };
  }
  return (name) => inputs[name] ?? { configs: {}, secrets: {}, databaseUrl: "" };
}

export async function runHost(port: number, paths: StatePaths = statePaths()): Promise<void> {
  const startedAt = new Date();
  const previous = await readJson<HostInfo>(paths.hostFile);
  const pgData = await pgDataLocation(paths);
  let pgStarted = false;
  if (pgData.movedBecause) log("postgres keeps its files elsewhere", { ...pgData });
  const start = (port?: number) =>
    startEmbeddedServer({
      dataDir: pgData.dir,
      ...(port ? { port } : {}),
      durable: false,
      // Postgres's own lines belong in the host's log while it starts (initdb, why it cannot);
      // once it serves, only its fatal ones: an ERROR line can quote a query's values.
      onLog: (line) => {
        if (line.trim() && (!pgStarted || /\b(FATAL|PANIC):/.test(line)))
          log("postgres", { line: line.trim() });
      },
    });
  // Keep Postgres on the port it had, so that nothing that remembered it goes stale.
  const pg = await start(previous?.pgPort).catch(async (error: unknown) => {
    if (!previous?.pgPort) throw error;
    log("postgres could not take its previous port; picking another", { error: String(error) });
    return start();
  });
  pgStarted = true;
  log("postgres ready", { port: pg.port, dataDir: pgData.dir });

  // A runtime whose workerd died is started again alone; host.json then names its new workerd.
  const runtimes = new Runtimes({
    restarted: (name, error) => {
      log(error ? "environment could not be restarted" : "environment restarted", {
        environment: name,
        ...(error ? { error } : {}),
      });
      if (ready) void recordChildren().catch(() => {});
    },
  });
  let live: LiveEnvironment[] = [];
  let reloading = Promise.resolve();
  const reload = () => {
    // One sync at a time; a failed one must not fail the next.
    reloading = reloading.catch(() => {}).then(sync);
    return reloading;
  };

  const control: Server = createServer((request, response) => {
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    const status = (): HostStatus => ({
      ...info,
      uptimeMs: Date.now() - startedAt.getTime(),
      rssBytes: process.memoryUsage().rss,
      environments: live,
    });
    if (request.method === "GET" && request.url === "/status") return reply(200, status());
    if (request.method === "POST" && request.url === "/reload") {
      reload().then(
        () => reply(200, status()),
        (error: unknown) => {
          log("reload failed", { error: String(error) });
          reply(500, { error: String(error) });
        },
      );
      return;
    }
    if (request.method === "POST" && request.url === "/shutdown") {
      reply(200, { stopping: true });
      void shutdown("requested");
      return;
    }
    reply(404, { error: "not_found" });
  });
  // Nobody calls it before host.json names its port, which is written last.
  await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));
  const address = control.address();
  const info: HostInfo = {
    pid: process.pid,
    port,
    controlPort: typeof address === "object" && address ? address.port : 0,
    pgPort: pg.port,
    pgData,
    startedAt: startedAt.toISOString(),
  };
  // host.json announces a host that serves: it is written once the front server listens, then
  // after every reload, since the workerd processes change as environments come and go.
  let ready = false;
  const recordChildren = async () => {
    info.children = descendants(process.pid);
    await writeFileAtomic(paths.hostFile, `${JSON.stringify(info, null, 2)}\n`);
  };

  /** Brings the runtimes in line with the registry; throws naming every environment that failed. */
  async function sync(): Promise<void> {
    const registry = await readRegistry(paths);
    const wanted = liveEnvironments(registry, port, bundleExists);
    const inputs = await environmentInputs(paths, registry, pg);
    const specs: RuntimeSpec[] = [];
    for (const env of wanted) {
      const record = registry.environments[env.name];
      const version = record && currentVersion(record);
      if (!version) continue;
      const web = version.workers.find((w) => w.kind === "web") ?? version.workers[0];
      specs.push({
        name: env.name,
        hostnames: version.workers.map((w) => w.hostname),
        options: environmentOptions(version, inputs(env.name)),
        ...(web ? { health: { hostname: web.hostname, path: "/health" } } : {}),
        // Production's previous version stays warm: its rollback only moves the route.
        standby: record?.kind === "production",
      });
    }
    const result = await runtimes.sync(specs);
    live = wanted.filter((env) => runtimes.has(env.name));
    if (ready) await recordChildren();
    log("reloaded", {
      environments: live.map((e) => e.name),
      created: result.create,
      updated: result.update,
      disposed: result.dispose,
      ...(result.fromStandby.length ? { fromStandby: result.fromStandby } : {}),
      ...(result.failed.length ? { failed: result.failed } : {}),
    });
    if (result.failed.length) {
      throw new PipelineError(
        "HOST_FAILED",
        result.failed.map((f) => `${f.name} could not be served: ${f.error}`).join("; "),
      );
    }
  }

  // An environment that cannot start is left out (and tried again at the next reload); the
  // others are served all the same.
  await reload().catch(() => {});
  // CODEX_BIND_HOST=0.0.0.0 makes the environments reachable from outside a container.
  const front = await startFrontServer({
    host: process.env.CODEX_BIND_HOST || "127.0.0.1",
    port,
    routes: {
      target: (hostname) => runtimes.target(hostname),
      unavailable: (environment) => void runtimes.suspect(environment),
      live: () => live,
      envDir: (name) => paths.env(name),
    },
  });
  runtimes.watch();
  log("workers ready", { port, environments: live.map((e) => e.name) });
  ready = true;
  await recordChildren();
  log("host ready", { ...info });

  let stopping = false;
  async function shutdown(reason: string) {
    if (stopping) return;
    stopping = true;
    log("stopping", { reason });
    control.close();
    await closeFrontServer(front);
    // A reload under way would otherwise start a runtime after the others were stopped.
    await reloading.catch(() => {});
    await runtimes.disposeAll();
    await pg.stop().catch(() => {});
    process.exit(0);
  }
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

/** Reads the host's pid file (whether or not the host still runs). */
export async function readHostInfo(paths: StatePaths): Promise<HostInfo | undefined> {
  const text = await readFile(paths.hostFile, "utf8").catch(() => undefined);
  return text ? (JSON.parse(text) as HostInfo) : undefined;
}
