import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getByHost } from "../smoke";
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
  fetch(request, env) {
    if (new URL(request.url).pathname === "/count") return new Response(String(++count));
    return env.ASSETS.fetch(request);
  },
};
`;

describe("Runtimes (real workerd)", () => {
  let dir: string;
  const runtimes = new Runtimes();

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
    const res = await getByHost(target.port, hostname, path);
    expect(res.status, `${hostname}${path}`).toBe(200);
    return res.body;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "codex-runtimes-"));
  });
  afterAll(async () => {
    await runtimes.disposeAll();
    await rm(dir, { recursive: true, force: true });
  });

  it("gives each environment its own runtime, serving its own static files", async () => {
    const result = await runtimes.sync([
      await spec("preview-1", "pr-1.localhost", "v1"),
      await spec("preview-2", "pr-2.localhost", "v1"),
    ]);
    expect(result).toMatchObject({ create: ["preview-1", "preview-2"], failed: [] });
    expect(runtimes.target("pr-1.localhost")?.port).not.toBe(
      runtimes.target("pr-2.localhost")?.port,
    );
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
});
