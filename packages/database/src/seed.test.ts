import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { closeDb, createDb, entitlements, payments, users } from "./index";
import { verifyPassword } from "./password";
import { DEMO_PASSWORD, DEMO_USERS, findUserByEmail, seed } from "./seed";
import { useTestDatabase } from "./testing/index";

const database = useTestDatabase();

describe("seed", () => {
  it("creates demo users, one of them pro with a payment, and is safe to run again", async () => {
    expect(await seed(database().url)).toEqual({ created: DEMO_USERS.length });
    expect(await seed(database().url)).toEqual({ created: 0 });

    const db = createDb(database().url);
    try {
      const rows = await db
        .select({
          email: users.email,
          plan: entitlements.plan,
          period: entitlements.currentPeriodEnd,
        })
        .from(users)
        .innerJoin(entitlements, eq(entitlements.userId, users.id));
      expect(rows).toHaveLength(DEMO_USERS.length);
      const pro = rows.filter((r) => r.plan === "pro");
      expect(pro).toHaveLength(1);
      expect(pro[0]!.period!.getTime()).toBeGreaterThan(Date.now());
      const paid = await db.select().from(payments);
      expect(paid).toHaveLength(1);
      expect(paid[0]).toMatchObject({ amount: 1200, currency: "usd", status: "succeeded" });
    } finally {
      await closeDb(db);
    }

    const ada = await findUserByEmail(database().url, "ADA@example.com");
    expect(ada).toBeDefined();
    expect(await verifyPassword(DEMO_PASSWORD, ada!.passwordHash)).toBe(true);
  });
});
