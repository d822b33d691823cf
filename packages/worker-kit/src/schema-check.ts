/**
 * The schema check behind `/health?schema=1`: each Worker names the reads its routes make (the
 * same drizzle queries, with values that match nothing), and this runs them one after another
 * on the request's connection. A column or table the code reads that the database lacks fails
 * the check, named from PostgreSQL's own message, never with the query's parameters.
 *
 * Used by the pipeline's smoke checks (every deploy and rollback) and its old-code check (the
 * release production serves, tried on the schema a pending migration makes).
 */
import type { Database } from "@codex/database";

/** One read of a Worker's real query paths; its result is ignored. */
export type SchemaProbe = (db: Database) => Promise<unknown>;

/** A transaction of `Database`, as drizzle hands it to `transaction`'s callback. */
export type Transaction = Parameters<Parameters<Database["transaction"]>[0]>[0];

export type SchemaVerdict =
  { ok: true; checks: string[] } | { ok: false; check: string; error: string };

/** A value no row holds: the nil UUID (RFC 9562, section 5.9), never issued by gen_random_uuid(). */
export const NO_SUCH_ID = "00000000-0000-0000-0000-000000000000";

/** An address under the reserved `.invalid` top-level domain (RFC 2606): nobody signs up with it. */
export const NO_SUCH_EMAIL = "schema-check@codex.invalid";

/** Runs each probe in turn; the first that fails stops the check and is named. */
export async function runSchemaProbes(
  db: Database,
  probes: Readonly<Record<string, SchemaProbe>>,
): Promise<SchemaVerdict> {
  for (const [check, probe] of Object.entries(probes)) {
    try {
      await probe(db);
    } catch (error) {
      return { ok: false, check, error: describeSchemaError(error) };
    }
  }
  return { ok: true, checks: Object.keys(probes) };
}

class RolledBack extends Error {}

/**
 * Runs `fn` in a transaction that is always rolled back: for a route that writes (a webhook's
 * insert names every column it fills), so that the check reaches its statements without ever
 * leaving a row behind.
 */
export async function inRolledBackTransaction(
  db: Database,
  fn: (tx: Transaction) => Promise<unknown>,
): Promise<void> {
  try {
    await db.transaction(async (tx) => {
      await fn(tx);
      throw new RolledBack("schema check: rolled back on purpose");
    });
  } catch (error) {
    if (!(error instanceof RolledBack)) throw error;
  }
}

// SQLSTATE class 42 (syntax error or access rule violation: undefined column 42703, undefined
// table 42P01, undefined function 42883, ...): PostgreSQL's message names the object, not the
// data (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const SCHEMA_SQLSTATE = /^42[0-9A-Z]{3}$/;

/**
 * What a failed probe says: PostgreSQL's message when it names a schema object (class 42), else
 * only the SQLSTATE or the error's name. drizzle's own message ("Failed query: …\nparams: …")
 * and PostgreSQL's `detail` are never used: they can carry parameters and row data.
 */
export function describeSchemaError(error: unknown): string {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    const { code, message, cause } = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) {
      return SCHEMA_SQLSTATE.test(code) && typeof message === "string"
        ? `${message.slice(0, 200)} (SQLSTATE ${code})`
        : `the database answered SQLSTATE ${code}`;
    }
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return `database unreachable (${code})`;
    e = cause;
  }
  return error instanceof Error ? `${error.name} (no database error code)` : "unknown error";
}
