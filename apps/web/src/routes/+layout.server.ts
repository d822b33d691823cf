import type { LayoutServerLoad } from "./$types";
import { environmentName, isProduction } from "$lib/server/env";

export const load: LayoutServerLoad = ({ locals }) => {
  const session = locals.session;
  return {
    environment: environmentName(locals.env),
    // Every environment but production says where the reviewer is.
    showEnvironmentBanner: !isProduction(locals.env),
    user: session
      ? { email: session.user.email, displayName: session.user.displayName, plan: session.plan }
      : null,
  };
};
