import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { closeDb, createDb } from "./client";
import { createTestDatabase } from "./testing/index";
import { postgresJsUrl } from "./connection-url";

// The shape of Neon's connection URIs (its console and its API's getConnectionURI).
const NEON =
  "postgresql://neondb_owner:p%40s@ep-cool-darkness-a1b2c3d4-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require";

describe("postgresJsUrl", () => {
  it("drops libpq's client-only parameters and keeps the rest byte for byte", () => {
    expect(postgresJsUrl(NEON)).toBe(
      "postgresql://neondb_owner:p%40s@ep-cool-darkness-a1b2c3d4-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require",
    );
    expect(
      postgresJsUrl(
        "postgres://u:p@h1:5432,h2:5433/db?options=endpoint%3Dep-x&application_name=a&sslcert=/c&keepalives=1",
      ),
    ).toBe("postgres://u:p@h1:5432,h2:5433/db?options=endpoint%3Dep-x&application_name=a");
    expect(postgresJsUrl("postgres://u:p@h/db?channel_binding=prefer")).toBe("postgres://u:p@h/db");
    expect(postgresJsUrl("postgres://u:p@h/db")).toBe("postgres://u:p@h/db");
    expect(postgresJsUrl("postgres://u:p@h/db?sslmode=require&sslrootcert=system")).toBe(
      "postgres://u:p@h/db?sslmode=verify-full",
    );
  });

  it("lets createDb open a URL with Neon's parameters on a real Postgres", async () => {
    const temp = await createTestDatabase();
    // The test server has no TLS: sslmode=disable stands in for Neon's require; channel_binding
    // is what postgres.js would otherwise send as a startup parameter, which Postgres refuses.
    const db = createDb(`${temp.url}?sslmode=disable&channel_binding=require`);
    try {
      const [row] = await db.execute<{ one: number }>(sql`select 1 as one`);
      expect(row?.one).toBe(1);
    } finally {
      await closeDb(db);
      await temp.drop();
    }
  });
});
