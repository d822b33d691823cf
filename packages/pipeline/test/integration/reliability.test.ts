import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "./cli";

let box: Sandbox;
beforeAll(async () => {
  box = await Sandbox.create();
});
afterAll(async () => {
  await box?.dispose();
});

async function waitFor(check: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("interrupted deploys", () => {
  it.each([
    ["SIGKILL", "kill -9"],
    ["SIGINT", "Ctrl-C"],
  ] as const)(
    "a deploy interrupted by %s (%s) while building is repaired by the next run",
    async (signal, _how) => {
      const run = box.start(["preview-deploy", "--pr", "5", "--skip-tests", "--rebuild"]);
      await waitFor(() => run.output().includes("▸ build and deploy the three Workers"));
      run.child.kill(signal);
      const interrupted = await run.done;
      expect(interrupted.code).not.toBe(0);

      // The branch exists and is recorded (so cleanup can find it); nothing routes to a missing bundle.
      const status = await box.status();
      const env = status.environments.find((e) => e.name === "preview-5");
      expect(env?.branch).toBe("pr_5");
      const health = await box.http("pr-5.localhost", "/health", {
        headers: { accept: "application/json" },
      });
      expect([200, 404]).toContain(health.status); // the previous version (2nd round) or the fallback (1st)
      if (health.status === 200)
        expect(JSON.parse(health.body)).toMatchObject({ environment: "preview-5" });

      const repaired = await box.run("preview-deploy", "--pr", "5", "--skip-tests");
      expect(repaired.code, repaired.stderr).toBe(0);
      expect((await box.http("pr-5.localhost", "/health")).status).toBe(200);
    },
  );

  it("a lock left by a killed run does not block the next one", async () => {
    const run = box.start(["preview-deploy", "--pr", "6", "--skip-tests"]);
    await waitFor(() => run.output().includes("▸ branch the database"));
    run.child.kill("SIGKILL");
    await run.done;
    const next = await box.run("preview-deploy", "--pr", "6", "--skip-tests");
    expect(next.code, next.stderr).toBe(0);
  });

  it("stale cleanup sweeps previews older than the limit, and nothing else", async () => {
    const swept = await box.run("cleanup", "--stale", "--older-than", "1d");
    expect(swept.code, swept.stderr).toBe(0);
    expect(swept.stdout).toMatch(/nothing to remove/);
    const all = await box.run("cleanup", "--stale", "--older-than", "0m");
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/removed preview-5, preview-6/);
    expect((await box.databases()).filter((d) => /^pr_/.test(d))).toEqual([]);
  });
});

describe("the resident host", () => {
  it("comes back with every environment after being killed", async () => {
    expect((await box.run("preview-deploy", "--pr", "7", "--skip-tests")).code).toBe(0);
    const info = JSON.parse(await readFile(`${box.stateDir}/host.json`, "utf8")) as { pid: number };
    process.kill(info.pid, "SIGKILL");
    await waitFor(() => {
      try {
        process.kill(info.pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    const status = await box.status();
    expect(status.host.running).toBe(false);
    // Any command brings it back; the registry restores preview-7 without a redeploy.
    const again = await box.run("cleanup", "--pr", "404");
    expect(again.code, again.stderr).toBe(0);
    const health = await box.http("pr-7.localhost", "/health");
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ environment: "preview-7", database: "ok" });
  });

  it("stop stops the host and keeps every environment; stopping again is a no-op; a command brings them back", async () => {
    const info = JSON.parse(await readFile(`${box.stateDir}/host.json`, "utf8")) as {
      pid: number;
    };
    const stopped = await box.run("stop");
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toMatch(new RegExp(`stopped the local host \\(pid ${info.pid}`));
    expect(() => process.kill(info.pid, 0)).toThrow();
    // Nothing answers on the port any more.
    await expect(box.http("pr-7.localhost", "/health")).rejects.toThrow(/ECONNREFUSED/);
    const status = await box.status();
    expect(status.host.running).toBe(false);
    expect(status.environments.map((e) => [e.name, e.state])).toEqual([["preview-7", "stopped"]]);
    const again = await box.run("stop");
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/not running: nothing to stop/);
    // The next command that needs the host starts it with every environment.
    expect((await box.run("cleanup", "--pr", "404")).code).toBe(0);
    expect((await box.http("pr-7.localhost", "/health")).status).toBe(200);
  });

  it("status says an environment whose database is gone is unhealthy, and why", async () => {
    expect((await box.status()).environments.find((e) => e.name === "preview-7")?.state).toBe(
      "healthy",
    );
    await box.sql("postgres", (sql) => sql`drop database pr_7 with (force)`);
    const status = await box.status();
    const env = status.environments.find((e) => e.name === "preview-7");
    expect(env?.live).toBe(true);
    expect(env?.state).toBe("unhealthy");
    expect(env?.detail).toMatch(/status 503.*"database":"unreachable"/);
    const text = await box.run("status");
    expect(text.stdout).toMatch(/preview-7 +v\d+ +pr_7 +unhealthy/);
    // A redeploy makes the branch again.
    expect((await box.run("preview-deploy", "--pr", "7", "--skip-tests")).code).toBe(0);
    expect((await box.status()).environments.find((e) => e.name === "preview-7")?.state).toBe(
      "healthy",
    );
  });

  it("a port in use gets a clear error with the fix", async () => {
    const other = await Sandbox.create();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(other.port, "127.0.0.1", resolve));
    try {
      const result = await other.run("preview-deploy", "--pr", "1", "--skip-tests");
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`port ${other.port} is already in use`));
      expect(result.stderr).toMatch(/CODEX_PORT=/);
      // Refused before anything was written: no state folder content, no summary, no lock.
      expect(await other.snapshot()).toEqual({});
    } finally {
      blocker.close();
      await other.dispose();
    }
  });

  it("a missing chromium gets a clear error with the fix", async () => {
    const { spawn } = await import("node:child_process");
    const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        ["packages/pipeline/bin/codex-pipeline.js", "e2e", "--pr", "7"],
        {
          cwd: new URL("../../../..", import.meta.url).pathname,
          env: { ...box.env, CHROMIUM_PATH: "/nonexistent/chromium" },
        },
      );
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      child.on("close", (code) => resolve({ code: code ?? 1, stderr }));
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no Chromium at \/nonexistent\/chromium/);
    expect(result.stderr).toMatch(/apt-get install -y chromium/);
  });
});
