import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import Stripe from "stripe";
import { closeDb, createDb, type Database, sql } from "@codex/database";
import { configurationProblem } from "./config";
import type { Bindings } from "./env";
import { processEvent } from "./events";

/** Stripe events are a few kilobytes; a megabyte leaves room for large invoices. */
export const MAX_BODY_BYTES = 1024 * 1024;

type AppEnv = { Bindings: Bindings; Variables: { db: Database } };
type AppContext = Context<AppEnv>;

const cryptoProvider = Stripe.createSubtleCryptoProvider();

export const app = new Hono<AppEnv>();

// The request's database connection is opened on first use and closed once the response is ready.
app.use(async (c, next) => {
  await next();
  const db = c.get("db");
  if (db) c.executionCtx.waitUntil(closeDb(db));
});

// A misconfigured Worker answers nothing but this, so that it can never act on events.
app.use(async (c, next) => {
  const problem = configurationProblem(c.env);
  if (problem) {
    c.env.obs.error("refusing to run: misconfigured", { problem });
    return c.json({ error: "misconfigured", message: problem }, 500);
  }
  return next();
});

app.get("/health", async (c) => {
  const db = open(c);
  let database: "ok" | "unreachable" = "ok";
  try {
    await db.execute(sql`select 1`);
  } catch (error) {
    c.env.obs.warn("health: database unreachable", { error });
    database = "unreachable";
  }
  return c.json(
    {
      status: database === "ok" ? "ok" : "degraded",
      service: "stripe-webhook-handler",
      environment: c.env.ENVIRONMENT ?? "unknown",
      database,
    },
    database === "ok" ? 200 : 503,
  );
});

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
    const result = await processEvent(open(c), event);
    c.env.obs.info("webhook processed", { eventId: event.id, type: event.type, ...result });
    return c.json({ received: true, ...result });
  },
);

app.all("/webhook", (c) => c.json({ error: "method_not_allowed", message: "use POST" }, 405));

app.notFound((c) => c.json({ error: "not_found" }, 404));

app.onError((error) => {
  if (error instanceof HTTPException) return error.getResponse();
  // A database failure lands here: answering 500 makes Stripe retry, and the transaction
  // has already rolled back, so the retry starts clean.
  throw error;
});

function open(c: AppContext): Database {
  let db = c.get("db");
  if (!db) {
    db = createDb(c.env.DATABASE_URL);
    c.set("db", db);
  }
  return db;
}
