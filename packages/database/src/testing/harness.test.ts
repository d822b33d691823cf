import { sql } from "drizzle-orm";
import postgres from "postgres";
import { describe, expect, inject, it } from "vitest";
import { closeDb, createDb, users } from "../index";
import { createTestDatabase, dropTestDatabase, useTestDatabase } from "./index";

const shared = useTestDatabase();

async function exists(name: string): Promise<boolean> {
  const admin = postgres(inject("codexTestDatabase").serverUrl, { max: 1 });
  try {
    const rows = await admin`select 1 from pg_database where datname = ${name}`;
    return rows.length === 1;
  } finally {
    await admin.end();
  }
}

describe("the test harness", () => {
  it("gives each suite a migrated database of its own", async () => {
    const db = createDb(shared().url);
    try {
      await db.insert(users).values({ email: "harness@example.com", passwordHash: "x" });
      const other = await createTestDatabase();
      const otherDb = createDb(other.url);
      try {
        expect(await otherDb.select().from(users)).toEqual([]);
      } finally {
        await closeDb(otherDb);
        await other.drop();
      }
      expect(await db.select().from(users)).toHaveLength(1);
    } finally {
      await closeDb(db);
    }
  });

  it("drops a database even while something is connected to it", async () => {
    const temp = await createTestDatabase();
    const db = createDb(temp.url);
    await db.execute(sql`select 1`);
    await temp.drop();
    expect(await exists(temp.name)).toBe(false);
    await closeDb(db).catch(() => {});
  });

  it("never drops a database it did not create", async () => {
    const config = inject("codexTestDatabase");
    await expect(dropTestDatabase(config, "postgres")).rejects.toThrow(
      /not created by this test run/,
    );
    await expect(dropTestDatabase(config, "main")).rejects.toThrow(/looks like main or production/);
  });

  it("names every database with the run's prefix, so teardown finds them", () => {
    expect(shared().name.startsWith(`${inject("codexTestDatabase").prefix}_`)).toBe(true);
  });
});
