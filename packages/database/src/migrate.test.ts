import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { closeDb, createDb, users } from "./index";
import { listMigrations, migrate } from "./migrate";
import { createTestDatabase } from "./testing/index";

describe("migrate", () => {
  it("applies the committed migrations to an empty database, then nothing", async () => {
    const empty = await createTestDatabase({ migrated: false });
    try {
      const first = await migrate(empty.url);
      expect(first.applied).toEqual(listMigrations());
      expect(first.applied[0]).toMatch(/^0000_/);
      expect(first.total).toBe(listMigrations().length);
      const second = await migrate(empty.url);
      expect(second).toEqual({ applied: [], total: first.total });

      const db = createDb(empty.url);
      try {
        const tables = await db.execute<{ table_name: string }>(sql`
          select table_name from information_schema.tables where table_schema = 'public' order by 1`);
        expect(tables.map((t) => t.table_name)).toEqual([
          "entitlements",
          "login_attempts",
          "payments",
          "sessions",
          "stripe_events",
          "users",
        ]);
      } finally {
        await closeDb(db);
      }
    } finally {
      await empty.drop();
    }
  });

  it("enforces the schema's constraints in the database itself", async () => {
    const temp = await createTestDatabase();
    const db = createDb(temp.url);
    try {
      await db.insert(users).values({ email: "Case@Example.com", passwordHash: "x" });
      await expect(
        db.insert(users).values({ email: "case@example.COM", passwordHash: "y" }),
      ).rejects.toMatchObject({ cause: { code: "23505" } });
      const [user] = await db.select().from(users);
      await expect(
        db.execute(sql`insert into payments (user_id, amount, currency, status)
                       values (${user!.id}, -1, 'usd', 'succeeded')`),
      ).rejects.toMatchObject({ cause: { code: "23514" } });
      await expect(
        db.execute(sql`insert into payments (user_id, amount, currency, status)
                       values (${user!.id}, 100, 'USD', 'succeeded')`),
      ).rejects.toMatchObject({ cause: { code: "23514" } });
    } finally {
      await closeDb(db);
      await temp.drop();
    }
  });
});
