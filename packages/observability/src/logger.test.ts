import { afterEach, describe, expect, it, vi } from "vitest";
import {
  ANALYTICS_ENGINE_COLUMNS,
  ObservabilityClient,
  analyticsEngineSink,
  consoleSink,
  createObservability,
  memorySink,
  toJsonLine,
  type LogEntry,
  type ObservabilityOptions,
} from "./logger";

const SECRETS = {
  databaseUrl: "postgres://app:Pl4nted-DB-pw@db.internal:5432/main",
  dbPassword: "Pl4nted-DB-pw",
  stripeKey: "sk_" + "live_51PlantedStripeKey0001",
  webhookSecret: "whsec_" + "PlantedWebhookSecret0001",
  jwt: "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiJwbGFudGVkIn0" + ".PlantedSignaturePlantedSignature",
  neonPassword: "npg_" + "Pl4ntedNe0n",
  sessionSecret: "planted-session-secret-value",
  cookie: "sid=planted-cookie-value",
};

function client(options: Partial<ObservabilityOptions> = {}) {
  const sink = memorySink();
  const obs = createObservability({
    service: "auth",
    environment: "test",
    sinks: [sink],
    ...options,
  });
  return { obs, entries: sink.entries };
}

function dataset() {
  const points: AnalyticsEngineDataPoint[] = [];
  return {
    points,
    writeDataPoint(point?: AnalyticsEngineDataPoint) {
      if (point) {
        points.push(point);
      }
    },
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("ObservabilityClient", () => {
  it("writes an entry with the reserved fields and the caller's fields", () => {
    const { obs, entries } = client({ requestId: "req-1" });
    obs.info("signed in", { userId: 7 });

    expect(entries).toHaveLength(1);
    const [entry] = entries;
    expect(entry).toMatchObject({
      level: "info",
      message: "signed in",
      environment: "test",
      service: "auth",
      requestId: "req-1",
      userId: 7,
    });
    expect(new Date(entry?.timestamp ?? "").toISOString()).toBe(entry?.timestamp);
  });

  it("does not let fields overwrite reserved fields", () => {
    const { obs, entries } = client({ requestId: "req-1" });
    obs.warn("real", { level: "debug", message: "fake", service: "x", requestId: "forged" });
    expect(entries[0]).toMatchObject({
      level: "warn",
      message: "real",
      service: "auth",
      requestId: "req-1",
    });
  });

  it("drops lines below minLevel", () => {
    const { obs, entries } = client({ minLevel: "warn" });
    obs.debug("d");
    obs.info("i");
    obs.warn("w");
    obs.error("e");
    obs.log("info", "i2");
    expect(entries.map((entry) => entry.level)).toEqual(["warn", "error"]);
  });

  it("logs every level by default", () => {
    const { obs, entries } = client();
    obs.debug("d");
    obs.info("i");
    obs.warn("w");
    obs.error("e");
    expect(entries.map((entry) => entry.message)).toEqual(["d", "i", "w", "e"]);
  });

  it("never lets a planted secret reach a sink", () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: string) => lines.push(line));
    vi.spyOn(console, "warn").mockImplementation((line: string) => lines.push(line));
    vi.spyOn(console, "error").mockImplementation((line: string) => lines.push(line));
    const obs = createObservability({
      service: "auth",
      environment: "test",
      sinks: [consoleSink()],
    }).child({ requestId: "r", bound: { DATABASE_URL: SECRETS.databaseUrl } });

    obs.info(`connecting to ${SECRETS.databaseUrl}`, {
      env: { DATABASE_URL: SECRETS.databaseUrl, SESSION_SECRET: SECRETS.sessionSecret },
      headers: new Headers({ cookie: SECRETS.cookie, authorization: `Bearer ${SECRETS.jwt}` }),
      stripe: { key: SECRETS.stripeKey, note: `signing with ${SECRETS.webhookSecret}` },
      pairs: [["set-cookie", SECRETS.cookie]],
      deep: [{ level2: { level3: `neon ${SECRETS.neonPassword}` } }],
    });
    obs.warn("auth header", { authorization: SECRETS.jwt, jwtInText: `jwt=${SECRETS.jwt}` });
    obs.trackError(new Error(`Stripe rejected ${SECRETS.stripeKey} for ${SECRETS.databaseUrl}`));
    obs.trackError({ password: SECRETS.dbPassword, nested: { token: SECRETS.jwt } });

    expect(lines).toHaveLength(4);
    const output = lines.join("\n");
    for (const secret of Object.values(SECRETS)) {
      expect(output).not.toContain(secret);
    }
    expect(output).toContain("[REDACTED]");
  });

  it("keeps going when a sink throws", () => {
    const good = memorySink();
    const obs = createObservability({
      service: "auth",
      environment: "test",
      sinks: [
        {
          write() {
            throw new Error("sink down");
          },
        },
        good,
      ],
    });
    expect(() => obs.error("still logged")).not.toThrow();
    expect(good.entries.map((entry) => entry.message)).toEqual(["still logged"]);
  });

  it("defaults to the console sink", () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    new ObservabilityClient({ service: "auth", environment: "test" }).info("hello");
    expect(log).toHaveBeenCalledTimes(1);
    expect(JSON.parse(String(log.mock.calls[0]?.[0]))).toMatchObject({ message: "hello" });
  });
});

