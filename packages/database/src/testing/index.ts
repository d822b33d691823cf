import postgres from "postgres";
import { afterAll, beforeAll, inject } from "vitest";
import { postgresJsUrl } from "../connection-url";
import type { TestDatabaseConfig } from "./config";
import { assertSafeTestDatabaseName, withDatabase } from "./safety";

export type { TestDatabaseConfig } from "./config";
export { assertSafeTestDatabaseName, UnsafeTestDatabaseError } from "./safety";

export interface TestDatabase {
  name: string;
  url: string;
  /** Drops the database, closing whatever is still connected to it. */
  drop(): Promise<void>;
}

/**
 * Clones a fresh, migrated database from the run's template (or, with `migrated: false`,
 * creates an empty one). Works in Node and in workerd
 * (it only needs postgres.js and the config the global setup provided).
 */
export async function createTestDatabase(
  options: { migrated?: boolean; config?: TestDatabaseConfig } = {},
): Promise<TestDatabase> {
  const config = options.config ?? inject("codexTestDatabase");
  if (!config) {
    throw new Error(
      "no test database configured: add @codex/database/testing/global-setup to vitest's globalSetup",
    );
  }
  const suffix = crypto.randomUUID().replaceAll("-", "").slice(0, 10);
  const name = `${config.prefix}_${suffix}`;
  assertSafeTestDatabaseName(name);
  assertSafeTestDatabaseName(config.template);
  await withServer(config.serverUrl, async (sql) => {
    const [version] = await sql<
      { v: number }[]
    >`select current_setting('server_version_num')::int as v`;
    // FILE_COPY (PostgreSQL 15+) copies the template's files directly: faster than WAL_LOG here.
    const strategy = (version?.v ?? 0) >= 150000 ? " strategy file_copy" : "";
    await sql.unsafe(
      options.migrated === false
        ? `create database "${name}"`
        : `create database "${name}" template "${config.template}"${strategy}`,
    );
  });
  return {
    name,
    url: withDatabase(config.serverUrl, name),
    drop: () => dropTestDatabase(config, name),
  };
}

export async function dropTestDatabase(config: TestDatabaseConfig, name: string): Promise<void> {
  assertSafeTestDatabaseName(name);
  if (!name.startsWith(`${config.prefix}_`)) {
    throw new Error(`refusing to drop "${name}": it was not created by this test run`);
  }
  await withServer(config.serverUrl, (sql) =>
    sql.unsafe(`drop database if exists "${name}" with (force)`),
  );
}

/**
 * Gives the calling test file its own database for all of its tests, dropped afterwards.
 * Call it at the top level of a test file; read the result inside tests or hooks.
 */
export function useTestDatabase(): () => TestDatabase {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });
  return () => {
    if (!db)
      throw new Error("useTestDatabase(): the database is only ready inside tests and hooks");
    return db;
  };
}

async function withServer<T>(url: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(postgresJsUrl(url), { max: 1, onnotice: () => {}, fetch_types: false });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}
