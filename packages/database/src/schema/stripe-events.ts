import { pgEnum, pgTable, text, timestamp } from "drizzle-orm/pg-core";

export const STRIPE_EVENT_OUTCOMES = ["applied", "ignored"] as const;
export const stripeEventOutcome = pgEnum("stripe_event_outcome", STRIPE_EVENT_OUTCOMES);

/**
 * Every Stripe event we accepted. The event id is the primary key, and the row is written in
 * the same transaction as the event's effects: that is what makes delivery exactly-once.
 */
export const stripeEvents = pgTable("stripe_events", {
  id: text("id").primaryKey(),
  type: text("type").notNull(),
  outcome: stripeEventOutcome("outcome").notNull(),
  detail: text("detail"),
  receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
  processedAt: timestamp("processed_at", { withTimezone: true }),
});

export type StripeEvent = typeof stripeEvents.$inferSelect;
