import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { count, createDb, type Database, sql, stripeEvents } from "@codex/database";
import { createTestDatabase, type TestDatabase, useTestDatabase } from "@codex/database/testing";
import { call } from "./test-helpers";

// /health?schema=1 processes each handled event type, matching nothing, in a transaction that is
// rolled back: what the pipeline's smoke checks and its old-code check ask of this Worker.
const database = useTestDatabase();
let db: Database;
beforeAll(() => {
  db = createDb(database().url);
  return () => db.$client.end();
});
const health = (url: string) =>
  call(new Request("http://localhost/health?schema=1"), { DATABASE_URL: url });

describe("/health?schema=1", () => {
  it("passes on the schema the code was written for, and keeps no event", async () => {
    const res = await health(database().url);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      schema: "ok",
      checks: [
        "checkout.session.completed (rolled back)",
        "invoice.paid (rolled back)",
        "customer.subscription.deleted (rolled back)",
      ],
    });
    const [events] = await db.select({ n: count() }).from(stripeEvents);
    expect(events?.n).toBe(0);
  });

  describe("on a schema without a column the handlers write", () => {
    let changed: TestDatabase;
    beforeAll(async () => {
      changed = await createTestDatabase();
      const alter = createDb(changed.url);
      await alter.execute(sql`alter table entitlements drop column stripe_customer_id`);
      await alter.$client.end();
    });
    afterAll(() => changed?.drop());

    it("answers 503 naming the event type and the column", async () => {
      const res = await health(changed.url);
      expect(res.status).toBe(503);
      const body = await res.json<{ failed: { check: string; error: string } }>();
      expect(body).toMatchObject({ schema: "failed" });
      expect(body.failed.check).toBe("invoice.paid (rolled back)");
      expect(body.failed.error).toMatch(/stripe_customer_id.*42703/);
      expect(body.failed.error).not.toContain("cus_codex_schema_check");
    });
  });
});
