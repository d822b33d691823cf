import { json } from "@sveltejs/kit";
import type { RequestHandler } from "./$types";
import { sql } from "@codex/database";
import { withDb } from "$lib/server/db";
import { environmentName } from "$lib/server/env";

/** Web's own health, and whether its bindings to this environment's Workers answer. */
export const GET: RequestHandler = async (event) => {
  const env = event.locals.env;
  const [database, auth, webhook] = await Promise.all([
    withDb(event, (db) => db.execute(sql`select 1`)).then(
      () => "ok" as const,
      () => "unreachable" as const,
    ),
    probe(env.AUTH, "https://auth.internal/health"),
    probe(env.WEBHOOK, "https://webhook.internal/health"),
  ]);
  const ok = database === "ok" && auth === "ok" && webhook === "ok";
  return json(
    {
      status: ok ? "ok" : "degraded",
      service: "web",
      environment: environmentName(env),
      database,
      auth,
      webhook,
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
