import { eq, sql } from "drizzle-orm";
import { closeDb, createDb } from "./client";
import { hashPassword } from "./password";
import { entitlements, payments, users } from "./schema/index";

/** The demo accounts `seed` creates. Their password is public: this is demo data, never production. */
export const DEMO_PASSWORD = "codex-demo-password";
export const DEMO_USERS = [
  { email: "ada@example.com", displayName: "Ada Lovelace", plan: "pro" },
  { email: "grace@example.com", displayName: "Grace Hopper", plan: "free" },
  { email: "linus@example.com", displayName: "Linus Pauling", plan: "free" },
] as const;

export interface SeedResult {
  /** Users this run created; 0 when the seed had already been applied. */
  created: number;
}

/**
 * Fills a database with believable demo data: a few users, one of them on the pro plan
 * with a Stripe payment. Safe to run again: existing demo users are left as they are.
 */
export async function seed(url: string): Promise<SeedResult> {
  const db = createDb(url);
  try {
    let created = 0;
    const passwordHash = await hashPassword(DEMO_PASSWORD);
    await db.transaction(async (tx) => {
      for (const [i, demo] of DEMO_USERS.entries()) {
        const inserted = await tx
          .insert(users)
          .values({ email: demo.email, displayName: demo.displayName, passwordHash })
          .onConflictDoNothing()
          .returning({ id: users.id });
        const user = inserted[0];
        if (!user) continue;
        created++;
        const pro = demo.plan === "pro";
        const customer = `cus_demo${i}`;
        await tx.insert(entitlements).values({
          userId: user.id,
          plan: demo.plan,
          source: "seed",
          stripeCustomerId: pro ? customer : null,
          stripeSubscriptionId: pro ? `sub_demo${i}` : null,
          currentPeriodEnd: pro ? sql`now() + interval '30 days'` : null,
        });
        if (pro) {
          await tx.insert(payments).values({
            userId: user.id,
            stripeCheckoutSessionId: `cs_test_demo${i}`,
            stripePaymentIntentId: `pi_demo${i}`,
            stripeCustomerId: customer,
            amount: 1200,
            currency: "usd",
            status: "succeeded",
          });
        }
      }
    });
    return { created };
  } finally {
    await closeDb(db);
  }
}

/** Looks a user up by email, without regard to case. */
export async function findUserByEmail(url: string, email: string) {
  const db = createDb(url);
  try {
    const [user] = await db
      .select()
      .from(users)
      .where(eq(sql`lower(${users.email})`, email.toLowerCase()));
    return user;
  } finally {
    await closeDb(db);
  }
}
