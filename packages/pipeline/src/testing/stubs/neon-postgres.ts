/**
 * The Neon stub with a real Postgres behind it: an embedded server where each Neon branch is a
 * database of its own, copied from its parent's (`CREATE DATABASE … TEMPLATE`), dropped with
 * the branch, and re-copied on a restore. Main is created, migrated and seeded. Connection URIs
 * log in as `neondb_owner` with a password made for this run.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { startEmbeddedServer } from "@codex/database/embedded";
import { migrate } from "@codex/database/migrate";
import { seed } from "@codex/database/seed";
import { startNeonStub, type NeonStub, type NeonStubOptions } from "./neon";

export interface NeonOnPostgres {
  neon: NeonStub;
  /** The password in every connection URI: a secret the tests look for. */
  password: string;
  /** The connection URI of the branch named `branch` ("main", "pr-7"...). */
  branchUrl(branch: string): string;
  /** Whether the branch's database exists. */
  exists(branch: string): Promise<boolean>;
  /** Runs one query on the branch's database. */
  query<T extends object>(branch: string, text: string): Promise<T[]>;
  stop(): Promise<void>;
}

export async function startNeonOnPostgres(
  options: Omit<NeonStubOptions, "backend" | "defaultBranchName"> = {},
): Promise<NeonOnPostgres> {
  const dir = await mkdtemp(join(tmpdir(), "codex-neon-pg-"));
  // As root, Postgres runs as the `postgres` user, which must be able to enter the folder.
  await chmod(dir, 0o755);
  const server = await startEmbeddedServer({ dataDir: join(dir, "pg"), durable: false });
  const password = `pw${randomBytes(16).toString("hex")}`;
  const dbName = (branch: string) => `neon_${branch.replace(/[^a-z0-9]/g, "_")}`;
  const branchUrl = (branch: string) =>
    `postgres://neondb_owner:${password}@127.0.0.1:${server.port}/${dbName(branch)}`;

  async function withSql<T>(url: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      return await fn(sql);
    } finally {
      await sql.end({ timeout: 5 });
    }
  }
  const admin = <T>(fn: (sql: postgres.Sql) => Promise<T>) => withSql(server.adminUrl, fn);

  async function copy(name: string, parent: string): Promise<void> {
    await admin(async (sql) => {
      // A template must have no connections: a migration may have just closed its own.
      await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${dbName(parent)} and pid <> pg_backend_pid()`;
      await sql.unsafe(
        `create database "${dbName(name)}" template "${dbName(parent)}" owner neondb_owner`,
      );
    });
  }
  async function drop(name: string): Promise<void> {
    await admin((sql) => sql.unsafe(`drop database if exists "${dbName(name)}" with (force)`));
  }

  await admin(async (sql) => {
    await sql.unsafe(`create role neondb_owner login superuser password '${password}'`);
    await sql.unsafe(`create database "${dbName("main")}" owner neondb_owner`);
  });
  await migrate(branchUrl("main"));
  await seed(branchUrl("main"));

  const neon = await startNeonStub({
    ...options,
    defaultBranchName: "main",
    backend: {
      created: copy,
      deleted: drop,
      restored: async (name, parent) => {
        await drop(name);
        await copy(name, parent);
      },
      uri: branchUrl,
    },
  });

  return {
    neon,
    password,
    branchUrl,
    exists: (branch) =>
      admin(
        async (sql) =>
          (await sql`select 1 from pg_database where datname = ${dbName(branch)}`).length > 0,
      ),
    query: (branch, text) =>
      withSql(branchUrl(branch), async (sql) => (await sql.unsafe(text)) as unknown as never[]),
    async stop() {
      await neon.close();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
