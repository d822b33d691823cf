import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import Stripe from "stripe";
import {
  database,
  db,
  health,
  inRolledBackTransaction,
  onError,
  type SchemaProbe,
  type WorkerEnv,
} from "@codex/worker-kit";
import { configurationProblem } from "./config";
import type { Bindings } from "./env";
import { HANDLED_EVENT_TYPES, processEvent, schemaCheckEvent } from "./events";

/** Stripe events are a few kilobytes; a megabyte leaves room for large invoices. */
export const MAX_BODY_BYTES = 1024 * 1024;

type AppEnv = WorkerEnv & { Bindings: Bindings };

const cryptoProvider = Stripe.createSubtleCryptoProvider();

export const app = new Hono<AppEnv>();

app.use(database());

// A misconfigured Worker answers nothing but this, so that it can never act on events.
app.use(async (c, next) => {
  const problem = configurationProblem(c.env);
  if (problem) {
    c.env.obs.error("refusing to run: misconfigured", { problem });
    return c.json({ error: "misconfigured", message: problem }, 500);
  }
  return next();
});

/**
 * `/health?schema=1`: each handled event type through `processEvent` itself (stripe_events,
 * users, entitlements), matching no user, customer or subscription, in a transaction that is
 * rolled back: the statements run, nothing is kept.
 */
export const schemaProbes: Record<string, SchemaProbe> = Object.fromEntries(
  HANDLED_EVENT_TYPES.map((type) => [
    `${type} (rolled back)`,
    (database: Parameters<SchemaProbe>[0]) =>
      inRolledBackTransaction(database, (tx) => processEvent(tx, schemaCheckEvent(type))),
  ]),
);

app.get("/health", health("stripe-webhook-handler", schemaProbes));

app.post(
  "/webhook",
  bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => c.json({ error: "payload_too_large" }, 413),
  }),
  async (c) => {
    const signature = c.req.header("stripe-signature");
    if (!signature)
      return c.json(
        { error: "missing_signature", message: "Stripe-Signature header is required" },
        400,
      );
    // The signature covers the exact bytes Stripe sent: read the raw text, never re-serialised JSON.
    const payload = await c.req.text();
    let event: Stripe.Event;
    try {
      event = await Stripe.webhooks.constructEventAsync(
        payload,
        signature,
        c.env.STRIPE_WEBHOOK_SECRET,
        undefined,
        cryptoProvider,
      );
    } catch (error) {
      // Only the reason: Stripe's error object also carries the whole payload.
      const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
      c.env.obs.warn("webhook signature rejected", { reason });
      return c.json({ error: "invalid_signature", message: "signature verification failed" }, 400);
    }
    // Live and test mode never mix: a preview cannot act on live money, and production never
    // acts on test-mode events (such as the web app's test checkout).
    if (!event.livemode && c.env.ENVIRONMENT === "production") {
      c.env.obs.error("test-mode event refused in production", { eventId: event.id });
      return c.json(
        { error: "test_event_refused", message: "test-mode events are not accepted in production" },
        400,
      );
    }
    if (event.livemode && c.env.ENVIRONMENT !== "production") {
      c.env.obs.error("live event refused outside production", { eventId: event.id });
      return c.json(
        { error: "live_event_refused", message: "live events are only accepted in production" },
        400,
      );
    }
    const result = await processEvent(db(c), event);
    c.env.obs.info("webhook processed", { eventId: event.id, type: event.type, ...result });
    return c.json({ received: true, ...result });
  },
);

app.all("/webhook", (c) => c.json({ error: "method_not_allowed", message: "use POST" }, 405));

app.notFound((c) => c.json({ error: "not_found" }, 404));

// A database failure is rethrown: answering 500 makes Stripe retry, and the transaction has
// already rolled back, so the retry starts clean.
app.onError(onError);
