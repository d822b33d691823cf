import type { Handle, HandleServerError } from "@sveltejs/kit";
import {
  createObservability,
  consoleSink,
  isLogLevel,
  isValidRequestId,
  propagateRequestId,
  REQUEST_ID_HEADER,
} from "@codex/observability";
import { AuthClient, SESSION_COOKIE } from "$lib/server/auth";
import { environmentName, platformEnv } from "$lib/server/env";

export const handle: Handle = async ({ event, resolve }) => {
  const started = performance.now();
  const incoming = event.request.headers.get(REQUEST_ID_HEADER);
  const requestId = isValidRequestId(incoming) ? incoming : crypto.randomUUID();
  const env = platformEnv(event);
  event.locals.requestId = requestId;
  event.locals.obs = createObservability({
    service: "web",
    environment: environmentName(env),
    requestId,
    sinks: [consoleSink()],
    minLevel: isLogLevel(env.LOG_LEVEL) ? env.LOG_LEVEL : "info",
  });
  // Every call through AUTH or WEBHOOK carries this request's id.
  event.locals.env = propagateRequestId(env, requestId);
  event.locals.session = null;

  const token = event.cookies.get(SESSION_COOKIE);
  if (token) {
    let ip = "unknown";
    try {
      ip = event.getClientAddress();
    } catch {
      // See authClient().
    }
    event.locals.session = await new AuthClient(event.locals.env.AUTH, ip).session(token);
  }

  const response = await resolve(event);
  response.headers.set(REQUEST_ID_HEADER, requestId);
  event.locals.obs.trackRequest(event.request, response, performance.now() - started);
  return response;
};

export const handleError: HandleServerError = ({ error, event, status }) => {
  if (status !== 404) event.locals.obs?.trackError(error, { status });
  return {
    message: status === 404 ? "Page not found." : "Something went wrong on our side.",
    requestId: event.locals.requestId,
  };
};
