import { describe, expect, it } from "vitest";
import { CIRCULAR, REDACTED, isSensitiveKey, redact, redactString } from "./redact";

// Built by concatenation so that no scanner mistakes the fixtures for real credentials.
const STRIPE_LIVE = "sk_" + "live_51HxAbCdEfGh1234567890";
const JWT =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" +
  ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0" +
  ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

describe("redactString", () => {
  it.each([
    ["postgres://app:hunter2@db.internal:5432/main", "postgres://[REDACTED]@db.internal:5432/main"],
    [
      "postgresql://neondb_owner:pw@ep-cool-1.eu-central-1.aws.neon.tech/neondb?sslmode=require",
      "postgresql://[REDACTED]@ep-cool-1.eu-central-1.aws.neon.tech/neondb?sslmode=require",
    ],
    ["mysql://root:toor@127.0.0.1/app", "mysql://[REDACTED]@127.0.0.1/app"],
    ["redis://:s3cret@cache:6379", "redis://[REDACTED]@cache:6379"],
    ["rediss://default:abc@cache.upstash.io:6380", "rediss://[REDACTED]@cache.upstash.io:6380"],
    ["https://user:pass@example.com/x", "https://[REDACTED]@example.com/x"],
    ["https://ghp_token123@github.com/org/repo", "https://[REDACTED]@github.com/org/repo"],
  ])("keeps scheme and host of a URL with credentials: %s", (input, expected) => {
    expect(redactString(input)).toBe(expected);
  });

  it("covers a raw @ inside a password", () => {
    expect(redactString("postgres://u:p@ss@host/db")).toBe("postgres://[REDACTED]@host/db");
  });

  it("finds connection strings inside longer text", () => {
    const text = `connect failed (url=postgres://app:hunter2@db:5432/main): timeout`;
    const result = redactString(text);
    expect(result).not.toContain("hunter2");
    expect(result).toContain("postgres://[REDACTED]@db:5432/main");
  });

  it("leaves URLs without credentials alone, including an @ after the path", () => {
    const text = "GET https://example.com/users/a@b.c?x=1 and mailto:someone@example.com";
    expect(redactString(text)).toBe(text);
  });

  it.each([
    ["sk_live_", STRIPE_LIVE],
    ["sk_test_", "sk_" + "test_4eC39HqLyjWDarjtT1zdp7dc"],
    ["rk_live_", "rk_" + "live_51HxAbCdEf"],
    ["rk_test_", "rk_" + "test_51HxAbCdEf"],
    ["whsec_", "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    ["npg_", "npg_" + "AbC123dEf456"],
  ])("redacts %s keys", (_prefix, secret) => {
    const result = redactString(`key is ${secret}.`);
    expect(result).toBe(`key is ${REDACTED}.`);
  });

  it("leaves Stripe publishable keys, which are public by design", () => {
    expect(redactString("pk_live_abc123")).toBe("pk_live_abc123");
  });

  it("redacts JWTs", () => {
    expect(redactString(`session=${JWT};`)).not.toContain("eyJ");
    expect(redactString(`token ${JWT} expired`)).toBe(`token ${REDACTED} expired`);
  });

  it("redacts bearer tokens whatever their shape", () => {
    expect(redactString("Authorization: Bearer abc.DEF-123_~+/=")).toBe(
      `Authorization: Bearer ${REDACTED}`,
    );
    expect(redactString(`bearer ${JWT}`)).toBe(`bearer ${REDACTED}`);
  });

  it("redacts key=value and JSON-style secrets", () => {
    expect(redactString("host=db user=app password=hunter2 dbname=main")).toBe(
      `host=db user=app password=${REDACTED} dbname=main`,
    );
    expect(redactString("/callback?code=1&access_token=abc123&x=2")).toBe(
      `/callback?code=1&access_token=${REDACTED}&x=2`,
    );
    expect(redactString('{"password":"hunter2","user":"a"}')).toBe(
      `{"password":"${REDACTED}","user":"a"}`,
    );
  });

  it("leaves ordinary text unchanged", () => {
    const text = "user 42 signed in from 10.0.0.1 after 3 attempts (tokens: 5)";
    expect(redactString(text)).toBe(text);
  });

  it("is idempotent", () => {
    const text = `postgres://a:b@h/db Bearer x ${JWT} ${STRIPE_LIVE} password=p npg_abcdef`;
    const once = redactString(text);
    expect(redactString(once)).toBe(once);
  });
});

describe("isSensitiveKey", () => {
  it.each([
    "authorization",
    "Authorization",
    "cookie",
    "Set-Cookie",
    "stripe-signature",
    "Proxy-Authorization",
    "x-api-key",
    "password",
    "secret",
    "token",
    "api_key",
    "apiKey",
    "SESSION_SECRET",
    "DATABASE_URL",
    "clientSecret",
    "adminPassword",
    "refresh_token",
    "PREVIEW_DATABASE_URL",
  ])("%s is sensitive", (key) => {
    expect(isSensitiveKey(key)).toBe(true);
  });

  it.each(["user", "path", "status", "tokens", "maxTokens", "durationMs", "requestId"])(
    "%s is not",
    (key) => {
      expect(isSensitiveKey(key)).toBe(false);
    },
  );
});

describe("redact", () => {
  it("replaces values under sensitive keys, case-insensitively, at any depth", () => {
    const input = {
      user: "ada",
      Authorization: "Basic YWRhOmh1bnRlcjI=",
      nested: { deeper: { PASSWORD: "hunter2", apiKey: "k-123", kept: 1 } },
      list: [{ token: "t-1" }, { token: "t-2", id: 2 }],
    };
    expect(redact(input)).toEqual({
      user: "ada",
      Authorization: REDACTED,
      nested: { deeper: { PASSWORD: REDACTED, apiKey: REDACTED, kept: 1 } },
      list: [{ token: REDACTED }, { token: REDACTED, id: 2 }],
    });
  });

  it("does not modify its input", () => {
    const input = { password: "hunter2", inner: { token: "t" } };
    redact(input);
    expect(input).toEqual({ password: "hunter2", inner: { token: "t" } });
  });

  it("redacts strings inside values and keys", () => {
    const input = { note: `db at postgres://a:hunter2@h/db`, [STRIPE_LIVE]: 1, list: [JWT] };
    const result = redact(input);
    expect(JSON.stringify(result)).not.toContain("hunter2");
    expect(JSON.stringify(result)).not.toContain(STRIPE_LIVE);
    expect(result.list).toEqual([REDACTED]);
  });

  it("turns Headers into a plain object with secret headers removed", () => {
    const headers = new Headers({
      authorization: "Bearer abc",
      cookie: "sid=1",
      "stripe-signature": "t=1,v1=abc",
      "content-type": "text/plain",
    });
    expect(redact({ headers })).toEqual({
      headers: {
        authorization: REDACTED,
        cookie: REDACTED,
        "stripe-signature": REDACTED,
        "content-type": "text/plain",
      },
    });
  });

  it("redacts header-ish arrays of [name, value] pairs", () => {
    const pairs = [
      ["Cookie", "sid=abc"],
      ["x-api-key", "key-1"],
      ["accept", "*/*"],
    ];
    expect(redact(pairs)).toEqual([
      ["Cookie", REDACTED],
      ["x-api-key", REDACTED],
      ["accept", "*/*"],
    ]);
  });

  it("turns Maps into plain objects and Sets into arrays", () => {
    const input = {
      map: new Map<string, unknown>([
        ["session_secret", "s"],
        ["n", 1],
      ]),
      set: new Set(["a", JWT]),
    };
    expect(redact(input)).toEqual({
      map: { session_secret: REDACTED, n: 1 },
      set: ["a", REDACTED],
    });
  });

  it("turns Errors into plain objects with secrets removed from message and stack", () => {
    const error = new Error("connect to postgres://app:hunter2@db:5432/main failed");
    Object.assign(error, { code: "ECONNREFUSED", password: "hunter2" });
    const result = redact(error) as unknown as Record<string, unknown>;

    expect(result.name).toBe("Error");
    expect(result.message).toBe("connect to postgres://[REDACTED]@db:5432/main failed");
    expect(result.stack).toContain("postgres://[REDACTED]@db:5432/main");
    expect(result.stack).toContain("redact.test.ts");
    expect(result.code).toBe("ECONNREFUSED");
    expect(result.password).toBe(REDACTED);
    expect(JSON.stringify(result)).not.toContain("hunter2");
  });

  it("follows an error's cause", () => {
    const cause = new TypeError(`bad key ${STRIPE_LIVE}`);
    const error = new Error("payment failed", { cause });
    const result = redact({ error }) as unknown as { error: { cause: Record<string, unknown> } };
    expect(result.error.cause.name).toBe("TypeError");
    expect(result.error.cause.message).toBe(`bad key ${REDACTED}`);
  });

  it("replaces cycles with a marker and still copies shared references", () => {
    const shared = { value: 1 };
    const node: Record<string, unknown> = { name: "a", left: shared, right: shared };
    node.self = node;
    const child: Record<string, unknown> = { parent: node, token: "t" };
    node.child = child;

    const result = redact(node);

    expect(result).toEqual({
      name: "a",
      left: { value: 1 },
      right: { value: 1 },
      self: CIRCULAR,
      child: { parent: CIRCULAR, token: REDACTED },
    });
    expect(() => JSON.stringify(result)).not.toThrow();
  });

  it("handles an error that is its own cause", () => {
    const error = new Error("loop");
    (error as { cause?: unknown }).cause = error;
    expect((redact(error) as unknown as Record<string, unknown>).cause).toBe(CIRCULAR);
  });

  it("uses toJSON results (Date, URL) and redacts them", () => {
    const input = {
      at: new Date("2026-01-02T03:04:05.000Z"),
      url: new URL("https://u:p@example.com/a"),
    };
    expect(redact(input)).toEqual({
      at: "2026-01-02T03:04:05.000Z",
      url: "https://[REDACTED]@example.com/a",
    });
  });

  it("keeps primitives and survives unreadable values", () => {
    const hostile = {
      get boom(): never {
        throw new Error("getter");
      },
    };
    expect(redact(42)).toBe(42);
    expect(redact(null)).toBeNull();
    expect(redact(10n)).toBe(10n);
    expect(redact({ hostile })).toEqual({ hostile: "[Unreadable]" });
  });
});
