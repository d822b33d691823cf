import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedServer, type EmbeddedServer } from "@codex/database/embedded";
import { previewEnvironment } from "../../../src/core/environments";
import { describeDatabaseBranches } from "./suite";
import { LocalDatabaseBranches } from "../../../src/providers/database/local";

// Our own server, not the run's shared one: the suite creates and drops databases named like
// the local target's (main, main_tpl, pr_N), which must not meet other test files.
let dir: string;
let server: EmbeddedServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "codex-db-branches-"));
  // As root, Postgres runs as the "postgres" user, which must be able to enter the folder.
  await chmod(dir, 0o755);
  server = await startEmbeddedServer({ dataDir: join(dir, "pg"), durable: false });
  // Main exactly as the local host makes it: created, migrated, seeded, and its template taken.
  await new LocalDatabaseBranches(server.port).ensureMain();
});

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function admin<T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Drops every branch database a test left behind; main and its template stay. */
async function dropBranches(): Promise<void> {
  await admin(async (sql) => {
    const rows = await sql<{ datname: string }[]>`
      select datname from pg_database where datname ~ '^(pr_[0-9]+|staging|scratch_[a-z0-9_]+)$'`;
    for (const { datname } of rows) await sql.unsafe(`drop database "${datname}" with (force)`);
  });
}

describeDatabaseBranches("local (embedded Postgres)", async () => ({
  branches: new LocalDatabaseBranches(server.port),
  canConnect: true,
  cleanup: dropBranches,
}));

describe("LocalDatabaseBranches", () => {
  it("copies main as of the last refreshFromMain into new branches, not existing ones", async () => {
    const branches = new LocalDatabaseBranches(server.port);
    const { url: mainUrl } = await branches.ensureMain();
    const before = await branches.ensure(previewEnvironment(201));
    const main = postgres(mainUrl, { max: 1, onnotice: () => {} });
    try {
      await main.unsafe("create table refresh_probe (id int)");
    } finally {
      await main.end({ timeout: 5 });
    }
    try {
      const stale = await branches.ensure(previewEnvironment(202));
      await branches.refreshFromMain();
      const fresh = await branches.ensure(previewEnvironment(203));
      const hasProbe = async (url: string) => {
        const sql = postgres(url, { max: 1, onnotice: () => {} });
        try {
          const [row] = await sql<{ found: boolean }[]>`
            select to_regclass('refresh_probe') is not null as found`;
          return row?.found;
        } finally {
          await sql.end({ timeout: 5 });
        }
      };
      expect(await hasProbe(before.url)).toBe(false);
      expect(await hasProbe(stale.url)).toBe(false); // the template was older than main
      expect(await hasProbe(fresh.url)).toBe(true);
    } finally {
      const cleanup = postgres(mainUrl, { max: 1, onnotice: () => {} });
      try {
        await cleanup.unsafe("drop table if exists refresh_probe");
      } finally {
        await cleanup.end({ timeout: 5 });
      }
      await branches.refreshFromMain();
      await dropBranches();
    }
  });
});
