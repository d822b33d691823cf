import { afterEach, describe, expect, it, vi } from "vitest";
import { memorySink, type LogEntry } from "./logger";
import {
  REQUEST_ID_HEADER,
  isValidRequestId,
  propagateRequestId,
  withObservability,
  type ObservedHandler,
} from "./with-observability";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface TestEnv {
  ENVIRONMENT?: string;
  DATABASE_URL?: string;
  VARS?: { region: string };
  AUTH?: FakeService;
  ANALYTICS?: AnalyticsEngineDataset;
  LOG_LEVEL?: string;
}

/** Stands in for a service binding: records each Request its fetch receives. */
class FakeService {
  // Private fields are invisible through a Proxy, like the internal slots of a native binding.
  readonly #brand = true;
  readonly received: Request[] = [];
  readonly label = "auth-service";

  async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    // A real binding only ever sees a Request; normalising here keeps the recording uniform.
    this.received.push(
      input instanceof Request && init === undefined ? input : new Request(input, init),
    );
    return new Response("ok");
  }

  connect(address: string): string {
    // Throws like a native method would if `this` were a proxy rather than the binding.
    if (!(#brand in this) || !this.#brand) {
      throw new TypeError("Illegal invocation");
    }
    return `connected to ${address}`;
  }

  async whoAmI(): Promise<string> {
    return this.label;
  }
}

const ctx: ExecutionContext = {
  waitUntil() {},
  passThroughOnException() {},
  props: undefined,
};

function setup(handler: ObservedHandler<TestEnv>, options: { analyticsBinding?: string } = {}) {
  const sink = memorySink();
  const worker = withObservability<TestEnv>(handler, {
    service: "gateway",
    sinks: () => [sink],
    ...options,
  });
  return { worker, entries: sink.entries };
}

