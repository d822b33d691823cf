/**
 * Starts the resident host on demand (detached, surviving the command that started it) and
 * talks to its control API.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, open, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { PipelineError, userError } from "../errors";
import { join } from "node:path";
import { readHostInfo, type HostInfo, type HostStatus } from "./host";
import {
  groupMembers,
  killGroup,
  killRecorded,
  processName,
  waitUntilGone,
  type ProcessRecord,
} from "./processes";
import { DEFAULT_PORT, withLock, type StatePaths } from "../state";

const HOST_MAIN = fileURLToPath(new URL("./host-main.ts", import.meta.url));
/** Set by the compiled CLI (scripts/dist.mjs): its folder, which holds host-main.js too. */
const DIST = (globalThis as { __codexDist?: string }).__codexDist;
/** The host runs from the same code as the CLI that starts it: compiled, or through tsx. */
const HOST_COMMAND = DIST
  ? [fileURLToPath(new URL("./host-main.js", DIST))]
  : ["--import", "tsx", HOST_MAIN];
const PACKAGE_DIR = fileURLToPath(new URL("../..", import.meta.url));
const START_TIMEOUT_MS = 60_000;

export function configuredPort(): number {
  const raw = process.env.CODEX_PORT;
  if (raw === undefined) return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw userError("INVALID_ARGUMENT", `CODEX_PORT must be a port number (got "${raw}")`);
  }
  return port;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// A reload starts, restarts or stops the workerd of each environment that changed, a few seconds
// each on a busy machine, and all of them when a new host brings the registry back; status
// answers at once.
const CONTROL_TIMEOUT_MS: Record<string, number> = { "/status": 10_000, "/reload": 600_000 };

async function control<T>(
  paths: StatePaths,
  info: HostInfo,
  method: string,
  path: string,
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`http://127.0.0.1:${info.controlPort}${path}`, {
      method,
      signal: AbortSignal.timeout(CONTROL_TIMEOUT_MS[path] ?? 30_000),
    });
  } catch (error) {
    // A refused or reset connection means the host is gone (or going): say so, with its log.
    const why = alive(info.pid)
      ? `the local host (pid ${info.pid}) did not answer ${path}`
      : `the local host (pid ${info.pid}) stopped while asked for ${path}`;
    throw new PipelineError("HOST_FAILED", `${why}. Its log ends with:\n${await logTail(paths)}`, {
      hint: `See ${paths.hostLog}. The next command starts the host again.`,
      cause: error,
    });
  }
  const body = (await response.json().catch(() => ({}))) as T & { error?: string };
  if (!response.ok) {
    throw new PipelineError(
      "HOST_FAILED",
      `the local host answered ${response.status} to ${path}: ${body.error ?? ""}`,
      { hint: `See ${paths.hostLog}.` },
    );
  }
  return body;
}

