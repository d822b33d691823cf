import { sql } from "drizzle-orm";
import { check, index, integer, pgEnum, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { users } from "./users";

export const PAYMENT_STATUSES = ["succeeded", "pending", "failed", "refunded"] as const;
export const paymentStatus = pgEnum("payment_status", PAYMENT_STATUSES);

/** Money received, as Stripe reported it. Amounts are in the currency's minor unit (cents). */
export const payments = pgTable(
  "payments",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    stripeCheckoutSessionId: text("stripe_checkout_session_id").unique(
      "payments_stripe_checkout_session_id_key",
    ),
    stripeInvoiceId: text("stripe_invoice_id").unique("payments_stripe_invoice_id_key"),
    stripePaymentIntentId: text("stripe_payment_intent_id"),
    stripeCustomerId: text("stripe_customer_id"),
    amount: integer("amount").notNull(),
    currency: text("currency").notNull(),
    status: paymentStatus("status").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("payments_user_id_idx").on(t.userId),
    check("payments_amount_non_negative", sql`${t.amount} >= 0`),
    check("payments_currency_iso", sql`${t.currency} ~ '^[a-z]{3}$'`),
  ],
);

export type Payment = typeof payments.$inferSelect;