function requestLine(entries: LogEntry[]): LogEntry | undefined {
  return entries.find((entry) => entry.message === "request");
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("isValidRequestId", () => {
  it.each([
    "abc",
    "0b5f1a6e-9c1d-4e3a-8f7b-2d6c9e1a4b3c",
    "8f1c2e3d4a5b6c7d-FRA",
    "a.b_c:d-e",
    "x".repeat(128),
  ])("accepts %s", (value) => {
    expect(isValidRequestId(value)).toBe(true);
  });

  it.each(["", "x".repeat(129), "has space", "new\nline", '"quoted"', "a/b", "ü", null, undefined])(
    "rejects %j",
    (value) => {
      expect(isValidRequestId(value)).toBe(false);
    },
  );
});

describe("withObservability", () => {
  it("reuses a valid incoming request id", async () => {
    const { worker, entries } = setup((_request, _env, _ctx, obs) => {
      obs.info("inside", { seen: obs.requestId });
      return new Response("hi");
    });
    const response = await worker(
      new Request("https://example.com/", { headers: { [REQUEST_ID_HEADER]: "incoming-123" } }),
      {},
      ctx,
    );

    expect(response.headers.get(REQUEST_ID_HEADER)).toBe("incoming-123");
    expect(entries.map((entry) => entry.requestId)).toEqual(["incoming-123", "incoming-123"]);
    expect(entries[0]?.seen).toBe("incoming-123");
  });

  it("replaces an invalid incoming request id", async () => {
    const { worker, entries } = setup(() => new Response("hi"));
    const response = await worker(
      new Request("https://example.com/", {
        headers: { [REQUEST_ID_HEADER]: "bad id with spaces" },
      }),
      {},
      ctx,
    );

    const id = response.headers.get(REQUEST_ID_HEADER);
    expect(id).toMatch(UUID);
    expect(requestLine(entries)?.requestId).toBe(id);
  });

  it("creates a request id when there is none, different for each request", async () => {
    const { worker } = setup(() => new Response("hi"));
    const first = await worker(new Request("https://example.com/"), {}, ctx);
    const second = await worker(new Request("https://example.com/"), {}, ctx);

    expect(first.headers.get(REQUEST_ID_HEADER)).toMatch(UUID);
    expect(second.headers.get(REQUEST_ID_HEADER)).toMatch(UUID);
    expect(first.headers.get(REQUEST_ID_HEADER)).not.toBe(second.headers.get(REQUEST_ID_HEADER));
  });

  it("logs one request line with method, path, status and a non-negative duration", async () => {
    const { worker, entries } = setup(async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return new Response("created", { status: 201 });
    });
    await worker(new Request("https://example.com/items?secret=1", { method: "POST" }), {}, ctx);

    const lines = entries.filter((entry) => entry.message === "request");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: "info",
      service: "gateway",
      method: "POST",
      path: "/items",
      status: 201,
    });
    expect(typeof lines[0]?.durationMs).toBe("number");
    expect(lines[0]?.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("sets the header on a response whose headers are immutable", async () => {
    const { worker } = setup(() => Response.redirect("https://example.com/next", 302));
    const response = await worker(new Request("https://example.com/"), {}, ctx);

    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("https://example.com/next");
    expect(response.headers.get(REQUEST_ID_HEADER)).toMatch(UUID);
  });

  it.each([
    [
      "thrown",
      () => {
        throw new Error("db password=hunter2 rejected");
      },
    ],
    ["rejected", () => Promise.reject(new Error("db password=hunter2 rejected"))],
  ])("turns a %s error into a 500 without details and a logged error", async (_kind, handler) => {
    const { worker, entries } = setup(handler);
    const response = await worker(
      new Request("https://example.com/boom", { headers: { [REQUEST_ID_HEADER]: "req-err" } }),
      {},
      ctx,
    );

    expect(response.status).toBe(500);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(response.headers.get(REQUEST_ID_HEADER)).toBe("req-err");
    const body = await response.text();
    expect(JSON.parse(body)).toEqual({ error: "internal_error", requestId: "req-err" });
    expect(body).not.toContain("hunter2");
    expect(body).not.toContain("rejected");
    expect(body).not.toContain("at ");

    const errorLine = entries.find((entry) => entry.message !== "request");
    const error = errorLine?.error as { name?: unknown; message?: unknown; stack?: unknown };
    expect(errorLine).toMatchObject({ level: "error", requestId: "req-err" });
    expect(error.name).toBe("Error");
    expect(error.message).toBe("db password=[REDACTED] rejected");
    expect(error.stack).toEqual(expect.stringContaining("with-observability.test.ts"));
    expect(JSON.stringify(entries)).not.toContain("hunter2");
    expect(requestLine(entries)).toMatchObject({ level: "error", status: 500, path: "/boom" });
  });

  it("reads the environment from env.ENVIRONMENT", async () => {
    const { worker, entries } = setup(() => new Response("hi"));
    await worker(new Request("https://example.com/"), { ENVIRONMENT: "production" }, ctx);
    await worker(new Request("https://example.com/"), { ENVIRONMENT: "pr-123" }, ctx);
    await worker(new Request("https://example.com/"), {}, ctx);

    expect(entries.map((entry) => entry.environment)).toEqual(["production", "pr-123", "unknown"]);
  });

  it("takes minLevel from env.LOG_LEVEL", async () => {
    const { worker, entries } = setup((_request, _env, _ctx, obs) => {
      obs.info("noise");
      return new Response("hi", { status: 200 });
    });
    await worker(new Request("https://example.com/"), { LOG_LEVEL: "warn" }, ctx);
    expect(entries).toEqual([]);
  });

  it("writes to the console by default", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const worker = withObservability(() => new Response("hi"), { service: "gateway" });
    await worker(new Request("https://example.com/"), { ENVIRONMENT: "staging" }, ctx);

    expect(log).toHaveBeenCalledTimes(1);
    expect(JSON.parse(String(log.mock.calls[0]?.[0]))).toMatchObject({
      message: "request",
      environment: "staging",
      service: "gateway",
    });
  });
});

