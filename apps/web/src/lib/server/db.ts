import type { RequestEvent } from "@sveltejs/kit";
import { closeDb, createDb, type Database } from "@codex/database";

/**
 * Runs `fn` with a database connection for this request, closed afterwards. In workerd a
 * connection cannot outlive the request that opened it.
 */
export async function withDb<T>(
  event: Pick<RequestEvent, "locals">,
  fn: (db: Database) => Promise<T>,
): Promise<T> {
  const url = event.locals.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is not set for the web Worker");
  const db = createDb(url);
  try {
    return await fn(db);
  } finally {
    await closeDb(db);
  }
}