describe("trackRequest", () => {
  it("logs method, path without the query string, status and duration", () => {
    const { obs, entries } = client();
    const request = new Request("https://auth.example.com/login/verify?token=abc&next=%2F#frag", {
      method: "POST",
    });
    obs.trackRequest(request, { status: 302 }, 12.5, { route: "verify" });

    expect(entries[0]).toMatchObject({
      level: "info",
      message: "request",
      method: "POST",
      path: "/login/verify",
      status: 302,
      durationMs: 12.5,
      route: "verify",
    });
    expect(JSON.stringify(entries)).not.toContain("abc");
    expect(JSON.stringify(entries)).not.toContain("next=");
  });

  it("logs 4xx at info and 5xx at error", () => {
    const { obs, entries } = client();
    const request = new Request("https://example.com/");
    obs.trackRequest(request, { status: 404 }, 1);
    obs.trackRequest(request, { status: 499 }, 1);
    obs.trackRequest(request, { status: 500 }, 1);
    obs.trackRequest(request, { status: 503 }, 1);
    expect(entries.map((entry) => entry.level)).toEqual(["info", "info", "error", "error"]);
  });

  it("never reports a negative or non-finite duration", () => {
    const { obs, entries } = client();
    const request = new Request("https://example.com/");
    obs.trackRequest(request, { status: 200 }, -3);
    obs.trackRequest(request, { status: 200 }, Number.NaN);
    expect(entries.map((entry) => entry.durationMs)).toEqual([0, 0]);
  });
});

describe("trackError", () => {
  it("logs name, message and stack", () => {
    const { obs, entries } = client();
    obs.trackError(new RangeError("out of range"), { step: "parse" });

    const entry = entries[0];
    expect(entry).toMatchObject({
      level: "error",
      message: "out of range",
      step: "parse",
      error: { name: "RangeError", message: "out of range" },
    });
    const error = entry?.error as { stack?: unknown };
    expect(error.stack).toEqual(expect.stringContaining("logger.test.ts"));
  });

  it("describes thrown values that are not errors", () => {
    const { obs, entries } = client();
    obs.trackError("plain string");
    obs.trackError({ reason: "x", secret: "y" });
    expect(entries[0]).toMatchObject({ message: "plain string", error: { name: "NonError" } });
    expect(entries[1]).toMatchObject({
      error: { name: "NonError", value: { reason: "x", secret: "[REDACTED]" } },
    });
  });
});

describe("child", () => {
  it("shares sinks, keeps the parent's settings and binds fields", () => {
    const { obs, entries } = client({ minLevel: "info" });
    const child = obs.child({ requestId: "req-9", route: "/login" });
    const grandchild = child.child({ step: 2 });

    child.debug("dropped");
    grandchild.info("kept");
    obs.info("parent");

    expect(child.requestId).toBe("req-9");
    expect(grandchild.requestId).toBe("req-9");
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({ requestId: "req-9", route: "/login", step: 2 });
    expect(entries[1]).not.toHaveProperty("route");
    expect(entries[1]).not.toHaveProperty("requestId");
  });
});