/** The running host's status, or undefined when none runs. */
export async function hostStatus(paths: StatePaths): Promise<HostStatus | undefined> {
  const info = await readHostInfo(paths);
  if (!info || !alive(info.pid)) return undefined;
  try {
    return await control<HostStatus>(paths, info, "GET", "/status");
  } catch {
    return undefined;
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

/**
 * The end of the host's log, readable: its JSON lines as "message: error" (with the stack's first
 * frame), so that the reason a host failed is on the terminal and not only in the file.
 */
export async function logTail(paths: StatePaths, lines = 15): Promise<string> {
  const text = await readFile(paths.hostLog, "utf8").catch(() => "");
  const tail = text
    .split("\n")
    .filter((line) => line.trim())
    .slice(-lines)
    .map(readableLogLine);
  return tail.length ? tail.join("\n") : `(${paths.hostLog} is empty)`;
}

function readableLogLine(line: string): string {
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    const parts = [entry.message, entry.error, entry.line].filter(
      (p): p is string => typeof p === "string" && p !== "",
    );
    return parts.length ? `  ${parts.join(": ")}` : `  ${line}`;
  } catch {
    return `  ${line}`;
  }
}

/**
 * A host killed with SIGKILL leaves its workerd processes (one per environment) and Postgres
 * (holding its data folder) running. Stop them before starting a new host.
 */
async function stopOrphans(paths: StatePaths): Promise<void> {
  // Postgres first, cleanly: SIGINT is its fast shutdown.
  const postmaster = await readFile(join(paths.pgData, "postmaster.pid"), "utf8").catch(() => "");
  const pgPid = Number(postmaster.split("\n")[0]);
  if (pgPid > 0 && processName(pgPid) === "postgres") {
    process.kill(pgPid, "SIGINT");
    if (!(await waitUntilGone([pgPid]))) process.kill(pgPid, "SIGKILL");
  }
  // The host was started detached, as the leader of its own process group; its workerd and
  // helpers stay in that group after it dies. Only the names it starts are stopped.
  const orphans = await orphansOf(paths);
  killRecorded(orphans);
  await waitUntilGone(orphans.map((c) => c.pid));
}

const HOST_CHILDREN = new Set(["workerd", "postgres", "esbuild", "node"]);

/** A killed host's workerd or Postgres, still running (they may hold the port). */
async function orphansOf(paths: StatePaths): Promise<ProcessRecord[]> {
  const info = await readHostInfo(paths);
  if (!info || alive(info.pid)) return [];
  return [
    ...groupMembers(info.pid).filter((p) => HOST_CHILDREN.has(p.comm)),
    ...(info.children ?? []).filter((c) => processName(c.pid) === c.comm),
  ];
}

/**
 * Refuses, before a command changes anything, a port the host cannot serve on: another program
 * holds it, or this state folder's host already serves on another one. Returns the running host.
 * A port held by this host's own orphans is no refusal: starting the host stops them first.
 */
export async function checkHostPort(
  paths: StatePaths,
  port = configuredPort(),
): Promise<HostStatus | undefined> {
  const running = await hostStatus(paths);
  if (running) {
    if (running.port !== port) {
      throw userError(
        "PORT_IN_USE",
        `the local host already serves on port ${running.port}, not ${port}`,
        "Use the same CODEX_PORT, or stop the host first (pnpm stop).",
      );
    }
    return running;
  }
  if ((await portIsFree(port)) || (await orphansOf(paths)).length) return undefined;
  throw userError(
    "PORT_IN_USE",
    `port ${port} is already in use by another program`,
    `Stop that program, or choose another port: CODEX_PORT=${port + 1} pnpm preview-deploy --pr N`,
  );
}

/** The running host, started first when none runs (or when the one recorded has died). */
export async function ensureHost(paths: StatePaths, port = configuredPort()): Promise<HostStatus> {
  return withLock(paths, "host", async () => {
    const running = await checkHostPort(paths, port);
    if (running) return running;
    await stopOrphans(paths);
    await checkHostPort(paths, port);
    await mkdir(paths.root, { recursive: true });
    const logFile = await open(paths.hostLog, "a");
    const child = spawn(process.execPath, HOST_COMMAND, {
      cwd: PACKAGE_DIR,
      detached: true,
      stdio: ["ignore", logFile.fd, logFile.fd],
      env: { ...process.env, CODEX_STATE_DIR: paths.root, CODEX_PORT: String(port) },
    });
    child.unref();
    await logFile.close();
    const exited = new Promise<string>((resolve) =>
      child.once("exit", (code, signal) =>
        resolve(signal ? `was stopped by ${signal}` : `exited with code ${code ?? "?"}`),
      ),
    );
    let ended: string | undefined;
    void exited.then((why) => (ended = why));
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline && ended === undefined) {
      const info = await readHostInfo(paths);
      if (info && info.pid === child.pid) {
        const status = await hostStatus(paths);
        if (status) return status;
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    if (ended === undefined && child.pid !== undefined) {
      // Not ready in time: stop it (and its Postgres and workerd) so that nothing half-started stays.
      killGroup(child.pid, "SIGKILL");
      ended = await exited;
    }
    throw new PipelineError(
      "HOST_FAILED",
      `the local host did not start (it ${ended ?? "did not answer"}${
        ended?.startsWith("was stopped by SIGKILL") ? ` after ${START_TIMEOUT_MS / 1000} s` : ""
      }). Its log ends with:\n${await logTail(paths)}`,
      { hint: `See ${paths.hostLog}.` },
    );
  });
}

export async function reloadHost(paths: StatePaths, port?: number): Promise<HostStatus> {
  const info = await readHostInfo(paths);
  if (!info || !alive(info.pid)) return ensureHost(paths, port);
  return control<HostStatus>(paths, info, "POST", "/reload");
}

/**
 * Stops the host if it runs, as `pnpm stop` does: Postgres shuts down cleanly, workerd stops, and
 * every environment's state stays for the next start. Returns the host that was stopped, if any.
 */
export async function stopHost(paths: StatePaths): Promise<HostInfo | undefined> {
  // No host was ever started here: nothing to stop, and stopping must not create anything.
  if (!existsSync(paths.hostFile)) return undefined;
  return withLock(paths, "host", async () => {
    const info = await readHostInfo(paths);
    if (!info || !alive(info.pid)) {
      // A host that died on its own may have left workerd or Postgres behind.
      await stopOrphans(paths);
      return undefined;
    }
    await control(paths, info, "POST", "/shutdown").catch(() => {});
    if (!(await waitUntilGone([info.pid], 15_000))) killGroup(info.pid, "SIGKILL");
    await stopOrphans(paths);
    return info;
  });
}