describe("Analytics Engine", () => {
  it("writes data points to the named binding", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    const points: AnalyticsEngineDataPoint[] = [];
    const analytics: AnalyticsEngineDataset = {
      writeDataPoint(point) {
        if (point) {
          points.push(point);
        }
      },
    };
    const worker = withObservability<TestEnv>(() => new Response("hi"), {
      service: "gateway",
      analyticsBinding: "ANALYTICS",
    });
    await worker(
      new Request("https://example.com/a", { headers: { [REQUEST_ID_HEADER]: "r-1" } }),
      { ENVIRONMENT: "production", ANALYTICS: analytics },
      ctx,
    );

    expect(points).toHaveLength(1);
    expect(points[0]?.indexes).toEqual(["gateway"]);
    expect(points[0]?.blobs?.slice(0, 7)).toEqual([
      "info",
      "gateway",
      "production",
      "request",
      "r-1",
      "/a",
      "GET",
    ]);
    expect(points[0]?.doubles?.[1]).toBe(200);
  });

  it("still serves the request when the dataset throws", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const worker = withObservability<TestEnv>(() => new Response("hi"), {
      service: "gateway",
      analyticsBinding: "ANALYTICS",
    });
    const response = await worker(
      new Request("https://example.com/"),
      {
        ANALYTICS: {
          writeDataPoint() {
            throw new Error("over limit");
          },
        },
      },
      ctx,
    );

    expect(response.status).toBe(200);
    expect(await response.text()).toBe("hi");
    expect(log).toHaveBeenCalledTimes(1);
  });

  it("is skipped when the binding is absent", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const worker = withObservability<TestEnv>(() => new Response("hi"), {
      service: "gateway",
      analyticsBinding: "ANALYTICS",
    });
    const response = await worker(new Request("https://example.com/"), {}, ctx);
    expect(response.status).toBe(200);
    expect(log).toHaveBeenCalledTimes(1);
  });
});

