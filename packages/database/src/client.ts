import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import * as schema from "./schema/index";
import { postgresJsUrl } from "./connection-url";

export type Database = PostgresJsDatabase<typeof schema> & {
  /** The underlying postgres.js client, for raw SQL and for closing. */
  $client: postgres.Sql;
};

export interface CreateDbOptions {
  /** Maximum connections in the pool. Workers should keep the default of 1 per request. */
  max?: number;
  /** Seconds before a connection attempt gives up. */
  connectTimeout?: number;
}

/**
 * Opens a drizzle database on postgres.js. The same code runs in Node and in workerd
 * (with nodejs_compat, where postgres.js connects through `cloudflare:sockets`).
 *
 * In a Worker, open one per request and close it with `ctx.waitUntil(db.$client.end())`:
 * I/O objects cannot be shared between requests.
 */
export function createDb(url: string, options: CreateDbOptions = {}): Database {
  if (!url) {
    throw new Error("createDb: no database URL given (is DATABASE_URL set?)");
  }
  // A libpq URL (Neon's) carries client-only parameters postgres.js would send to the server.
  const client = postgres(postgresJsUrl(url), {
    max: options.max ?? 1,
    connect_timeout: options.connectTimeout ?? 10,
    // Types are known from the schema; skipping the lookup saves a round trip per connection.
    fetch_types: false,
    onnotice: () => {},
  });
  return drizzle({ client, schema }) as Database;
}

/** Closes the database's connections, waiting at most `timeoutSeconds` for queries in flight. */
export async function closeDb(db: Database, timeoutSeconds = 5): Promise<void> {
  await db.$client.end({ timeout: timeoutSeconds });
}
