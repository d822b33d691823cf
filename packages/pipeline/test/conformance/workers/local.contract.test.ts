/**
 * The WorkerPlatform conformance suite against the local platform: real builds (vite, cached by
 * code hash, and wrangler's dry-run bundles) served by a resident host of its own, in a state
 * folder and on a port of its own, stopped at the end.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { vi } from "vitest";
import { freePort } from "../../integration/cli";
import { databaseName } from "../../../src/core/environments";
import { ensureHost, hostStatus, stopHost } from "../../../src/local/host-client";
import { statePaths } from "../../../src/state";
import { describeWorkerPlatform } from "./suite";
import { LocalWorkerPlatform } from "../../../src/providers/workers/local";

/** GET /health of `url` from the host on `port`, addressed by Host header as a browser does. */
function health(port: number, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/health",
        headers: { host: new URL(url).host, accept: "application/json" },
        timeout: 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url} within 15 s`)));
    req.on("error", reject);
    req.end();
  });
}

describeWorkerPlatform(
  "local (Miniflare on the resident host)",
  {
    reusesUnchangedVersion: true,
  },
  async () => {
    const root = await mkdtemp(join(tmpdir(), "codex-workers-conformance-"));
    // As root, Postgres runs as the "postgres" user, which must be able to enter the folder.
    await chmod(root, 0o755);
    const port = await freePort();
    // ensureHost and reloadHost read the port from the environment.
    vi.stubEnv("CODEX_STATE_DIR", root);
    vi.stubEnv("CODEX_PORT", String(port));
    const paths = statePaths(root);
    const stop = async () => {
      await stopHost(paths);
      vi.unstubAllEnvs();
      await rm(root, { recursive: true, force: true });
    };
    // The host is detached: one that started but never answered must not outlive the run.
    await ensureHost(paths).catch(async (error: unknown) => {
      await stop();
      throw error;
    });
    return {
      platform: new LocalWorkerPlatform(paths, port),
      database: databaseName,
      async served(environment) {
        const live = (await hostStatus(paths))?.environments.find(
          (e) => e.name === environment.name,
        );
        if (!live) return undefined;
        // The host must also route the environment's hosts to its Workers (the database may be
        // missing, so /health may say "degraded"; an unrouted host gets 404 unknown_host).
        for (const url of Object.values(live.urls)) {
          const { body } = await health(port, url);
          const answered = (JSON.parse(body) as { environment?: string }).environment;
          if (answered !== environment.name) {
            throw new Error(`${url} is live in /status but answers: ${body.slice(0, 200)}`);
          }
        }
        return live.version;
      },
      cleanup: stop,
    };
  },
);
