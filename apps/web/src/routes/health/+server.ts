import { json } from "@sveltejs/kit";
import type { RequestHandler } from "./$types";
import { sql } from "@codex/database";
import { NO_SUCH_ID, runSchemaProbes, type SchemaVerdict } from "@codex/worker-kit/schema-check";
import { paymentsOf } from "$lib/server/account";
import { withDb } from "$lib/server/db";
import { environmentName } from "$lib/server/env";

/**
 * `?schema=1`: web's own reads, as its pages make them (the account page's payments), with an id
 * that matches nothing. The auth and webhook Workers check their own at their `/health?schema=1`.
 */
const schemaProbes = {
  "payments of a user (account page)": (db: Parameters<typeof paymentsOf>[0]) =>
    paymentsOf(db, NO_SUCH_ID),
};

/** Web's own health, and whether its bindings to this environment's Workers answer. */
export const GET: RequestHandler = async (event) => {
  const env = event.locals.env;
  const checkSchema = event.url.searchParams.has("schema");
  let schema: SchemaVerdict | undefined;
  const [database, auth, webhook] = await Promise.all([
    withDb(event, async (db) => {
      await db.execute(sql`select 1`);
      if (checkSchema) schema = await runSchemaProbes(db, schemaProbes);
    }).then(
      () => "ok" as const,
      () => "unreachable" as const,
    ),
    probe(env.AUTH, "https://auth.internal/health"),
    probe(env.WEBHOOK, "https://webhook.internal/health"),
  ]);
  const ok = database === "ok" && auth === "ok" && webhook === "ok" && (schema?.ok ?? true);
  return json(
    {
      status: ok ? "ok" : "degraded",
      service: "web",
      environment: environmentName(env),
      database,
      auth,
      webhook,
      ...(schema
        ? schema.ok
          ? { schema: "ok", checks: schema.checks }
          : { schema: "failed", failed: { check: schema.check, error: schema.error } }
        : {}),
    },
    { status: ok ? 200 : 503, headers: { "cache-control": "no-store" } },
  );
};

async function probe(binding: Fetcher, url: string): Promise<"ok" | "unreachable"> {
  try {
    const response = await binding.fetch(url);
    await response.body?.cancel();
    return response.ok ? "ok" : "unreachable";
  } catch {
    return "unreachable";
  }
}
