import type { ObservabilityClient } from "@codex/observability";
import type { SessionUser, WebEnv } from "$lib/server/env";

declare global {
  namespace App {
    interface Platform {
      env: WebEnv;
      ctx: ExecutionContext;
      caches: CacheStorage;
      cf?: IncomingRequestCfProperties;
    }
    interface Locals {
      /** The signed-in user and plan, resolved through the auth Worker; null when signed out. */
      session: SessionUser | null;
      /** This environment's bindings, with the request id added to service-binding calls. */
      env: WebEnv;
      obs: ObservabilityClient;
      requestId: string;
    }
    interface Error {
      message: string;
      requestId?: string;
    }
  }
}

export {};
