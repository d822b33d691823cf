/**
 * A recording stub of Stripe's webhook endpoint API on node:http, close enough to the wire
 * protocol for the official `stripe` library to talk to it unchanged: bearer auth, form-encoded
 * requests (`metadata[k]`, `enabled_events[]`), JSON list objects with cursor paging, and
 * Stripe's `{error: {type, message}}` error bodies. Only webhook endpoints are modelled;
 * anything else answers 404.
 *
 * Two documented behaviours the pipeline depends on are held here:
 * - An endpoint's signing `secret` is returned only by the create call
 *   (https://docs.stripe.com/api/webhook_endpoints/object: "Only returned at creation"); a
 *   retrieve, list or update never carries it.
 * - An account holds at most 16 webhook endpoints (https://docs.stripe.com/webhooks: "You can
 *   register up to 16 webhook endpoints on each Stripe account"). Stripe answers the 17th create
 *   with a 400 `invalid_request_error` that has no distinct `code`; its exact wording is not
 *   documented, so callers must count endpoints themselves rather than match the message.
 */
import { stubContract, type ContractViolation } from "./contract";
import { listenOnLoopback } from "./listen";
import { randomBytes } from "node:crypto";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";

// Built by concatenation so that no scanner mistakes the fixture for a real credential.
export const STRIPE_STUB_KEY = "sk_" + "test_stubkey0123456789abcdef";

export interface StripeRecordedRequest {
  method: string;
  /** The path, for example `/v1/webhook_endpoints/we_123`. */
  path: string;
  query: Record<string, string>;
  /** Authorization masked, safe to print. */
  headers: IncomingHttpHeaders;
  /** The form-decoded body (keys as sent, such as `metadata[codex_environment]`). */
  body: Record<string, string | string[]>;
}

export interface StubWebhookEndpoint {
  id: string;
  object: "webhook_endpoint";
  api_version: string | null;
  application: string | null;
  created: number;
  description: string | null;
  enabled_events: string[];
  livemode: false;
  metadata: Record<string, string>;
  status: "enabled" | "disabled";
  url: string;
  /** Only sent back on create, as Stripe does. */
  secret: string;
}

export interface StripeStub {
  host: string;
  port: number;
  /** `http://127.0.0.1:<port>`: pass it as STRIPE_API_HOST. */
  url: string;
  apiKey: string;
  requests: StripeRecordedRequest[];
  /** Requests Stripe's API document refuses, and answers it does not document (contract.ts). */
  violations: ContractViolation[];
  /** Newest first, as Stripe lists them. */
  endpoints: StubWebhookEndpoint[];
  /** Adds an endpoint directly, without recording a request (Stripe's limit still holds). */
  seed(fields: { url: string; metadata?: Record<string, string> }): StubWebhookEndpoint;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = "invalid_request_error",
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Decodes Stripe's form encoding: `a[]=x&a[]=y` collects into an array, others are strings. */
function decodeForm(raw: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    if (key.endsWith("[]") || /\[\d+\]$/.test(key)) {
      const name = key.replace(/\[\d*\]$/, "[]");
      const list = out[name];
      out[name] = Array.isArray(list) ? [...list, value] : [value];
    } else {
      out[key] = value;
    }
  }
  return out;
}

function metadataOf(body: Record<string, string | string[]>): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) {
    const match = /^metadata\[(.+)\]$/.exec(key);
    if (match?.[1] !== undefined && typeof value === "string") metadata[match[1]] = value;
  }
  return metadata;
}

/** Stripe's per-account limit on webhook endpoints (https://docs.stripe.com/webhooks). */
export const STRIPE_WEBHOOK_ENDPOINT_LIMIT = 16;

