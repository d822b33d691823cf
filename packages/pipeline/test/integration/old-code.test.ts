/**
 * Old code on the new schema, on the local target with real Postgres and workerd: the release
 * production serves is tried on a migrated copy of main before main is migrated, and a rollback
 * to code that does not survive the current schema is refused. Migrations and code are changed
 * in a copy of the checkout (copyCheckout), never in this one.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addMigration, copyCheckout, explain, Sandbox } from "./cli";

let parent: string;
let repo: string;
let box: Sandbox;

beforeAll(async () => {
  const { mkdtemp } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  parent = await mkdtemp(join(tmpdir(), "codex-old-code-"));
  repo = await copyCheckout(parent, { install: true });
  box = await Sandbox.create({ repo });
});
afterAll(async () => {
  await box?.dispose();
  if (parent) await rm(parent, { recursive: true, force: true });
});

/** Each test runs up to four deploys, which take minutes each on a loaded machine. */
const DEPLOYS = 1_200_000;

const usersColumns = () =>
  box.sql("main", async (sql) =>
    (
      await sql<{ column_name: string }[]>`
        select column_name from information_schema.columns where table_name = 'users'`
    ).map((r) => r.column_name),
  );
const migrationsOnMain = () =>
  box.sql(
    "main",
    async (sql) =>
      (await sql`select count(*)::int as n from drizzle.__drizzle_migrations`)[0]?.n as number,
  );
const production = () =>
  box.status().then((s) => s.environments.find((e) => e.name === "production"));
const schemaHealth = async () => {
  const res = await box.http("localhost", "/health?schema=1");
  return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> };
};

describe("old code on the new schema (local target)", () => {
  it(
    "no pending migration skips the check",
    async () => {
      const first = await box.run("production-deploy");
      expect(first.code, explain(first)).toBe(0);
      expect(first.stdout).toMatch(
        /try the release production serves on the migrated schema: skipped \(no pending migration\)/,
      );
      const again = await box.run("production-deploy");
      expect(again.code, explain(again)).toBe(0);
      expect(again.stdout).toMatch(
        /try the release production serves on the migrated schema: skipped \(no pending migration\)/,
      );
      expect((await schemaHealth()).status).toBe(200);
    },
    DEPLOYS,
  );

  it(
    "an additive migration (a nullable column) passes the check, then applies",
    async () => {
      await addMigration(
        repo,
        "0001_users_nickname",
        `ALTER TABLE "users" ADD COLUMN "nickname" text;`,
      );
      const result = await box.run("production-deploy");
      expect(result.code, explain(result)).toBe(0);
      expect(result.stdout).toMatch(
        /✓ try the release production serves on the migrated schema \([^)]*\) — v1 answered its schema checks/,
      );
      expect(await usersColumns()).toContain("nickname");
      const summary = JSON.parse(
        await readFile(join(box.stateDir, "envs", "production", "summary.json"), "utf8"),
      ) as { schema?: { pending: string[]; oldCode?: { status: string; version?: string } } };
      expect(summary.schema?.pending).toEqual(["0001_users_nickname"]);
      expect(summary.schema?.oldCode).toMatchObject({ status: "passed", version: "v1" });
    },
    DEPLOYS,
  );

  it(
    "a rename of a column the live code reads is refused before main is touched",
    async () => {
      const live = (await production())?.version;
      const before = await migrationsOnMain();
      await addMigration(
        repo,
        "0002_users_public_name",
        // Approved for the destructive-change gate (a rename loses the old name's data for old
        // code), so that what refuses it here is the old-code check alone.
        "-- codex:approve-destructive renaming-column: the old-code check must still refuse it\n" +
          `ALTER TABLE "users" RENAME COLUMN "display_name" TO "public_name";`,
      );
      const result = await box.run("production-deploy");
      expect(result.code, explain(result)).toBe(2);
      expect(result.stderr).toMatch(
        new RegExp(
          `the migrations 0002_users_public_name break the code production serves now \\(${live}\\), so main was not touched`,
        ),
      );
      expect(result.stderr).toMatch(/auth-worker-production: .*users by email \(login\) failed/);
      expect(result.stderr).toMatch(/column "display_name" does not exist/);
      expect(result.stderr).toMatch(/expand\/contract/);
      expect(result.stderr).toMatch(/--allow-incompatible/);
      expect(result.stdout).not.toMatch(/▸ migrate main/);
      // Main untouched, production still serving the same version, its schema check passing.
      expect(await usersColumns()).toContain("display_name");
      expect(await migrationsOnMain()).toBe(before);
      expect((await production())?.version).toBe(live);
      expect(await schemaHealth()).toMatchObject({ status: 200, body: { schema: "ok" } });
      // No throwaway database left behind.
      expect((await box.databases()).filter((d) => d.startsWith("scratch_"))).toEqual([]);
      const summary = JSON.parse(
        await readFile(join(box.stateDir, "envs", "production", "summary.json"), "utf8"),
      ) as { status: string; schema?: { oldCode?: { status: string; detail: string } } };
      expect(summary.status).toBe("failed");
      expect(summary.schema?.oldCode?.status).toBe("refused");
      expect(summary.schema?.oldCode?.detail).toMatch(/display_name/);
    },
    DEPLOYS,
  );

  it(
    "a rollback to code that does not survive the schema is refused, and allowed with --force-schema",
    async () => {
      // The copy's code moves to the renamed column, and goes out knowingly with the migration.
      const schemaFile = join(repo, "packages", "database", "src", "schema", "users.ts");
      const source = await readFile(schemaFile, "utf8");
      expect(source).toContain('text("display_name")');
      await writeFile(schemaFile, source.replace('text("display_name")', 'text("public_name")'));
      const old = (await production())?.version as string;
      const forced = await box.run("production-deploy", "--allow-incompatible");
      expect(forced.code, explain(forced)).toBe(0);
      expect(forced.stdout).toMatch(/\(allowed by --allow-incompatible\)/);
      const current = (await production())?.version as string;
      expect(current).not.toBe(old);
      expect(await usersColumns()).toContain("public_name");

      const refused = await box.run("rollback");
      expect(refused.code, explain(refused)).toBe(2);
      expect(refused.stderr).toMatch(new RegExp(`rollback to ${old} refused`));
      expect(refused.stderr).toMatch(/column "display_name" does not exist/);
      expect(refused.stderr).toMatch(/--force-schema/);
      expect((await production())?.version).toBe(current);
      expect(await schemaHealth()).toMatchObject({ status: 200 });

      // Forced: the old version is served, and the rollback's own smoke check says it is broken.
      const back = await box.run("rollback", "--force-schema");
      expect((await production())?.version).toBe(old);
      expect(back.stdout).toMatch(/\(allowed by --force-schema\)/);
      expect(back.code).not.toBe(0);
      expect(back.stderr).toMatch(/does not survive the schema: users by email \(login\) failed/);

      // Forward again: that version was built with as many migrations as main has, so no check.
      const forward = await box.run("rollback", "--to", current);
      expect(forward.code, explain(forward)).toBe(0);
      expect(forward.stdout).toMatch(
        /survives the current schema: skipped \(.* was built with 3 migrations, the database has 3\)/,
      );
      expect(await schemaHealth()).toMatchObject({ status: 200, body: { schema: "ok" } });
    },
    DEPLOYS,
  );
});
