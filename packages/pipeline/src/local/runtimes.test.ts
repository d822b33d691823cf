import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getByHost } from "../smoke";
import { closeFrontServer, startFrontServer } from "./front";
import { descendants } from "./processes";
import { planRuntimes, Runtimes, type RuntimeSpec } from "./runtimes";

describe("planRuntimes", () => {
  it("creates the new, updates the changed, disposes the gone, and leaves the rest alone", () => {
    const running = new Map([
      ["preview-1", "a"],
      ["preview-2", "b"],
      ["preview-3", "c"],
    ]);
    const desired = new Map([
      ["preview-1", "a"],
      ["preview-2", "b2"],
      ["production", "p"],
    ]);
    expect(planRuntimes(running, desired)).toEqual({
      create: ["production"],
      update: ["preview-2"],
      dispose: ["preview-3"],
    });
    expect(planRuntimes(running, running)).toEqual({ create: [], update: [], dispose: [] });
  });
});

// A web Worker with static assets and a request counter kept in memory: a counter that goes on
// counting proves its workerd was not restarted.
const SCRIPT = `
let count = 0;
export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    if (path === "/count") return new Response(String(++count));
    if (path === "/slow") {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      return env.ASSETS.fetch(new URL("/version.txt", request.url));
    }
    return env.ASSETS.fetch(request);
  },
};
`;

