import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { count, createDb, type Database, entitlements, sql, users } from "@codex/database";
import { createTestDatabase, type TestDatabase, useTestDatabase } from "@codex/database/testing";
import { NO_SUCH_EMAIL } from "@codex/worker-kit";
import { call } from "./test-helpers";

// /health?schema=1 reads through the routes' own queries: what the pipeline's smoke checks and
// its old-code check ask every Worker.
const database = useTestDatabase();
let db: Database;
beforeAll(() => {
  db = createDb(database().url);
  return () => db.$client.end();
});

describe("/health?schema=1", () => {
  it("passes on the schema the code was written for, and writes nothing", async () => {
    const before = await rowCounts(db);
    const res = await call("/health?schema=1", { env: { DATABASE_URL: database().url } });
    expect(res.status).toBe(200);
    const body = await res.json<{ schema: string; checks: string[] }>();
    expect(body.schema).toBe("ok");
    expect(body.checks).toEqual([
      "users by email (login)",
      "login_attempts (rate limit)",
      "sessions by token hash (session)",
      "users and entitlements insert (signup, rolled back)",
    ]);
    expect(await rowCounts(db)).toEqual(before);
  });

  it("plain /health stays a connection check", async () => {
    const res = await call("/health", { env: { DATABASE_URL: database().url } });
    expect(await res.json()).not.toHaveProperty("schema");
  });

  describe("on a schema that renamed a column the code reads", () => {
    let renamed: TestDatabase;
    beforeAll(async () => {
      renamed = await createTestDatabase();
      const alter = createDb(renamed.url);
      await alter.execute(sql`alter table users rename column display_name to public_name`);
      await alter.$client.end();
    });
    afterAll(() => renamed?.drop());

    it("answers 503 naming the failed read and the column, never its parameters", async () => {
      const res = await call("/health?schema=1", { env: { DATABASE_URL: renamed.url } });
      expect(res.status).toBe(503);
      const text = await res.text();
      const body = JSON.parse(text) as { status: string; schema: string; failed: object };
      expect(body).toMatchObject({
        status: "degraded",
        database: "ok",
        schema: "failed",
        failed: { check: "users by email (login)" },
      });
      expect(body.failed).toHaveProperty("error", expect.stringMatching(/display_name.*42703/));
      expect(text).not.toContain(NO_SUCH_EMAIL);
      expect(text).not.toMatch(/params|select /i);
    });
  });
});

async function rowCounts(database: Database) {
  const [u] = await database.select({ n: count() }).from(users);
  const [e] = await database.select({ n: count() }).from(entitlements);
  return { users: u?.n, entitlements: e?.n };
}
