import { withObservability } from "@codex/observability";
import { app } from "./app";
import type { Env } from "./env";

export type { Env } from "./env";

export default {
  fetch: withObservability<Env>(
    (request, env, ctx, obs) => app.fetch(request, { ...env, obs }, ctx),
    { service: "stripe-webhook-handler", analyticsBinding: "ANALYTICS" },
  ),
} satisfies ExportedHandler<Env>;
