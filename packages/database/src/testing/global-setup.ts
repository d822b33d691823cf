import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import type { TestProject } from "vitest/node";
import { startEmbeddedServer, type EmbeddedServer } from "../embedded";
import { migrate } from "../migrate";
import { postgresJsUrl } from "../connection-url";
import { TEST_DATABASE_KEY, type TestDatabaseConfig } from "./config";
import { assertSafeServerUrl, assertSafeTestDatabaseName, withDatabase } from "./safety";

/**
 * Vitest global setup for the whole repository: one Postgres for the run, and one migrated
 * template that every test file clones its own database from.
 *
 * With TEST_DATABASE_URL set, that server is used instead of an embedded one (Dagger's
 * Postgres service, or a Neon branch); everything this run creates there is dropped at the end.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const prefix = `codex_test_${runId}`;
  const template = `${prefix}_tpl`;
  assertSafeTestDatabaseName(template);

  let embedded: EmbeddedServer | undefined;
  let serverUrl = process.env.TEST_DATABASE_URL;
  if (serverUrl) {
    assertSafeServerUrl(serverUrl);
  } else {
    const dataDir = await mkdtemp(join(tmpdir(), "codex-test-pg-"));
    embedded = await startEmbeddedServer({ dataDir, ephemeral: true, durable: false });
    serverUrl = embedded.adminUrl;
  }

  const config: TestDatabaseConfig = { serverUrl, template, prefix };
  const admin = postgres(postgresJsUrl(serverUrl), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${template}"`);
    await migrate(withDatabase(serverUrl, template));
    // A template nobody can connect to can always be cloned (CREATE DATABASE fails while the
    // template has sessions).
    await admin.unsafe(
      `alter database "${template}" with is_template true allow_connections false`,
    );
  } catch (error) {
    await admin.end();
    await embedded?.stop();
    throw error;
  }
  await admin.end();
  project.provide(TEST_DATABASE_KEY, config);
  if (process.env.CODEX_TEST_VERBOSE) {
    console.log(
      `test database ready in ${Date.now() - started} ms (${embedded ? "embedded" : "TEST_DATABASE_URL"})`,
    );
  }

  return async () => {
    const sql = postgres(postgresJsUrl(serverUrl), { max: 1, onnotice: () => {} });
    try {
      const rows = await sql<{ datname: string }[]>`
        select datname from pg_database where datname like ${`${prefix}\\_%`}`;
      for (const { datname } of rows) {
        assertSafeTestDatabaseName(datname);
        await sql.unsafe(`alter database "${datname}" with is_template false`);
        await sql.unsafe(`drop database if exists "${datname}" with (force)`);
      }
    } finally {
      await sql.end();
      await embedded?.stop();
    }
  };
}