describe("consoleSink", () => {
  it("writes one JSON line per entry, on the console method for its level", () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const { obs } = client({ sinks: [consoleSink()] });

    obs.debug("d");
    obs.info("multi\nline");
    obs.warn("w");
    obs.error("e");

    expect(log).toHaveBeenCalledTimes(2);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(error).toHaveBeenCalledTimes(1);
    const line = String(log.mock.calls[1]?.[0]);
    expect(line).not.toContain("\n");
    expect(JSON.parse(line)).toMatchObject({ level: "info", message: "multi\nline" });
    expect(JSON.parse(String(warn.mock.calls[0]?.[0]))).toMatchObject({ level: "warn" });
    expect(JSON.parse(String(error.mock.calls[0]?.[0]))).toMatchObject({ level: "error" });
  });

  it("serializes bigints instead of throwing", () => {
    const entry: LogEntry = {
      level: "info",
      message: "m",
      timestamp: "2026-01-01T00:00:00.000Z",
      environment: "test",
      service: "auth",
      size: 12n,
    };
    expect(JSON.parse(toJsonLine(entry))).toMatchObject({ size: "12" });
  });
});

describe("analyticsEngineSink", () => {
  it("writes the documented columns", () => {
    const data = dataset();
    const { obs } = client({ requestId: "req-1", sinks: [analyticsEngineSink(data)] });
    obs.trackRequest(
      new Request("https://example.com/a/b?q=1", { method: "PUT" }),
      { status: 201 },
      8,
    );
    obs.trackError(new TypeError("boom"));

    expect(data.points).toEqual([
      {
        indexes: ["auth"],
        blobs: ["info", "auth", "test", "request", "req-1", "/a/b", "PUT", ""],
        doubles: [8, 201],
      },
      {
        indexes: ["auth"],
        blobs: ["error", "auth", "test", "boom", "req-1", "", "", "TypeError"],
        doubles: [0, 0],
      },
    ]);
    expect(data.points[0]?.blobs).toHaveLength(ANALYTICS_ENGINE_COLUMNS.blobs.length);
    expect(data.points[0]?.doubles).toHaveLength(ANALYTICS_ENGINE_COLUMNS.doubles.length);
  });

  it("skips debug lines by default and honours minLevel", () => {
    const data = dataset();
    const errorsOnly = dataset();
    const { obs } = client({
      sinks: [analyticsEngineSink(data), analyticsEngineSink(errorsOnly, { minLevel: "error" })],
    });
    obs.debug("d");
    obs.info("i");
    obs.error("e");
    expect(data.points.map((point) => point.blobs?.[3])).toEqual(["i", "e"]);
    expect(errorsOnly.points.map((point) => point.blobs?.[3])).toEqual(["e"]);
  });

  it("keeps the index and blobs within Analytics Engine's limits", () => {
    const data = dataset();
    const { obs } = client({ service: "s".repeat(200), sinks: [analyticsEngineSink(data)] });
    obs.info("€".repeat(5000));
    const point = data.points[0];
    const encoder = new TextEncoder();
    const indexBytes = encoder.encode(String(point?.indexes?.[0])).byteLength;
    const blobBytes = (point?.blobs ?? []).reduce<number>(
      (sum, blob) => sum + encoder.encode(String(blob)).byteLength,
      0,
    );
    expect(indexBytes).toBeLessThanOrEqual(96);
    expect(blobBytes).toBeLessThanOrEqual(16 * 1024);
  });

  it("swallows errors from the binding", () => {
    const sink = analyticsEngineSink({
      writeDataPoint() {
        throw new Error("binding misconfigured");
      },
    });
    const entry: LogEntry = {
      level: "info",
      message: "m",
      timestamp: "2026-01-01T00:00:00.000Z",
      environment: "test",
      service: "auth",
    };
    expect(() => sink.write(entry)).not.toThrow();
  });
});
