import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedServer, type EmbeddedServer } from "@codex/database/embedded";
import { migrate } from "@codex/database/migrate";
import { diffSchemas, introspect, widens } from "./diff";

// A real Postgres (embedded, of our own: the test makes and drops its own databases), main
// migrated with the committed migrations, and each case a copy of it changed by SQL.
let dir: string;
let server: EmbeddedServer;
let mainUrl: string;
let copies = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "codex-schema-diff-"));
  await chmod(dir, 0o755);
  server = await startEmbeddedServer({ dataDir: join(dir, "pg"), durable: false });
  mainUrl = await server.createDatabase("main");
  await migrate(mainUrl);
});

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function sqlOn<T>(url: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** A copy of main with `statements` applied, and its diff against main. */
async function diffAfter(statements: string) {
  const name = `copy_${++copies}`;
  await sqlOn(server.adminUrl, (sql) => sql.unsafe(`create database "${name}" template "main"`));
  const url = server.urlFor(name);
  await sqlOn(url, (sql) => sql.unsafe(statements));
  return diffSchemas(await introspect(mainUrl), await introspect(url));
}

describe("diffSchemas on real Postgres", () => {
  it("finds nothing between main and an unchanged copy (drizzle's own table left out)", async () => {
    expect(
      await diffAfter(
        "insert into drizzle.__drizzle_migrations (hash, created_at) values ('x', 1)",
      ),
    ).toEqual([]);
  });

  it("reads an added nullable column as added, not destructive", async () => {
    expect(await diffAfter('ALTER TABLE "users" ADD COLUMN "nickname" text')).toEqual([
      {
        change: "added",
        kind: "column",
        name: "users.nickname",
        after: "text NULL",
        destructive: false,
      },
    ]);
  });

  it("reads a dropped column as removed and destructive, with what it was", async () => {
    expect(await diffAfter('ALTER TABLE "users" DROP COLUMN "display_name"')).toEqual([
      {
        change: "removed",
        kind: "column",
        name: "users.display_name",
        before: "text NULL",
        destructive: true,
      },
    ]);
  });

  it("reads a rename as a removed column and an added one", async () => {
    const changes = await diffAfter('ALTER TABLE "users" RENAME COLUMN "display_name" TO "name"');
    expect(changes.map((c) => [c.change, c.name, c.destructive])).toEqual([
      ["removed", "users.display_name", true],
      ["added", "users.name", false],
    ]);
  });

  it("tells a narrowed type or a new NOT NULL (destructive) from a widened type or a new default", async () => {
    const changes = await diffAfter(`
      ALTER TABLE "users" ALTER COLUMN "email" TYPE varchar(20);
      ALTER TABLE "users" ALTER COLUMN "display_name" SET NOT NULL;
      ALTER TABLE "payments" ALTER COLUMN "amount" TYPE bigint;
      ALTER TABLE "stripe_events" ALTER COLUMN "detail" SET DEFAULT '';`);
    expect(changes).toEqual([
      {
        change: "changed",
        kind: "column",
        name: "payments.amount",
        before: "integer NOT NULL",
        after: "bigint NOT NULL",
        destructive: false,
      },
      {
        change: "changed",
        kind: "column",
        name: "stripe_events.detail",
        before: "text NULL",
        after: "text NULL DEFAULT ''::text",
        destructive: false,
      },
      {
        change: "changed",
        kind: "column",
        name: "users.display_name",
        before: "text NULL",
        after: "text NOT NULL",
        destructive: true,
      },
      {
        change: "changed",
        kind: "column",
        name: "users.email",
        before: "text NOT NULL",
        after: "character varying(20) NOT NULL",
        destructive: true,
      },
      // The real schema: the expression index on lower(email) now casts.
      {
        change: "changed",
        kind: "index",
        name: "users_email_lower_key",
        before: expect.stringContaining("(lower(email))"),
        after: expect.stringContaining("(lower((email)::text))"),
        destructive: false,
      },
    ]);
  });

  it("reads a dropped table as one destructive change, and a required column as destructive", async () => {
    const changes = await diffAfter(`
      DROP TABLE "login_attempts";
      ALTER TABLE "sessions" ADD COLUMN "device" text NOT NULL;`);
    expect(changes).toEqual([
      {
        change: "removed",
        kind: "table",
        name: "login_attempts",
        before: "5 columns",
        destructive: true,
      },
      {
        change: "added",
        kind: "column",
        name: "sessions.device",
        after: "text NOT NULL",
        destructive: true,
      },
      { change: "removed", kind: "sequence", name: "login_attempts_id_seq", destructive: false },
    ]);
  });

  it("reads indexes, constraints, enums and added tables", async () => {
    const changes = await diffAfter(`
      CREATE INDEX "users_created_at_idx" ON "users" ("created_at");
      DROP INDEX "sessions_expires_at_idx";
      ALTER TABLE "payments" DROP CONSTRAINT "payments_currency_iso";
      ALTER TYPE "plan" ADD VALUE 'team';
      CREATE TYPE "colour" AS ENUM ('red');
      CREATE TABLE "notes" ("id" bigint PRIMARY KEY, "body" text);`);
    expect(changes).toEqual([
      { change: "added", kind: "table", name: "notes", after: "2 columns", destructive: false },
      {
        change: "removed",
        kind: "index",
        name: "sessions_expires_at_idx",
        before: expect.stringContaining("(expires_at)"),
        destructive: false,
      },
      {
        change: "added",
        kind: "index",
        name: "users_created_at_idx",
        after: expect.stringContaining("(created_at)"),
        destructive: false,
      },
      {
        change: "removed",
        kind: "constraint",
        name: "payments.payments_currency_iso",
        before: expect.stringContaining("CHECK"),
        destructive: false,
      },
      { change: "added", kind: "enum", name: "colour", after: "red", destructive: false },
      {
        change: "changed",
        kind: "enum",
        name: "plan",
        before: "free, pro",
        after: "free, pro, team",
        destructive: false,
      },
    ]);
  });
});

describe("widens", () => {
  it.each([
    ["integer", "bigint", true],
    ["bigint", "integer", false],
    ["character varying(20)", "character varying(40)", true],
    ["character varying(40)", "character varying(20)", false],
    ["character varying(20)", "text", true],
    ["text", "character varying(20)", false],
    ["numeric(10,2)", "numeric(12,2)", true],
    ["numeric(10,2)", "numeric(12,3)", false],
    ["text", "integer", false],
  ])("%s → %s: %s", (before, after, expected) => {
    expect(widens(before, after)).toBe(expected);
  });
});
