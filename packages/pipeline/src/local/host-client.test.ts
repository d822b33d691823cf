import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PipelineError } from "../errors";
import { reloadHost } from "./host-client";
import { statePaths } from "../state";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("a host that dies while a command talks to it", () => {
  it("is named as stopped, with its log's last lines and where the log is, not 'fetch failed'", async () => {
    const dir = await mkdtemp(join(tmpdir(), "codex-host-client-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const paths = statePaths(dir);
    // Stands in for the host: a process that dies as the control API is asked to reload.
    const host = spawn("sleep", ["60"], { stdio: "ignore" });
    cleanups.push(async () => void host.kill("SIGKILL"));
    const control = createServer((request) => {
      host.kill("SIGKILL");
      host.once("exit", () => request.socket.destroy());
    });
    await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => control.close(() => resolve())));
    const address = control.address();
    const controlPort = typeof address === "object" && address ? address.port : 0;
    await writeFile(
      paths.hostFile,
      JSON.stringify({ pid: host.pid, port: 1, controlPort, pgPort: 1, startedAt: "" }),
    );
    await writeFile(
      paths.hostLog,
      `${JSON.stringify({ message: "reload failed", error: "Error: workerd exited (marker-1234)" })}\n`,
    );

    const error = await reloadHost(paths).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PipelineError);
    const failure = error as PipelineError;
    expect(failure.code).toBe("HOST_FAILED");
    expect(failure.message).toMatch(
      new RegExp(`the local host \\(pid ${host.pid}\\) stopped while asked for /reload`),
    );
    expect(failure.message).toMatch(/reload failed: Error: workerd exited \(marker-1234\)/);
    expect(failure.message).not.toMatch(/fetch failed/);
    expect(failure.hint).toContain(paths.hostLog);
  });
});
