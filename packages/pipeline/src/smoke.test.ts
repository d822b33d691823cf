import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PipelineError } from "./errors";
import { healthUrls, remoteGetter, smokeAll, type HealthGetter } from "./smoke";

const URLS = {
  web: "https://codex-web-preview-3.acme.workers.dev",
  auth: "https://auth-worker-preview-3.acme.workers.dev",
  webhook: "https://stripe-webhook-handler-preview-3.acme.workers.dev",
};

const healthy = (environment: string) => JSON.stringify({ status: "ok", environment });

describe("smokeAll", () => {
  it("checks /health of all three, and names every one that failed and why", async () => {
    const get: HealthGetter = async (url) =>
      url.includes("auth-worker")
        ? { status: 503, body: JSON.stringify({ status: "degraded" }) }
        : url.includes("webhook")
          ? { status: 200, body: healthy("production") }
          : { status: 200, body: healthy("preview-3") };
    const error = await smokeAll(get, URLS, "preview-3").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PipelineError);
    const message = (error as PipelineError).message;
    expect(message).toContain(`${URLS.auth}/health?schema=1: status 503`);
    expect(message).toContain(
      `${URLS.webhook}/health?schema=1: serves environment "production", expected "preview-3"`,
    );
    expect(message).not.toContain(URLS.web);
  });

  it("asks each Worker for its schema check, and names the read that failed", async () => {
    const asked: string[] = [];
    const get: HealthGetter = async (url) => {
      asked.push(url);
      if (!url.includes("auth-worker")) return { status: 200, body: healthy("preview-3") };
      const failed = {
        check: "users by email (login)",
        error: "column users.display_name does not exist (SQLSTATE 42703)",
      };
      return {
        status: 503,
        body: JSON.stringify({
          status: "degraded",
          environment: "preview-3",
          schema: "failed",
          failed,
        }),
      };
    };
    const error = await smokeAll(get, URLS, "preview-3").catch((e: unknown) => e);
    expect(asked.map((u) => new URL(u).pathname + new URL(u).search)).toEqual([
      "/health?schema=1",
      "/health?schema=1",
      "/health?schema=1",
    ]);
    expect((error as PipelineError).message).toBe(
      `${URLS.auth}/health?schema=1: status 503: the code does not survive the schema: users by email (login) failed: column users.display_name does not exist (SQLSTATE 42703)`,
    );
  });

  it("retries only the failed checks until they pass, within retryForMs", async () => {
    const calls: string[] = [];
    let authAttempts = 0;
    const get: HealthGetter = async (url) => {
      calls.push(url);
      if (url.includes("auth-worker") && ++authAttempts < 3) throw new Error("ECONNREFUSED");
      return { status: 200, body: healthy("preview-3") };
    };
    const results = await smokeAll(get, URLS, "preview-3", { retryForMs: 5_000, intervalMs: 1 });
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    expect(calls.filter((u) => u.includes("auth-worker"))).toHaveLength(3);
    expect(calls.filter((u) => u.includes("codex-web"))).toHaveLength(1);
  });

  it("gives up when the time is up, with the last failure", async () => {
    const get: HealthGetter = async () => ({ status: 200, body: "<html>not json</html>" });
    await expect(
      smokeAll(get, URLS, "preview-3", { retryForMs: 30, intervalMs: 10 }),
    ).rejects.toThrow(/answered with something that is not JSON/);
  });
});

describe("remoteGetter with a connect-to address", () => {
  const seen: { url: string | undefined; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url, headers: req.headers });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(healthy("preview-3"));
  });
  let port = 0;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("sends each check there, with the URL's own host as the Host header", async () => {
    const get = remoteGetter(`127.0.0.1:${port}`);
    await smokeAll(get, URLS, "preview-3");
    expect(seen.map((s) => [s.headers.host, s.url]).sort()).toEqual(
      healthUrls(URLS)
        .map((u) => [new URL(u).host, "/health?schema=1"])
        .sort(),
    );
  });

  it("refuses an address that is not host:port", () => {
    expect(() => remoteGetter("http://127.0.0.1")).toThrow(
      /CODEX_SMOKE_CONNECT_TO must be host:port/,
    );
  });
});
