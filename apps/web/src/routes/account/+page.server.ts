import { redirect } from "@sveltejs/kit";
import type { PageServerLoad } from "./$types";
import { paymentsOf } from "$lib/server/account";
import { withDb } from "$lib/server/db";

export const load: PageServerLoad = async (event) => {
  const session = event.locals.session;
  if (!session) redirect(303, `/login?redirectTo=${encodeURIComponent("/account")}`);
  const payments = await withDb(event, (db) => paymentsOf(db, session.user.id));
  return {
    account: session.user,
    plan: session.plan,
    periodEnd: session.periodEnd,
    payments,
    upgraded: event.url.searchParams.has("upgraded"),
  };
};
