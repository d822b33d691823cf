/**
 * What every Worker's Hono app shares, as Hono middleware and handlers: the request's database
 * (opened on first use, closed once the response is ready), `/health`, and `onError`.
 */
import type { Context, ErrorHandler, Handler, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { closeDb, createDb, type Database, sql } from "@codex/database";
import type { ObservabilityClient } from "@codex/observability";
import { runSchemaProbes, type SchemaProbe, type SchemaVerdict } from "./schema-check";

export {
  describeSchemaError,
  inRolledBackTransaction,
  NO_SUCH_EMAIL,
  NO_SUCH_ID,
  runSchemaProbes,
  type SchemaProbe,
  type SchemaVerdict,
  type Transaction,
} from "./schema-check";

/** The bindings and variables the shared parts need from a Worker's app. */
export type WorkerEnv = {
  Bindings: { DATABASE_URL: string; ENVIRONMENT?: string; obs: ObservabilityClient };
  Variables: { db: Database };
};

/** The request's database, opened on first use (and closed by `database()`). */
export function db<E extends WorkerEnv>(c: Context<E>): Database {
  let database = c.get("db");
  if (!database) {
    if (!c.env.DATABASE_URL) throw new Error("DATABASE_URL is not set");
    database = createDb(c.env.DATABASE_URL);
    c.set("db", database);
  }
  return database;
}

/** Closes the request's database connection, if it opened one, once the response is ready. */
export function database(): MiddlewareHandler<WorkerEnv> {
  return async (c, next) => {
    await next();
    const opened = c.get("db");
    if (opened) c.executionCtx.waitUntil(closeDb(opened));
  };
}

/**
 * `/health`: 200 "ok" when the database answers, 503 "degraded" when it does not. With
 * `?schema=1`, also the Worker's schema probes (its routes' reads, see schema-check.ts): a
 * failed one answers 503 with `schema: "failed"` and which read failed, and why.
 */
export function health(
  service: string,
  probes: Readonly<Record<string, SchemaProbe>> = {},
): Handler<WorkerEnv> {
  return async (c) => {
    let database: "ok" | "unreachable" = "ok";
    try {
      await db(c).execute(sql`select 1`);
    } catch (error) {
      c.env.obs.warn("health: database unreachable", { error });
      database = "unreachable";
    }
    let schema: SchemaVerdict | undefined;
    if (database === "ok" && c.req.query("schema") !== undefined) {
      schema = await runSchemaProbes(db(c), probes);
      if (!schema.ok) c.env.obs.warn("health: schema check failed", { check: schema.check });
    }
    const ok = database === "ok" && (schema?.ok ?? true);
    return c.json(
      {
        status: ok ? "ok" : "degraded",
        service,
        environment: c.env.ENVIRONMENT ?? "unknown",
        database,
        ...(schema
          ? schema.ok
            ? { schema: "ok", checks: schema.checks }
            : { schema: "failed", failed: { check: schema.check, error: schema.error } }
          : {}),
      },
      ok ? 200 : 503,
    );
  };
}

/**
 * An HTTPException answers its own response; anything else is rethrown, for withObservability
 * to log and answer a stack-free 500 (for a webhook, a 500 makes the sender retry).
 */
export const onError: ErrorHandler = (error) => {
  if (error instanceof HTTPException) return error.getResponse();
  throw error;
};
