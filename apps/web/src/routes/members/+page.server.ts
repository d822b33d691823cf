import { redirect } from "@sveltejs/kit";
import type { PageServerLoad } from "./$types";

export const load: PageServerLoad = ({ locals }) => {
  const session = locals.session;
  if (!session) redirect(303, `/login?redirectTo=${encodeURIComponent("/members")}`);
  if (session.plan !== "pro") redirect(303, "/pricing?reason=members");
  return { name: session.user.displayName ?? session.user.email };
};
