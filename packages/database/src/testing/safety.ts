/**
 * Guards that keep the test harness away from real data: it creates and drops databases,
 * so it refuses any database whose name looks like main, production or a primary.
 */
const PROTECTED = /(^|[^a-z0-9])(main|master|prod|production|primary|live)([^a-z0-9]|$)/i;

export class UnsafeTestDatabaseError extends Error {
  override name = "UnsafeTestDatabaseError";
}

/** Throws when `name` is a database the harness must never create, drop or migrate. */
export function assertSafeTestDatabaseName(name: string): void {
  if (!/^[a-z0-9_]{1,63}$/.test(name)) {
    throw new UnsafeTestDatabaseError(
      `refusing database name "${name}": test databases use only a-z, 0-9 and _ (at most 63)`,
    );
  }
  if (PROTECTED.test(name)) {
    throw new UnsafeTestDatabaseError(
      `refusing to touch database "${name}": its name looks like main or production`,
    );
  }
}

/** The database name in a postgres:// URL. */
export function databaseNameOf(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UnsafeTestDatabaseError("TEST_DATABASE_URL is not a valid postgres:// URL");
  }
  return decodeURIComponent(parsed.pathname.replace(/^\//, "")) || "postgres";
}

/** The same server and credentials as `url`, but another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/**
 * Checks the server URL the harness was given. The database in it is only used to connect
 * and issue CREATE DATABASE, but a URL naming main or production is a mistake worth stopping.
 */
export function assertSafeServerUrl(url: string): void {
  const name = databaseNameOf(url);
  if (PROTECTED.test(name)) {
    throw new UnsafeTestDatabaseError(
      `refusing TEST_DATABASE_URL: its database "${name}" looks like main or production`,
    );
  }
}
