/**
 * Smoke checks: each Worker's /health, reached the way a browser reaches it (by Host header on
 * the local host's port). Node's fetch overwrites a Host header, so this uses node:http.
 */
import { request } from "node:http";
import { PipelineError } from "./errors";

export interface SmokeResult {
  url: string;
  ok: boolean;
  status: number;
  detail: string;
}

export function getByHost(
  port: number,
  hostname: string,
  path: string,
  timeoutMs = 15_000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "GET",
        headers: { host: `${hostname}:${port}`, accept: "application/json" },
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

/** Checks one health endpoint: 200, JSON, and the expected environment. */
export async function smokeCheck(
  port: number,
  hostname: string,
  environment: string,
): Promise<SmokeResult> {
  const url = `http://${hostname}:${port}/health`;
  try {
    const { status, body } = await getByHost(port, hostname, "/health");
    let parsed: { environment?: string; status?: string } = {};
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      return { url, ok: false, status, detail: "answered with something that is not JSON" };
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

/** Checks web, auth and webhook of one environment; throws naming every one that failed. */
export async function smokeAll(
  port: number,
  urls: { web: string; auth: string; webhook: string },
  environment: string,
): Promise<SmokeResult[]> {
  const checks = await Promise.all(
    (["web", "auth", "webhook"] as const).map((kind) =>
      smokeCheck(port, new URL(urls[kind]).hostname, environment),
    ),
  );
  const failed = checks.filter((c) => !c.ok);
  if (failed.length) {
    throw new PipelineError("SMOKE_FAILED", failed.map((c) => `${c.url}: ${c.detail}`).join("\n"));
  }
  return checks;
}
