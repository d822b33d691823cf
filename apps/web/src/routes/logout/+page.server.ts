import { redirect } from "@sveltejs/kit";
import type { Actions, PageServerLoad } from "./$types";
import { authClient, clearSessionCookie, SESSION_COOKIE } from "$lib/server/auth";

// Logging out changes state, so it is a POST (the header's form); a GET only goes home.
export const load: PageServerLoad = () => {
  redirect(303, "/");
};

export const actions: Actions = {
  default: async (event) => {
    const token = event.cookies.get(SESSION_COOKIE);
    if (token) await authClient(event).logout(token);
    clearSessionCookie(event.cookies, event.url);
    redirect(303, "/");
  },
};
