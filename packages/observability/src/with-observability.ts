import {
  analyticsEngineSink,
  consoleSink,
  createObservability,
  isLogLevel,
  type LogLevel,
  type LogSink,
  type ObservabilityClient,
} from "./logger";

/** The header that carries a request's id, in and out and across service bindings. */
export const REQUEST_ID_HEADER = "x-request-id";

// Loose enough for UUIDs, ULIDs and Cloudflare ray ids, strict enough that a client cannot
// inject newlines, quotes or kilobytes into every log line of the request.
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** The part of a Worker's env that this package reads. */
export interface ObservabilityEnv {
  /** Deployment environment ("production", "pr-123"), a var set per wrangler environment. */
  ENVIRONMENT?: string;
  /** Optional; one of "debug" | "info" | "warn" | "error". Lines below it are dropped. */
  LOG_LEVEL?: string;
  [binding: string]: unknown;
}

/** A fetch handler that also receives the request's {@link ObservabilityClient}. */
export type ObservedHandler<E> = (
  request: Request,
  env: E,
  ctx: ExecutionContext,
  obs: ObservabilityClient,
) => Response | Promise<Response>;

/** Options for {@link withObservability}. */
export interface WithObservabilityOptions<E> {
  /** Name of this Worker in every log line. */
  service: string;
  /** Name of an `AnalyticsEngineDataset` binding in env; when bound, lines also go there. */
  analyticsBinding?: string;
  /** Replaces the default sinks (console, plus Analytics Engine when bound); for tests. */
  sinks?: (env: E) => LogSink[];
  /** Lines below this level are dropped. Defaults to `env.LOG_LEVEL`, then "debug". */
  minLevel?: LogLevel;
}

/** Whether `value` is acceptable as a request id from an untrusted client. */
export function isValidRequestId(value: string | null | undefined): value is string {
  return typeof value === "string" && REQUEST_ID_PATTERN.test(value);
}

/**
 * Wraps a Worker's fetch handler with request ids, logging and a safe error boundary:
 *
 * - the request id is the incoming `x-request-id` when it is sane, else a new UUID; it is set
 *   on the response and added to every request made through a service binding in env;
 * - one "request" line is logged per request, with method, path, status and duration;
 * - an uncaught error is logged with its stack, and the client gets only a 500
 *   `{"error":"internal_error","requestId":"…"}`.
 *
 * In workerd, clocks advance only while waiting on I/O, so `durationMs` measures time spent
 * waiting (subrequests, database); a handler that only computes reports 0.
 *
 * `E` is constrained to `object` rather than {@link ObservabilityEnv}: wrangler-generated `Env`
 * types are interfaces, and an interface never satisfies an index signature.
 */
export function withObservability<E extends object = ObservabilityEnv>(
  handler: ObservedHandler<E>,
  options: WithObservabilityOptions<E>,
): (request: Request, env: E, ctx: ExecutionContext) => Promise<Response> {
  return async (request, env, ctx) => {
    const startedAt = performance.now();
    const incomingId = request.headers.get(REQUEST_ID_HEADER);
    const requestId = isValidRequestId(incomingId) ? incomingId : crypto.randomUUID();
    const vars = env as ObservabilityEnv;
    const obs = createObservability({
      service: options.service,
      environment:
        typeof vars.ENVIRONMENT === "string" && vars.ENVIRONMENT ? vars.ENVIRONMENT : "unknown",
      requestId,
      sinks: options.sinks ? options.sinks(env) : defaultSinks(vars, options.analyticsBinding),
      minLevel: options.minLevel ?? (isLogLevel(vars.LOG_LEVEL) ? vars.LOG_LEVEL : "debug"),
    });

    let response: Response;
    try {
      const result = await handler(request, propagateRequestId(env, requestId), ctx, obs);
      response = withRequestIdHeader(result, requestId);
    } catch (error) {
      // The request line that follows carries method and path under the same requestId.
      obs.trackError(error);
      response = internalErrorResponse(requestId);
    }
    obs.trackRequest(request, response, performance.now() - startedAt);
    return response;
  };
}

