/**
 * Smoke checks: each Worker's /health?schema=1 (the database, and reads through the Worker's
 * real query paths: packages/worker-kit/src/schema-check.ts), reached the way a browser reaches it: by Host header on
 * the local host's port (Node's fetch overwrites a Host header, so this uses node:http), or at
 * its deployed URL.
 */
import { request } from "node:http";
import { PipelineError } from "./errors";

export interface SmokeResult {
  url: string;
  ok: boolean;
  status: number;
  detail: string;
}

/**
 * GET `path` from 127.0.0.1 (or `connectHost`) on `port`, with `hostname:port` as the Host
 * header (or `hostname` alone when `exactHost`).
 */
export function getByHost(
  port: number,
  hostname: string,
  path: string,
  timeoutMs = 15_000,
  connectHost = "127.0.0.1",
  exactHost = false,
): Promise<{ status: number; body: string }> {
  const hostHeader = exactHost ? hostname : `${hostname}:${port}`;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: connectHost,
        port,
        path,
        method: "GET",
        headers: { host: hostHeader, accept: "application/json" },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
      },
    );
    req.on("timeout", () =>
      req.destroy(new Error(`no answer from ${hostname} within ${timeoutMs} ms`)),
    );
    req.on("error", reject);
    req.end();
  });
}

/** How one /health is fetched: a status and the body as text. */
export type HealthGetter = (url: string) => Promise<{ status: number; body: string }>;

/** Checks one health endpoint: 200, JSON, and the expected environment. */
export async function smokeCheck(
  get: HealthGetter,
  url: string,
  environment: string,
): Promise<SmokeResult> {
  try {
    const { status, body } = await get(url);
    let parsed: {
      environment?: string;
      status?: string;
      schema?: string;
      failed?: { check?: string; error?: string };
    } = {};
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      return { url, ok: false, status, detail: "answered with something that is not JSON" };
    }
    if (parsed.schema === "failed") {
      const { check = "?", error = "?" } = parsed.failed ?? {};
      return {
        url,
        ok: false,
        status,
        detail: `status ${status}: the code does not survive the schema: ${check} failed: ${error}`,
      };
    }
    if (status !== 200)
      return { url, ok: false, status, detail: `status ${status}: ${body.slice(0, 200)}` };
    if (parsed.environment !== environment) {
      return {
        url,
        ok: false,
        status,
        detail: `serves environment "${parsed.environment}", expected "${environment}"`,
      };
    }
    return { url, ok: true, status, detail: parsed.status ?? "ok" };
  } catch (error) {
    return { url, ok: false, status: 0, detail: (error as Error).message };
  }
}

/** The local host: every environment on one port, told apart by the Host header. */
export function localGetter(port: number): HealthGetter {
  return (url) => {
    const parsed = new URL(url);
    return getByHost(port, parsed.hostname, parsed.pathname + parsed.search);
  };
}

/**
 * Deployed Workers, reached at their URLs. `connectTo` ("host:port") sends every request there
 * over plain HTTP with the URL's Host header instead, like curl's --connect-to: for a proxy in
 * front of workers.dev, or a recording stub in tests (CODEX_SMOKE_CONNECT_TO).
 */
export function remoteGetter(connectTo?: string, timeoutMs = 15_000): HealthGetter {
  if (connectTo) {
    const match = /^([^:\s]+):(\d{1,5})$/.exec(connectTo);
    if (!match) {
      throw new PipelineError(
        "CONFIG_INVALID",
        `CODEX_SMOKE_CONNECT_TO must be host:port (got "${connectTo.slice(0, 60)}")`,
        { kind: "user" },
      );
    }
    const [, host = "", port = ""] = match;
    return (url) => {
      const parsed = new URL(url);
      const path = parsed.pathname + parsed.search;
      return getByHost(Number(port), parsed.host, path, timeoutMs, host, true);
    };
  }
  return async (url) => {
    const response = await fetch(url, {
      headers: { accept: "application/json" },
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "manual",
    });
    return { status: response.status, body: await response.text() };
  };
}

/** The path every smoke check asks: /health with the schema check (its reads, not only a connection). */
export const SCHEMA_HEALTH_PATH = "/health?schema=1";

/** /health?schema=1 of each of web, auth and webhook. */
export function healthUrls(urls: { web: string; auth: string; webhook: string }): string[] {
  return (["web", "auth", "webhook"] as const).map(
    (kind) => new URL(SCHEMA_HEALTH_PATH, urls[kind]).href,
  );
}

/**
 * Checks web, auth and webhook of one environment; throws naming every one that failed. With
 * `retryForMs`, failed checks are repeated until they pass or the time is up: a Worker just
 * uploaded to Cloudflare can take some seconds to answer on workers.dev.
 */
export async function smokeAll(
  get: HealthGetter,
  urls: { web: string; auth: string; webhook: string },
  environment: string,
  options: { retryForMs?: number; intervalMs?: number } = {},
): Promise<SmokeResult[]> {
  const deadline = Date.now() + (options.retryForMs ?? 0);
  const results = new Map<string, SmokeResult>();
  let pending = healthUrls(urls);
  for (;;) {
    const checks = await Promise.all(pending.map((url) => smokeCheck(get, url, environment)));
    for (const check of checks) results.set(check.url, check);
    pending = checks.filter((c) => !c.ok).map((c) => c.url);
    if (!pending.length || Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 2_000));
  }
  const all = healthUrls(urls).map((url) => results.get(url) as SmokeResult);
  const failed = all.filter((c) => !c.ok);
  if (failed.length) {
    throw new PipelineError("SMOKE_FAILED", failed.map((c) => `${c.url}: ${c.detail}`).join("\n"));
  }
  return all;
}