describe("Runtimes (real workerd)", () => {
  let dir: string;
  const runtimes = new Runtimes();
  let front: Server;
  let frontPort: number;

  async function spec(
    env: string,
    hostname: string,
    build: string,
    script = SCRIPT,
  ): Promise<RuntimeSpec> {
    const assets = join(dir, env, build);
    await mkdir(assets, { recursive: true });
    await writeFile(join(assets, "version.txt"), `${env} ${build}`);
    return {
      name: env,
      hostnames: [hostname],
      health: { hostname, path: "/version.txt" },
      options: {
        host: "127.0.0.1",
        port: 0,
        workers: [
          {
            name: `web-${env}`,
            modules: true,
            script,
            compatibilityDate: "2026-04-20",
            routes: [`${hostname}/*`],
            assets: {
              directory: assets,
              binding: "ASSETS",
              routerConfig: { has_user_worker: true },
            },
          },
        ],
      },
    };
  }

  async function get(hostname: string, path: string): Promise<string> {
    const target = runtimes.target(hostname);
    if (!target) throw new Error(`nothing serves ${hostname}`);
    const res = await getByHost(target.port, hostname, path).finally(target.release);
    expect(res.status, `${hostname}${path}`).toBe(200);
    return res.body;
  }

  /** The port of the runtime serving `hostname` (its route taken and given back at once). */
  function portOf(hostname: string): number | undefined {
    const target = runtimes.target(hostname);
    target?.release?.();
    return target?.port;
  }

  /** Every request through the front server, as a browser sends it: "status body" or the error. */
  async function viaFront(hostname: string, path: string): Promise<string> {
    try {
      const res = await getByHost(frontPort, hostname, path, 10_000);
      return `${res.status} ${res.body}`;
    } catch (error) {
      return `error ${String(error)}`;
    }
  }

  /** Polls `hostname` through the front server every 20 ms while `during` runs. */
  async function pollWhile<T>(hostname: string, during: () => Promise<T>): Promise<string[]> {
    const answers: string[] = [];
    let done = false;
    const poller = (async () => {
      while (!done) {
        answers.push(await viaFront(hostname, "/version.txt"));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await during().finally(() => (done = true));
    await poller;
    return answers;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "codex-runtimes-"));
    front = await startFrontServer({
      host: "127.0.0.1",
      port: 0,
      routes: {
        target: (hostname) => runtimes.target(hostname),
        unavailable: (environment) => void runtimes.suspect(environment),
        live: () => [],
      },
    });
    frontPort = (front.address() as AddressInfo).port;
  });
  afterAll(async () => {
    if (front) await closeFrontServer(front);
    await runtimes.disposeAll();
    await rm(dir, { recursive: true, force: true });
  });

  it("gives each environment its own runtime, serving its own static files", async () => {
    const result = await runtimes.sync([
      await spec("preview-1", "pr-1.localhost", "v1"),
      await spec("preview-2", "pr-2.localhost", "v1"),
    ]);
    expect(result).toMatchObject({ create: ["preview-1", "preview-2"], failed: [] });
    expect(portOf("pr-1.localhost")).not.toBe(portOf("pr-2.localhost"));
    expect(await get("pr-1.localhost", "/version.txt")).toBe("preview-1 v1");
    expect(await get("pr-2.localhost", "/version.txt")).toBe("preview-2 v1");
    expect(await get("pr-1.localhost", "/count")).toBe("1");
  });

  it("updates only the environment that changed", async () => {
    const result = await runtimes.sync([
      await spec("preview-1", "pr-1.localhost", "v1"),
      await spec("preview-2", "pr-2.localhost", "v2"),
    ]);
    expect(result).toMatchObject({ create: [], update: ["preview-2"], dispose: [], failed: [] });
    expect(await get("pr-2.localhost", "/version.txt")).toBe("preview-2 v2");
    expect(await get("pr-1.localhost", "/version.txt")).toBe("preview-1 v1");
    expect(await get("pr-1.localhost", "/count")).toBe("2");
  });

  it("disposes an environment that is gone, and reports one that cannot start without stopping the others", async () => {
    const broken = await spec("preview-3", "pr-3.localhost", "v1", "export default { fetch( };");
    const result = await runtimes.sync([await spec("preview-1", "pr-1.localhost", "v1"), broken]);
    expect(result).toMatchObject({ create: ["preview-3"], update: [], dispose: ["preview-2"] });
    expect(result.failed.map((f) => f.name)).toEqual(["preview-3"]);
    expect(runtimes.target("pr-2.localhost")).toBeUndefined();
    expect(runtimes.target("pr-3.localhost")).toBeUndefined();
    expect(runtimes.has("preview-3")).toBe(false);
    expect(await get("pr-1.localhost", "/count")).toBe("3");
  });

  it("updates an environment blue/green: no failed request, and one in flight finishes on the old version", async () => {
    await runtimes.sync([await spec("preview-1", "pr-1.localhost", "v1")]);
    const slow = viaFront("pr-1.localhost", "/slow");
    await new Promise((r) => setTimeout(r, 300));
    const answers = await pollWhile("pr-1.localhost", async () => {
      const result = await runtimes.sync([await spec("preview-1", "pr-1.localhost", "v2")]);
      expect(result).toMatchObject({ update: ["preview-1"], failed: [] });
    });
    expect(await slow).toBe("200 preview-1 v1");
    const failures = answers.filter((a) => !a.startsWith("200 "));
    expect(failures, `of ${answers.length} polls during the update`).toEqual([]);
    // Once the update returns, v2 serves; a poll already under way on v1 may finish after it
    // (the old runtime drains in the background), so the next request, not the last poll.
    expect(await viaFront("pr-1.localhost", "/version.txt")).toBe("200 preview-1 v2");
  });

  it("removes an environment after the requests in flight to it are done", async () => {
    const slow = viaFront("pr-1.localhost", "/slow");
    await new Promise((r) => setTimeout(r, 300));
    const result = await runtimes.sync([]);
    expect(result).toMatchObject({ dispose: ["preview-1"], failed: [] });
    expect(await slow).toBe("200 preview-1 v2");
    expect((await viaFront("pr-1.localhost", "/version.txt")).startsWith("404 ")).toBe(true);
  });

  it("keeps production's replaced runtime warm: a rollback to it moves the route, starting no workerd", async () => {
    const workerds = () =>
      new Set(
        descendants(process.pid)
          .filter((p) => p.comm === "workerd")
          .map((p) => p.pid),
      );
    const production = async (build: string) => ({
      ...(await spec("production", "localhost", build)),
      standby: true,
    });
    await runtimes.sync([await production("v1")]);
    expect(await get("localhost", "/count")).toBe("1");
    const v1Port = portOf("localhost");
    const update = await runtimes.sync([await production("v2")]);
    expect(update).toMatchObject({ update: ["production"], fromStandby: [], failed: [] });
    expect(await get("localhost", "/version.txt")).toBe("production v2");
    expect(runtimes.standbyDigest("production")).toBeDefined();
    const beforeRollback = workerds();

    // The rollback: v1's options again. Polled meanwhile, it fails no request.
    const answers = await pollWhile("localhost", async () => {
      const rollback = await runtimes.sync([await production("v1")]);
      expect(rollback).toMatchObject({ update: ["production"], fromStandby: ["production"] });
    });
    expect(
      answers.filter((a) => !a.startsWith("200 ")),
      `of ${answers.length} polls`,
    ).toEqual([]);
    expect(portOf("localhost")).toBe(v1Port);
    // Its in-memory counter goes on: the very workerd that served v1 before, never restarted.
    expect(await get("localhost", "/count")).toBe("2");
    expect(workerds()).toEqual(beforeRollback);

    // And forward again, the same way: v2 had become the standby.
    expect(await runtimes.sync([await production("v2")])).toMatchObject({
      fromStandby: ["production"],
    });
    expect(await get("localhost", "/version.txt")).toBe("production v2");

    // A new version: v3 serves, v2 becomes the standby, and v1 (the standby before) is stopped.
    const beforeV3 = workerds();
    const v3 = await runtimes.sync([await production("v3")]);
    expect(v3).toMatchObject({ update: ["production"], fromStandby: [], failed: [] });
    expect(await get("localhost", "/version.txt")).toBe("production v3");
    await expect.poll(() => workerds().size, { timeout: 10_000 }).toBe(2);
    const kept = [...workerds()].filter((pid) => beforeV3.has(pid));
    expect(kept).toHaveLength(1);

    // A standby whose workerd died is not used: the rollback starts v2 again.
    process.kill(kept[0] ?? 0, "SIGKILL");
    expect(await get("localhost", "/version.txt")).toBe("production v3");
    const cold = await runtimes.sync([await production("v2")]);
    expect(cold).toMatchObject({ update: ["production"], fromStandby: [], failed: [] });
    expect(await get("localhost", "/version.txt")).toBe("production v2");

    // Removing the environment stops the standby too.
    await runtimes.sync([]);
    await expect.poll(() => workerds().size, { timeout: 35_000 }).toBe(0);
    expect(runtimes.standbyDigest("production")).toBeUndefined();
  });

  it("restarts alone an environment whose workerd died, its requests meanwhile getting a 502", async () => {
    const before = new Set(descendants(process.pid).map((p) => p.pid));
    await runtimes.sync([
      await spec("preview-1", "pr-1.localhost", "v3"),
      await spec("preview-2", "pr-2.localhost", "v3"),
    ]);
    const fresh = descendants(process.pid).filter(
      (p) => p.comm === "workerd" && !before.has(p.pid),
    );
    expect(fresh).toHaveLength(2);
    const port1 = portOf("pr-1.localhost");
    // Which workerd serves preview-1: the one that stops it answering when killed.
    for (const p of fresh) {
      process.kill(p.pid, "SIGKILL");
      await new Promise((r) => setTimeout(r, 200));
      if (!(await getByHost(port1 ?? 0, "pr-1.localhost", "/version.txt").catch(() => undefined)))
        break;
      // That was preview-2's: let the host restart it before the next one is killed, so that
      // preview-2 is asked below only once it is back (its own restart is what this test shows).
      const back = Date.now() + 30_000;
      while (Date.now() < back) {
        if ((await viaFront("pr-2.localhost", "/version.txt")) === "200 preview-2 v3") break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const answers: string[] = [];
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const answer = await viaFront("pr-1.localhost", "/version.txt");
      answers.push(answer);
      if (answer === "200 preview-1 v3") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(answers.at(-1), answers.join("\n")).toBe("200 preview-1 v3");
    expect(portOf("pr-1.localhost")).not.toBe(port1);
    // While it restarted, a clear 502 naming the environment, never a hang or a reset.
    for (const answer of answers.slice(0, -1)) {
      expect(answer).toMatch(/^502 .*"environment":"preview-1"/);
    }
    expect(await viaFront("pr-2.localhost", "/version.txt")).toBe("200 preview-2 v3");
  });
});
