import postgres from "postgres";
import { afterEach, describe, expect, inject, it } from "vitest";
import type { TestProject } from "vitest/node";
import { closeDb, createDb, users } from "../index";
import type { TestDatabaseConfig } from "./config";
import setup from "./global-setup";
import { createTestDatabase } from "./index";
import { withDatabase } from "./safety";

// The global setup's TEST_DATABASE_URL path, run against the server this test run already has:
// it must use that server, create only prefixed databases there, and drop them all at the end.
const server = inject("codexTestDatabase").serverUrl;
const saved = process.env.TEST_DATABASE_URL;
afterEach(() => {
  if (saved === undefined) delete process.env.TEST_DATABASE_URL;
  else process.env.TEST_DATABASE_URL = saved;
});

function fakeProject() {
  const provided: Partial<Record<string, TestDatabaseConfig>> = {};
  const project = {
    provide: (key: string, value: TestDatabaseConfig) => {
      provided[key] = value;
    },
  } as unknown as TestProject;
  return { project, provided };
}

async function databasesLike(prefix: string): Promise<string[]> {
  const sql = postgres(server, { max: 1 });
  try {
    const rows = await sql<{ datname: string }[]>`
      select datname from pg_database where datname like ${`${prefix}%`} order by 1`;
    return rows.map((r) => r.datname);
  } finally {
    await sql.end();
  }
}

describe("global setup with TEST_DATABASE_URL", () => {
  it(
    "uses the given server, and drops everything it created there",
    { timeout: 30_000 },
    async () => {
      process.env.TEST_DATABASE_URL = withDatabase(server, "postgres");
      const { project, provided } = fakeProject();
      const teardown = await setup(project);
      const config = provided.codexTestDatabase!;
      expect(new URL(config.serverUrl).port).toBe(new URL(server).port);
      expect(await databasesLike(config.prefix)).toEqual([config.template]);

      const suite = await createTestDatabase({ config });
      const db = createDb(suite.url);
      await db.insert(users).values({ email: "external@example.com", passwordHash: "x" });
      await closeDb(db);
      expect(await databasesLike(config.prefix)).toHaveLength(2);

      await teardown();
      expect(await databasesLike(config.prefix)).toEqual([]);
    },
  );

  it("refuses a server URL whose database is named like production", async () => {
    process.env.TEST_DATABASE_URL = withDatabase(server, "production");
    const { project } = fakeProject();
    await expect(setup(project)).rejects.toThrow(/looks like main or production/);
  });
});