describe("request id propagation", () => {
  it("adds the request id to every kind of fetch through a service binding", async () => {
    const service = new FakeService();
    const original = new Request("https://auth.internal/session", {
      headers: { accept: "application/json" },
    });
    const originalHeaders = [...original.headers];
    const { worker } = setup(async (_request, env) => {
      await env.AUTH?.fetch("https://auth.internal/from-string");
      await env.AUTH?.fetch(new URL("https://auth.internal/from-url"), { method: "DELETE" });
      await env.AUTH?.fetch(original);
      await env.AUTH?.fetch(original.clone(), {
        method: "POST",
        body: "{}",
        headers: { "content-type": "application/json" },
      });
      return new Response("done");
    });

    await worker(
      new Request("https://example.com/", { headers: { [REQUEST_ID_HEADER]: "trace-42" } }),
      { AUTH: service },
      ctx,
    );

    expect(service.received).toHaveLength(4);
    for (const received of service.received) {
      expect(received.headers.get(REQUEST_ID_HEADER)).toBe("trace-42");
    }
    expect(
      service.received.map((request) => [request.method, new URL(request.url).pathname]),
    ).toEqual([
      ["GET", "/from-string"],
      ["DELETE", "/from-url"],
      ["GET", "/session"],
      ["POST", "/session"],
    ]);
    expect(service.received[2]?.headers.get("accept")).toBe("application/json");
    expect(service.received[3]?.headers.get("content-type")).toBe("application/json");
    expect(await service.received[3]?.text()).toBe("{}");
    // The caller's Request is not modified, and is not the object the binding received.
    expect([...original.headers]).toEqual(originalHeaders);
    expect(original.headers.has(REQUEST_ID_HEADER)).toBe(false);
    expect(service.received).not.toContain(original);
  });

  it("overrides a forwarded invalid id with the sanitized one", async () => {
    const service = new FakeService();
    const { worker } = setup(async (request, env) => {
      await env.AUTH?.fetch(request);
      return new Response("done");
    });
    const response = await worker(
      new Request("https://example.com/", { headers: { [REQUEST_ID_HEADER]: "not valid!" } }),
      { AUTH: service },
      ctx,
    );

    const id = response.headers.get(REQUEST_ID_HEADER);
    expect(id).toMatch(UUID);
    expect(service.received[0]?.headers.get(REQUEST_ID_HEADER)).toBe(id);
  });

  it("forwards other members of the binding unchanged, with the binding as this", async () => {
    const service = new FakeService();
    const wrapped = propagateRequestId({ AUTH: service }, "r").AUTH;

    expect(wrapped).not.toBe(service);
    expect(wrapped.label).toBe("auth-service");
    expect(wrapped.connect("db:5432")).toBe("connected to db:5432");
    expect(await wrapped.whoAmI()).toBe("auth-service");
    expect(wrapped.connect).toBe(wrapped.connect);
  });

  it("wraps a frozen binding whose fetch is an own property", async () => {
    const received: Request[] = [];
    const frozen = Object.freeze({
      fetch: async (input: RequestInfo | URL) => {
        received.push(new Request(input));
        return new Response("ok");
      },
      name: "frozen",
    });
    const wrapped = propagateRequestId({ FROZEN: frozen }, "r-frozen").FROZEN;

    await wrapped.fetch("https://frozen.internal/");
    expect(received[0]?.headers.get(REQUEST_ID_HEADER)).toBe("r-frozen");
    expect(wrapped.name).toBe("frozen");
    expect(Object.keys(wrapped)).toEqual(["fetch", "name"]);
    expect({ ...wrapped }.fetch).toBe(wrapped.fetch);
  });

  it("types an interface-declared env and fits ExportedHandler", async () => {
    // Interfaces have no implicit index signature, which is what wrangler-generated Env types are.
    interface Env {
      ENVIRONMENT: string;
      AUTH: Fetcher;
    }
    const service = new FakeService();
    const sink = memorySink();
    const worker = {
      fetch: withObservability<Env>((_request, env) => env.AUTH.fetch("https://auth.internal/"), {
        service: "gateway",
        sinks: () => [sink],
      }),
    } satisfies ExportedHandler<Env>;

    const response = await worker.fetch(
      new Request("https://example.com/"),
      { ENVIRONMENT: "test", AUTH: service as unknown as Fetcher },
      ctx,
    );
    expect(await response.text()).toBe("ok");
    expect(service.received[0]?.headers.get(REQUEST_ID_HEADER)).toBe(
      response.headers.get(REQUEST_ID_HEADER),
    );
    expect(sink.entries[0]?.environment).toBe("test");
  });

  it("passes non-fetcher values through as the same objects", async () => {
    const vars = { region: "eu" };
    const analytics: AnalyticsEngineDataset = { writeDataPoint() {} };
    const env: TestEnv = {
      ENVIRONMENT: "preview",
      DATABASE_URL: "postgres://u:p@h/db",
      VARS: vars,
      ANALYTICS: analytics,
      AUTH: new FakeService(),
    };
    let seen: TestEnv | undefined;
    const { worker } = setup((_request, handlerEnv) => {
      seen = handlerEnv;
      return new Response("ok");
    });
    await worker(new Request("https://example.com/"), env, ctx);

    expect(seen).not.toBe(env);
    expect(seen?.ENVIRONMENT).toBe("preview");
    expect(seen?.DATABASE_URL).toBe("postgres://u:p@h/db");
    expect(seen?.VARS).toBe(vars);
    expect(seen?.ANALYTICS).toBe(analytics);
    expect(seen?.AUTH).not.toBe(env.AUTH);
    // The caller's env is left as it was.
    expect(env.AUTH).toBeInstanceOf(FakeService);
  });
});
