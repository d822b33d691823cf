import { error, fail, redirect } from "@sveltejs/kit";
import type { Actions, PageServerLoad } from "./$types";
import {
  checkoutMode,
  createStripeCheckout,
  PRO_CURRENCY,
  PRO_PRICE_CENTS,
  runTestCheckout,
} from "$lib/server/checkout";

export const load: PageServerLoad = ({ locals, url }) => {
  const mode = checkoutMode(locals.env);
  return {
    price: { amount: PRO_PRICE_CENTS, currency: PRO_CURRENCY },
    checkout: mode.kind,
    unavailableReason: mode.kind === "unavailable" ? mode.reason : null,
    reason: url.searchParams.get("reason"),
    cancelled: url.searchParams.has("cancelled"),
  };
};

export const actions: Actions = {
  upgrade: async (event) => {
    const session = event.locals.session;
    if (!session) redirect(303, `/login?redirectTo=${encodeURIComponent("/pricing")}`);
    if (session.plan === "pro") redirect(303, "/account");
    const mode = checkoutMode(event.locals.env);
    if (mode.kind === "stripe") {
      redirect(303, await createStripeCheckout(event.locals.env, session.user, event.url.origin));
    }
    if (mode.kind === "unavailable") {
      // Production without Stripe lands here: the test checkout never runs there.
      error(503, mode.reason);
    }
    try {
      await runTestCheckout(event.locals.env, session.user);
    } catch (cause) {
      event.locals.obs.trackError(cause);
      return fail(502, { message: "The test checkout did not go through. Please try again." });
    }
    redirect(303, "/account?upgraded=1");
  },
};
