import { fail, redirect } from "@sveltejs/kit";
import type { Actions, PageServerLoad } from "./$types";
import { authClient, safeRedirectTarget, setSessionCookie } from "$lib/server/auth";

export const load: PageServerLoad = ({ locals, url }) => {
  if (locals.session) redirect(303, safeRedirectTarget(url.searchParams.get("redirectTo")));
  return { redirectTo: safeRedirectTarget(url.searchParams.get("redirectTo")) };
};

export const actions: Actions = {
  default: async (event) => {
    const form = await event.request.formData();
    const email = String(form.get("email") ?? "").trim();
    const password = String(form.get("password") ?? "");
    const result = await authClient(event).login({ email, password });
    if (!result.ok) {
      const message =
        result.status === 429 && result.retryAfterSeconds
          ? `${result.message} (wait about ${Math.ceil(result.retryAfterSeconds / 60)} minutes)`
          : result.message;
      return fail(result.status, { email, message });
    }
    setSessionCookie(event.cookies, event.url, result.token);
    redirect(303, safeRedirectTarget(event.url.searchParams.get("redirectTo")));
  },
};
