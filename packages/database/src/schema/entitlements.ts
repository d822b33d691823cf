import { pgEnum, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { users } from "./users";

export const PLANS = ["free", "pro"] as const;
export type Plan = (typeof PLANS)[number];
export const plan = pgEnum("plan", PLANS);

/** Where an entitlement came from: a new account, a Stripe event, the demo seed, or an operator. */
export const ENTITLEMENT_SOURCES = ["signup", "stripe", "seed", "manual"] as const;
export const entitlementSource = pgEnum("entitlement_source", ENTITLEMENT_SOURCES);

/** One row per user: the plan they are on and, for paid plans, until when. */
export const entitlements = pgTable("entitlements", {
  userId: uuid("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  plan: plan("plan").notNull().default("free"),
  source: entitlementSource("source").notNull(),
  stripeCustomerId: text("stripe_customer_id").unique("entitlements_stripe_customer_id_key"),
  stripeSubscriptionId: text("stripe_subscription_id").unique(
    "entitlements_stripe_subscription_id_key",
  ),
  currentPeriodEnd: timestamp("current_period_end", { withTimezone: true }),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

export type Entitlement = typeof entitlements.$inferSelect;
