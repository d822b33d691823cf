import { fail, redirect } from "@sveltejs/kit";
import type { Actions, PageServerLoad } from "./$types";
import { authClient, safeRedirectTarget, setSessionCookie } from "$lib/server/auth";

export const load: PageServerLoad = ({ locals }) => {
  if (locals.session) redirect(303, "/account");
};

export const actions: Actions = {
  default: async (event) => {
    const form = await event.request.formData();
    const email = String(form.get("email") ?? "").trim();
    const password = String(form.get("password") ?? "");
    const displayName = String(form.get("displayName") ?? "").trim();
    const result = await authClient(event).signup({
      email,
      password,
      ...(displayName ? { displayName } : {}),
    });
    if (!result.ok) {
      return fail(result.status, { email, displayName, message: result.message });
    }
    setSessionCookie(event.cookies, event.url, result.token);
    redirect(303, safeRedirectTarget(event.url.searchParams.get("redirectTo")));
  },
};
