/**
 * Starts the resident host on demand (detached, surviving the command that started it) and
 * talks to its control API.
 */
import { spawn } from "node:child_process";
import { mkdir, open, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { PipelineError, userError } from "../errors";
import { join } from "node:path";
import { readHostInfo, type HostInfo, type HostStatus } from "./host";
import { groupMembers, killRecorded, processName, waitUntilGone } from "./processes";
import { DEFAULT_PORT, withLock, type StatePaths } from "./state";

const HOST_MAIN = fileURLToPath(new URL("./host-main.ts", import.meta.url));
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

// A reload restarts workerd with every environment's Workers, so it grows with their number
// (bench/env-online.ts, bench/host-memory.ts); status answers at once.
const CONTROL_TIMEOUT_MS: Record<string, number> = { "/status": 10_000, "/reload": 600_000 };

async function control<T>(info: HostInfo, method: string, path: string): Promise<T> {
  const response = await fetch(`http://127.0.0.1:${info.controlPort}${path}`, {
    method,
    signal: AbortSignal.timeout(CONTROL_TIMEOUT_MS[path] ?? 30_000),
  });
  const body = (await response.json()) as T & { error?: string };
  if (!response.ok) {
    throw new PipelineError(
      "HOST_FAILED",
      `the local host answered ${response.status} to ${path}: ${body.error ?? ""}`,
    );
  }
  return body;
}

/** The running host's status, or undefined when none runs. */
export async function hostStatus(paths: StatePaths): Promise<HostStatus | undefined> {
  const info = await readHostInfo(paths);
  if (!info || !alive(info.pid)) return undefined;
  try {
    return await control<HostStatus>(info, "GET", "/status");
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

async function logTail(paths: StatePaths, lines = 15): Promise<string> {
  const text = await readFile(paths.hostLog, "utf8").catch(() => "");
  return text.trim().split("\n").slice(-lines).join("\n");
}

/**
 * A host killed with SIGKILL leaves workerd (holding the port) and Postgres (holding its data
 * folder) running. Stop them before starting a new host.
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
  const info = await readHostInfo(paths);
  if (info && !alive(info.pid)) {
    const orphans = groupMembers(info.pid).filter((p) => HOST_CHILDREN.has(p.comm));
    killRecorded([...orphans, ...(info.children ?? [])]);
    await waitUntilGone([...orphans, ...(info.children ?? [])].map((c) => c.pid));
  }
}

const HOST_CHILDREN = new Set(["workerd", "postgres", "esbuild", "node"]);

/** The running host, started first when none runs (or when the one recorded has died). */
export async function ensureHost(paths: StatePaths): Promise<HostStatus> {
  return withLock(paths, "host", async () => {
    const running = await hostStatus(paths);
    const port = configuredPort();
    if (running) {
      if (running.port !== port) {
        throw userError(
          "PORT_IN_USE",
          `the local host already serves on port ${running.port}, not ${port}`,
          "Use the same CODEX_PORT, or stop the host first (`pnpm status` shows it).",
        );
      }
      return running;
    }
    await stopOrphans(paths);
    if (!(await portIsFree(port))) {
      throw userError(
        "PORT_IN_USE",
        `port ${port} is already in use by another program`,
        `Stop that program, or choose another port: CODEX_PORT=${port + 1} pnpm preview-deploy --pr N`,
      );
    }
    await mkdir(paths.root, { recursive: true });
    const logFile = await open(paths.hostLog, "a");
    const child = spawn(process.execPath, ["--import", "tsx", HOST_MAIN], {
      cwd: PACKAGE_DIR,
      detached: true,
      stdio: ["ignore", logFile.fd, logFile.fd],
      env: { ...process.env, CODEX_STATE_DIR: paths.root, CODEX_PORT: String(port) },
    });
    child.unref();
    await logFile.close();
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || (child.pid !== undefined && !alive(child.pid))) break;
      const info = await readHostInfo(paths);
      if (info && info.pid === child.pid) {
        const status = await hostStatus(paths);
        if (status) return status;
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new PipelineError(
      "HOST_FAILED",
      `the local host did not start. Its log ends with:\n${await logTail(paths)}`,
      {
        hint: `See ${paths.hostLog}.`,
      },
    );
  });
}

export async function reloadHost(paths: StatePaths): Promise<HostStatus> {
  const info = await readHostInfo(paths);
  if (!info || !alive(info.pid)) return ensureHost(paths);
  return control<HostStatus>(info, "POST", "/reload");
}

/** Stops the host if it runs; returns whether it did. */
export async function stopHost(paths: StatePaths): Promise<boolean> {
  const info = await readHostInfo(paths);
  if (!info || !alive(info.pid)) return false;
  await control(info, "POST", "/shutdown").catch(() => {});
  const deadline = Date.now() + 15_000;
  while (alive(info.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive(info.pid)) process.kill(info.pid, "SIGKILL");
  return true;
}