// An API version as Stripe names them: a date, and since 2024 a release name ("2026-10-28.endive").
const API_VERSION = /^\d{4}-\d{2}-\d{2}(?:\.[a-z]+)?$/;

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString("hex")}`;
const publicView = ({ secret: _secret, ...rest }: StubWebhookEndpoint) => rest;

export async function startStripeStub(
  options: {
    apiKey?: string;
    /** Stripe's limit by default; an account whose limit Stripe's support raised may hold more. */
    endpointLimit?: number;
  } = {},
): Promise<StripeStub> {
  const apiKey = options.apiKey ?? STRIPE_STUB_KEY;
  const endpointLimit = options.endpointLimit ?? STRIPE_WEBHOOK_ENDPOINT_LIMIT;
  const requests: StripeRecordedRequest[] = [];
  const endpoints: StubWebhookEndpoint[] = [];
  const contract = stubContract("stripe");

  function makeEndpoint(fields: {
    url: string;
    metadata?: Record<string, string>;
    description?: string;
    enabled_events?: string[];
    api_version?: string;
  }): StubWebhookEndpoint {
    if (endpoints.length >= endpointLimit) {
      throw new HttpError(
        400,
        `You have reached the maximum of ${endpointLimit} webhook endpoints on this account.`,
      );
    }
    const endpoint: StubWebhookEndpoint = {
      id: id("we"),
      object: "webhook_endpoint",
      api_version: fields.api_version ?? null,
      application: null,
      created: Math.floor(Date.now() / 1000),
      description: fields.description ?? null,
      enabled_events: fields.enabled_events ?? ["*"],
      livemode: false,
      metadata: fields.metadata ?? {},
      status: "enabled",
      url: fields.url,
      secret: id("whsec"),
    };
    endpoints.unshift(endpoint);
    return endpoint;
  }

  function find(endpointId: string): StubWebhookEndpoint {
    const endpoint = endpoints.find((e) => e.id === endpointId);
    if (!endpoint) {
      throw new HttpError(
        404,
        `No such webhook endpoint: '${endpointId}'`,
        "invalid_request_error",
        "resource_missing",
      );
    }
    return endpoint;
  }

  function list(query: Record<string, string>) {
    const limit = query.limit === undefined ? 10 : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw new HttpError(400, "Invalid integer: limit must be between 1 and 100");
    }
    let start = 0;
    if (query.starting_after) start = endpoints.indexOf(find(query.starting_after)) + 1;
    const data = endpoints.slice(start, start + limit).map(publicView);
    return {
      object: "list",
      data,
      has_more: start + limit < endpoints.length,
      url: "/v1/webhook_endpoints",
    };
  }

  function route(
    method: string,
    path: string,
    query: Record<string, string>,
    body: Record<string, string | string[]>,
  ): unknown {
    if (path === "/v1/webhook_endpoints") {
      if (method === "GET") return list(query);
      if (method === "POST") {
        const url = body.url;
        const events = body["enabled_events[]"];
        if (typeof url !== "string" || !url)
          throw new HttpError(400, "Missing required param: url.");
        if (!Array.isArray(events) || events.length === 0) {
          throw new HttpError(400, "Missing required param: enabled_events.");
        }
        const version = body.api_version;
        if (version !== undefined && (typeof version !== "string" || !API_VERSION.test(version))) {
          throw new HttpError(400, `Invalid api_version: ${String(version)}`);
        }
        return makeEndpoint({
          url,
          enabled_events: events,
          ...(typeof version === "string" ? { api_version: version } : {}),
          metadata: metadataOf(body),
          ...(typeof body.description === "string" ? { description: body.description } : {}),
        });
      }
    }
    const match = /^\/v1\/webhook_endpoints\/([^/]+)$/.exec(path);
    if (match?.[1] !== undefined) {
      const endpoint = find(match[1]);
      if (method === "GET") return publicView(endpoint);
      if (method === "POST") {
        if (typeof body.url === "string") endpoint.url = body.url;
        if (typeof body.description === "string") endpoint.description = body.description;
        const events = body["enabled_events[]"];
        if (Array.isArray(events)) endpoint.enabled_events = events;
        Object.assign(endpoint.metadata, metadataOf(body));
        return publicView(endpoint);
      }
      if (method === "DELETE") {
        endpoints.splice(endpoints.indexOf(endpoint), 1);
        return { id: endpoint.id, object: "webhook_endpoint", deleted: true };
      }
    }
    throw new HttpError(404, `Unrecognized request URL (${method}: ${path}).`);
  }

  function send(res: ServerResponse, status: number, body: unknown) {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
      "request-id": id("req"),
    });
    res.end(text);
  }

  const errorBody = (error: HttpError) => ({
    error: {
      type: error.type,
      message: error.message,
      ...(error.code ? { code: error.code } : {}),
    },
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://stub.invalid");
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const method = req.method ?? "GET";
    const query = Object.fromEntries(url.searchParams);
    const body = decodeForm(raw);
    const headers = { ...req.headers };
    if (headers.authorization !== undefined) {
      headers.authorization = headers.authorization.replace(/^(\S+\s+).*$/, "$1[REDACTED]");
    }
    requests.push({ method, path: url.pathname, query, headers, body });
    const verdict = contract.check(
      {
        method,
        path: url.pathname,
        query,
        search: url.search.slice(1),
        contentType: req.headers["content-type"],
        body: raw,
      },
      res,
    );

    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      // Stripe masks all but the last four characters of the key it was given.
      const given = (req.headers.authorization ?? "").replace(/^Bearer\s+/, "");
      return send(
        res,
        401,
        errorBody(
          new HttpError(
            401,
            `Invalid API Key provided: ${given.slice(0, 8)}${"*".repeat(Math.max(0, given.length - 12))}${given.slice(-4)}`,
          ),
        ),
      );
    }
    if (verdict.errors.length > 0) {
      // Stripe refuses unknown and invalid parameters with a 400 invalid_request_error that
      // names the parameter: https://docs.stripe.com/api/errors
      const unknown = /must NOT have additional properties|is unknown/.test(
        verdict.errors[0] ?? "",
      );
      return send(res, 400, {
        error: {
          type: "invalid_request_error",
          code: unknown ? "parameter_unknown" : "parameter_invalid",
          ...(verdict.param ? { param: verdict.param } : {}),
          message: unknown
            ? `Received unknown parameter: ${verdict.param ?? ""}`
            : `Invalid ${verdict.param ?? "request"}: ${verdict.errors.join("; ")}`,
        },
      });
    }
    try {
      send(res, 200, route(method, url.pathname, query, body));
    } catch (error) {
      if (error instanceof HttpError) return send(res, error.status, errorBody(error));
      send(res, 500, errorBody(new HttpError(500, `stub failure: ${String(error)}`, "api_error")));
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        send(
          res,
          500,
          errorBody(new HttpError(500, `stub failure: ${String(error)}`, "api_error")),
        );
      }
    });
  });
  const listening = await listenOnLoopback(server);
  const { port } = listening;
  const host = "127.0.0.1";

  return {
    host,
    port,
    url: `http://${host}:${port}`,
    apiKey,
    requests,
    violations: contract.violations,
    endpoints,
    seed: (fields) => makeEndpoint(fields),
    close: listening.close,
  };
}
