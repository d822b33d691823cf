import { desc, eq, payments, type Database } from "@codex/database";

export interface PaymentView {
  id: string;
  amount: number;
  currency: string;
  status: string;
  createdAt: string;
  reference: string;
}

export async function paymentsOf(db: Database, userId: string): Promise<PaymentView[]> {
  const rows = await db
    .select()
    .from(payments)
    .where(eq(payments.userId, userId))
    .orderBy(desc(payments.createdAt));
  return rows.map((p) => ({
    id: p.id,
    amount: p.amount,
    currency: p.currency,
    status: p.status,
    createdAt: p.createdAt.toISOString(),
    reference: p.stripeInvoiceId ?? p.stripeCheckoutSessionId ?? p.stripePaymentIntentId ?? "",
  }));
}
