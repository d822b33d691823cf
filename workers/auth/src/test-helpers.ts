import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import worker, { type Env } from "./index";

export interface CallOptions {
  method?: string;
  json?: unknown;
  body?: string;
  headers?: Record<string, string>;
  /** Origin the request is addressed to; localhost by default. */
  origin?: string;
  env?: Partial<Env>;
}

/** Sends one request through the Worker's real fetch handler, inside workerd. */
export async function call(path: string, options: CallOptions = {}): Promise<Response> {
  const headers = new Headers(options.headers);
  let body = options.body;
  if (options.json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(options.json);
  }
  const request = new Request(`${options.origin ?? "http://localhost"}${path}`, {
    method: options.method ?? (body === undefined ? "GET" : "POST"),
    headers,
    body,
  });
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    request as Request<unknown, IncomingRequestCfProperties>,
    { ...(env as unknown as Env), ...options.env },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return response;
}

/** The `name=value` part of a Set-Cookie header, ready to send back as a Cookie header. */
export function cookieFrom(response: Response): string {
  const header = response.headers.get("set-cookie") ?? "";
  return header.split(";")[0] ?? "";
}

let counter = 0;
/** A fresh email per test, so tests in one file never collide. */
export function uniqueEmail(label: string): string {
  counter++;
  return `${label}-${counter}-${crypto.randomUUID().slice(0, 8)}@example.com`;
}

/** A URL where no Postgres listens: connecting fails at once. */
export const UNREACHABLE_DATABASE_URL = "postgres://nobody:nothing@127.0.0.1:1/none";
