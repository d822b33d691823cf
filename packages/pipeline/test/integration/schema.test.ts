/**
 * The schema checks through the real CLI on the local target: lint, diff and the
 * destructive-change gate on production-deploy and preview-deploy. Migrations are added to a
 * copy of the checkout (never to this checkout, which other suites build from).
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addMigration as addMigrationTo, copyCheckout, explain, Sandbox } from "./cli";

let parent: string;
let copy: string;
let box: Sandbox;

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), "codex-schema-"));
  copy = await copyCheckout(parent, { install: true });
  box = await Sandbox.create({ repo: copy });
}, 300_000);

afterAll(async () => {
  await box?.dispose();
  if (parent) await rm(parent, { recursive: true, force: true });
}, 120_000);

const DRIZZLE = () => join(copy, "packages", "database", "drizzle");

/** Writes a migration into the copy, with its journal entry. */
const addMigration = (tag: string, sql: string) => addMigrationTo(copy, tag, sql);

const production = () =>
  box.status().then((s) => s.environments.find((e) => e.name === "production"));
const migrationsOnMain = () =>
  box.sql(
    "main",
    async (sql) =>
      (await sql`select count(*)::int as n from drizzle.__drizzle_migrations`)[0]?.n as number,
  );
const nicknameOnMain = () =>
  box.sql(
    "main",
    async (sql) =>
      (
        await sql`select count(*)::int as n from information_schema.columns
                 where table_name = 'users' and column_name = 'nickname'`
      )[0]?.n === 1,
  );
const summaryOf = (environment: string) =>
  readFile(join(box.stateDir, "envs", environment, "summary.md"), "utf8");

const DROP = 'ALTER TABLE "users" DROP COLUMN "nickname";\n';

describe("schema checks on the local target", () => {
  it("passes an additive migration (a nullable column) through every check, and applies it", async () => {
    const first = await box.run("production-deploy");
    expect(first.code, explain(first)).toBe(0);
    // Nothing pending on a fresh main: the committed initial migration blocks nothing.
    expect(first.stdout).toMatch(/✓ find the migrations main lacks .* — none pending/);
    expect(first.stdout).toMatch(/✓ destructive-change gate .* — passed: No schema change\./);

    await addMigration("0001_add_nickname", 'ALTER TABLE "users" ADD COLUMN "nickname" text;\n');
    const result = await box.run("production-deploy");
    expect(result.code, explain(result)).toBe(0);
    const out = result.stdout;
    expect(out).toMatch(/✓ find the migrations main lacks .* — 1 pending: 0001_add_nickname/);
    expect(out).toMatch(
      /✓ lint the pending migrations \(squawk\) .* — 2 finding\(s\), 0 destructive/,
    );
    expect(out).toMatch(/✓ diff the schema against main .* — 1 change\(s\), 0 destructive/);
    expect(out).toMatch(/✓ destructive-change gate .* — passed: nothing destructive/);
    // The checks come before main is migrated.
    expect(out.indexOf("▸ destructive-change gate")).toBeLessThan(out.indexOf("▸ migrate main"));
    expect(await nicknameOnMain()).toBe(true);
    expect(await migrationsOnMain()).toBe(2);
    const summary = await summaryOf("production");
    expect(summary).toContain("- added column users.nickname: `text NULL`");
    expect(summary).toContain("`require-lock-timeout`");
    expect((await box.databases()).filter((d) => d.startsWith("scratch_"))).toEqual([]);
    // Two deploys, the first building the copy's web app (vite) from nothing: minutes on a busy machine.
  }, 900_000);

  it("shows a pending destructive migration's verdict on the preview, which still deploys", async () => {
    await addMigration("0002_drop_nickname", DROP);
    const result = await box.run("preview-deploy", "--pr", "7", "--skip-tests");
    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout).toMatch(
      /✓ destructive-change gate .* — refused: 2 destructive change\(s\)/,
    );
    const summary = await summaryOf("preview-7");
    expect(summary).toContain("### Schema");
    expect(summary).toContain(
      "**Gate:** refused — `2 destructive change(s) without a valid approval (codex:approve-destructive): production-deploy refuses them`",
    );
    expect(summary).toContain("Pending migrations: `0002_drop_nickname`");
    expect(summary).toContain(
      "| `packages/database/drizzle/0002_drop_nickname.sql:1` | `ban-drop-column` **destructive, not approved** |",
    );
    expect(summary).toContain(
      "- removed column users.nickname: `text NULL` — **destructive, not approved**",
    );
    // The preview's branch has the migration; main does not.
    expect(await nicknameOnMain()).toBe(true);
  }, 600_000);

  it("refuses the DROP COLUMN before main is touched; production keeps serving", async () => {
    const before = (await production())?.version;
    const result = await box.run("production-deploy");
    expect(result.code, explain(result)).toBe(2);
    expect(result.stderr).toContain(
      "error: a pending migration destroys or rewrites data, so production-deploy stopped before touching main:",
    );
    expect(result.stderr).toContain(
      'packages/database/drizzle/0002_drop_nickname.sql:1 ban-drop-column: ALTER TABLE "users" DROP COLUMN "nickname" — Dropping a column may break existing clients.',
    );
    expect(result.stderr).toContain(
      "column users.nickname removed (was text NULL): its data would be lost",
    );
    expect(result.stderr).toMatch(
      /hint: .*-- codex:approve-destructive ban-drop-column: <why this is safe>.*expand\/contract/,
    );
    expect(result.stdout).not.toMatch(/▸ migrate main/);
    expect(result.stdout).not.toMatch(/▸ build and deploy/);
    expect(await nicknameOnMain()).toBe(true);
    expect(await migrationsOnMain()).toBe(2);
    expect((await production())?.version).toBe(before);
    expect((await box.http("localhost", "/health")).status).toBe(200);
    expect((await box.databases()).filter((d) => d.startsWith("scratch_"))).toEqual([]);
    expect(await summaryOf("production")).toContain("**Gate:** refused");

    // A marker without a reason does not count.
    await writeFile(
      join(DRIZZLE(), "0002_drop_nickname.sql"),
      `-- codex:approve-destructive ban-drop-column:\n${DROP}`,
    );
    const noReason = await box.run("production-deploy");
    expect(noReason.code, explain(noReason)).toBe(2);
    expect(noReason.stderr).toContain(
      "0002_drop_nickname.sql:1: the approval marker for ban-drop-column has no reason; a reason is required",
    );
    expect(await nicknameOnMain()).toBe(true);
  }, 600_000);

  it("applies the same migration once it carries the approval marker, and says so", async () => {
    await writeFile(
      join(DRIZZLE(), "0002_drop_nickname.sql"),
      `-- codex:approve-destructive ban-drop-column: nickname was never released\n${DROP}`,
    );
    const result = await box.run("production-deploy");
    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout).toMatch(
      /✓ destructive-change gate .* — passed: 2 destructive change\(s\), all approved/,
    );
    expect(await nicknameOnMain()).toBe(false);
    expect(await migrationsOnMain()).toBe(3);
    expect((await box.http("localhost", "/health")).status).toBe(200);
    const summary = await summaryOf("production");
    expect(summary).toContain(
      "`ban-drop-column` **destructive, approved: nickname was never released**",
    );
    expect(summary).toContain(
      "- removed column users.nickname: `text NULL` — **destructive, approved: nickname was never released**",
    );
  }, 600_000);
});