/**
 * Returns a shallow copy of `env` in which every Fetcher (anything with a `fetch` method, such
 * as a service binding) sends `x-request-id: requestId` on each request. All other values are
 * the same objects as in `env`. Exported for handlers other than fetch (queue, scheduled).
 */
export function propagateRequestId<E extends object>(env: E, requestId: string): E {
  const copy: Record<string, unknown> = { ...(env as Record<string, unknown>) };
  for (const [name, value] of Object.entries(copy)) {
    if (isFetcher(value)) {
      copy[name] = fetcherWithRequestId(value, requestId);
    }
  }
  return copy as E;
}

interface FetcherLike {
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
}

function isFetcher(value: unknown): value is FetcherLike & object {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { fetch?: unknown }).fetch === "function"
  );
}

// A Proxy rather than a new object, because an RPC service binding has methods this code
// cannot know about; everything but `fetch` is passed through.
function fetcherWithRequestId<T extends FetcherLike & object>(target: T, requestId: string): T {
  const fetchWithId = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    // A new Request copies the headers, so the caller's Request and Headers stay untouched.
    // The id is set, not appended: a handler forwarding the incoming request would otherwise
    // pass on the client's id even when it was rejected as invalid.
    const request = new Request(input, init);
    request.headers.set(REQUEST_ID_HEADER, requestId);
    return target.fetch(request);
  };
  // Native methods (`connect`) throw "Illegal invocation" unless called on the real binding,
  // so every method is called with the target as `this`, never the proxy.
  const methods = new WeakMap<object, unknown>();
  const forward = (value: unknown): unknown => {
    if (typeof value !== "function") {
      return value;
    }
    let method = methods.get(value);
    if (method === undefined) {
      method = new Proxy(value, {
        apply: (fn, _thisArg, args: unknown[]) => Reflect.apply(fn, target, args),
      });
      methods.set(value, method);
    }
    return method;
  };
  // The proxy stands on an empty stand-in rather than on the binding: a Proxy must report a
  // frozen (non-configurable) property exactly as its target has it, which would forbid
  // replacing `fetch` on a frozen binding.
  const standIn = Object.create(Object.getPrototypeOf(target) as object | null) as T;
  return new Proxy(standIn, {
    get: (_standIn, property) =>
      property === "fetch" ? fetchWithId : forward(Reflect.get(target, property, target)),
    has: (_standIn, property) => Reflect.has(target, property),
    ownKeys: () => Reflect.ownKeys(target),
    getOwnPropertyDescriptor: (_standIn, property) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(target, property);
      if (descriptor === undefined) {
        return undefined;
      }
      const value = property === "fetch" ? fetchWithId : forward(descriptor.value);
      return "value" in descriptor
        ? { ...descriptor, value, configurable: true }
        : { ...descriptor, configurable: true };
    },
  });
}

function defaultSinks(env: ObservabilityEnv, analyticsBinding: string | undefined): LogSink[] {
  const sinks = [consoleSink()];
  const dataset = analyticsBinding === undefined ? undefined : env[analyticsBinding];
  if (isAnalyticsDataset(dataset)) {
    sinks.push(analyticsEngineSink(dataset));
  }
  return sinks;
}

function isAnalyticsDataset(value: unknown): value is AnalyticsEngineDataset {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { writeDataPoint?: unknown }).writeDataPoint === "function"
  );
}

function withRequestIdHeader(response: Response, requestId: string): Response {
  try {
    response.headers.set(REQUEST_ID_HEADER, requestId);
    return response;
  } catch {
    // Headers of a fetch() response (or Response.redirect) are immutable; copy the response.
    // Passing the response as init keeps status, statusText, headers and, in workerd, the
    // webSocket of a 101 upgrade.
    const copy = new Response(response.body, response);
    copy.headers.set(REQUEST_ID_HEADER, requestId);
    return copy;
  }
}

function internalErrorResponse(requestId: string): Response {
  // Nothing from the error itself: messages and stacks can name tables, paths or secrets.
  return new Response(JSON.stringify({ error: "internal_error", requestId }), {
    status: 500,
    headers: {
      "content-type": "application/json",
      "cache-control": "no-store",
      [REQUEST_ID_HEADER]: requestId,
    },
  });
}
