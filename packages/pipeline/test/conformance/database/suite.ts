/**
 * The conformance suite every DatabaseBranches implementation runs: the local one against a real
 * embedded Postgres, the Neon one against a stub of the Neon API that records its requests. A
 * test file calls `describeDatabaseBranches` with a harness; the suite knows nothing of either.
 *
 * Where the implementations legitimately differ, the suite asserts only what both promise:
 * - branch names are the provider's own ("pr_7" locally, "pr-7" on Neon), so it checks
 *   `environment`, never `name`;
 * - after `reset`, `created` is true locally (drop and copy again) and false on Neon (restored
 *   in place), so it checks that the branch and its URL survive, not the flag;
 * - data is only checked when the harness `canConnect` (a stub has no Postgres behind it), and
 *   only ever written to branches, never to main.
 */
import postgres from "postgres";
import { postgresJsUrl } from "@codex/database/connection-url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  PRODUCTION,
  STAGING,
  previewEnvironment,
  type Environment,
} from "../../../src/core/environments";
import { PipelineError } from "../../../src/errors";
import type { DatabaseBranches } from "../../../src/providers/database/shared";

export interface DatabaseBranchesHarness {
  branches: DatabaseBranches;
  /** Removes whatever this harness made; main may stay. */
  cleanup(): Promise<void>;
  /** True when the URLs lead to a real Postgres, so data can be written and read back. */
  canConnect: boolean;
  /** Calls made to the backend so far, when the harness can count them (a recording stub). */
  calls?: () => number;
}

/** Host, port and database of a connection URL: what identifies a branch, minus credentials. */
export function target(url: string): string {
  const parsed = new URL(url);
  return `${parsed.host}${parsed.pathname}`;
}

async function withSql<T>(url: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  // As the platform opens them: a provider's URLs may carry libpq's parameters (Neon's do).
  const sql = postgres(postgresJsUrl(url), { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

const PROBE = "conformance_probe";

async function writeProbe(url: string, value: string): Promise<void> {
  await withSql(url, async (sql) => {
    await sql.unsafe(`create table if not exists ${PROBE} (value text not null)`);
    await sql`insert into ${sql(PROBE)} (value) values (${value})`;
  });
}

/** The probe rows in the database at `url`; [] when the table does not exist there. */
async function readProbe(url: string): Promise<string[]> {
  return withSql(url, async (sql) => {
    const [found] = await sql<{ exists: boolean }[]>`
      select to_regclass(${PROBE}) is not null as exists`;
    if (!found?.exists) return [];
    const rows = await sql<{ value: string }[]>`select value from ${sql(PROBE)} order by value`;
    return rows.map((row) => row.value);
  });
}

/** Environments the provider must refuse before it touches anything. */
const BAD_ENVIRONMENTS: Environment[] = [
  { name: "preview-0", kind: "preview", pr: 0 },
  { name: "preview-1; drop database main", kind: "preview", pr: 1 },
  { name: "preview-2", kind: "staging" },
  { name: "../main", kind: "preview", pr: 3 },
];

export function describeDatabaseBranches(
  name: string,
  setup: () => Promise<DatabaseBranchesHarness>,
): void {
  describe(`DatabaseBranches conformance: ${name}`, () => {
    let harness: DatabaseBranchesHarness;
    let mainUrl: string;

    beforeEach(async () => {
      harness = await setup();
      // Commands call ensureMain before branching; so does every test here.
      mainUrl = (await harness.branches.ensureMain()).url;
    });

    afterEach(async () => {
      await harness.cleanup();
    });

    it("ensureMain returns a Postgres URL, the same one every time", async () => {
      const url = new URL(mainUrl);
      expect(url.protocol).toMatch(/^postgres(?:ql)?:$/);
      expect(url.pathname.length).toBeGreaterThan(1);
      const again = await harness.branches.ensureMain();
      expect(again).toEqual({ url: mainUrl, directUrl: expect.any(String), created: false });
    });

    it("ensure creates a branch, then reuses it with the same URL", async () => {
      const env = previewEnvironment(101);
      const first = await harness.branches.ensure(env);
      expect(first).toMatchObject({ environment: "preview-101", created: true });
      expect(first.name).toMatch(/101/);
      expect(target(first.url)).not.toBe(target(mainUrl));
      const second = await harness.branches.ensure(env);
      expect(second).toMatchObject({
        name: first.name,
        environment: "preview-101",
        created: false,
      });
      expect(target(second.url)).toBe(target(first.url));
      expect(target(await harness.branches.url(env))).toBe(target(first.url));
    });

    it("ensure(production) is main itself, never a copy", async () => {
      const branch = await harness.branches.ensure(PRODUCTION);
      expect(branch).toMatchObject({ environment: "production", created: false });
      expect(target(branch.url)).toBe(target(mainUrl));
      expect(target(await harness.branches.url(PRODUCTION))).toBe(target(mainUrl));
    });

    it("list shows previews and staging, and never main", async () => {
      await harness.branches.ensure(previewEnvironment(102));
      await harness.branches.ensure(STAGING);
      const listed = await harness.branches.list();
      const environments = listed.map((b) => b.environment);
      expect(environments).toContain("preview-102");
      expect(environments).toContain("staging");
      expect(environments).not.toContain("production");
      expect(new Set(environments).size).toBe(environments.length);
      for (const info of listed)
        expect(info.environment).toMatch(/^(?:preview-[1-9][0-9]*|staging)$/);
      await harness.branches.delete(STAGING);
    });

    it("reset keeps the branch and its URL", async () => {
      const env = previewEnvironment(103);
      const before = await harness.branches.ensure(env);
      if (harness.canConnect) await writeProbe(before.url, "written-before-reset");
      const after = await harness.branches.ensure(env, { reset: true });
      expect(after).toMatchObject({ name: before.name, environment: "preview-103" });
      expect(target(after.url)).toBe(target(before.url));
      const listed = (await harness.branches.list()).filter((b) => b.environment === "preview-103");
      expect(listed).toHaveLength(1);
      if (harness.canConnect) expect(await readProbe(after.url)).toEqual([]);
    });

    it("delete removes the branch; a second delete returns false", async () => {
      const env = previewEnvironment(104);
      await harness.branches.ensure(env);
      expect(await harness.branches.delete(env)).toBe(true);
      expect((await harness.branches.list()).map((b) => b.environment)).not.toContain(
        "preview-104",
      );
      expect(await harness.branches.delete(env)).toBe(false);
      // Made again from scratch afterwards.
      expect((await harness.branches.ensure(env)).created).toBe(true);
    });

    it("delete of a branch that never existed returns false", async () => {
      expect(await harness.branches.delete(previewEnvironment(2_000_000_001))).toBe(false);
    });

    it("scratch makes a throwaway copy of main that drop removes", async () => {
      const listedBefore = await harness.branches.list();
      const scratch = await harness.branches.scratch("try migrations");
      expect(target(scratch.url)).not.toBe(target(mainUrl));
      if (harness.canConnect) {
        await writeProbe(scratch.url, "scratch");
        expect(await readProbe(scratch.url)).toEqual(["scratch"]);
        expect(await readProbe(mainUrl)).toEqual([]);
      }
      // A scratch copy belongs to no environment.
      expect(await harness.branches.list()).toEqual(listedBefore);
      await scratch.drop();
      await scratch.drop(); // idempotent
      if (harness.canConnect) {
        await expect(withSql(scratch.url, (sql) => sql`select 1`)).rejects.toThrow();
      }
    });

    it("refuses bad environments before any call, and never deletes production", async () => {
      const callsBefore = harness.calls?.();
      for (const env of BAD_ENVIRONMENTS) {
        for (const attempt of [
          () => harness.branches.ensure(env),
          () => harness.branches.url(env),
          () => harness.branches.delete(env),
        ]) {
          const error = await attempt().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error, `${env.name} (${env.kind})`).toBeInstanceOf(PipelineError);
          expect(error).toMatchObject({ code: "INVALID_ENVIRONMENT", kind: "user" });
        }
      }
      const refused = await harness.branches.delete(PRODUCTION).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refused).toBeInstanceOf(PipelineError);
      expect(refused).toMatchObject({ code: "INVALID_ENVIRONMENT" });
      if (callsBefore !== undefined) expect(harness.calls?.()).toBe(callsBefore);
      expect(await harness.branches.ensureMain()).toMatchObject({ url: mainUrl });
    });

    // Whether later branches see main's new data is checked per implementation: this suite
    // never writes to main, so that it stays safe to point at a real project.
    it("refreshFromMain resolves, and branching still works after it", async () => {
      await harness.branches.refreshFromMain();
      const branch = await harness.branches.ensure(previewEnvironment(105));
      expect(branch.created).toBe(true);
    });

    it("a branch's direct URL (migrations, tests) reaches the same database as its URL (Workers)", async (context) => {
      const branch = await harness.branches.ensure(previewEnvironment(108));
      expect(new URL(branch.directUrl).pathname).toBe(new URL(branch.url).pathname);
      if (!harness.canConnect) return context.skip("no Postgres behind this harness");
      await writeProbe(branch.directUrl, "written-directly");
      expect(await readProbe(branch.url)).toEqual(["written-directly"]);
    });

    it("isolates branches: a row written in a preview is absent from main and other previews", async (context) => {
      if (!harness.canConnect) return context.skip("no Postgres behind this harness");
      const a = await harness.branches.ensure(previewEnvironment(106));
      const b = await harness.branches.ensure(previewEnvironment(107));
      await writeProbe(a.url, "only-in-106");
      expect(await readProbe(a.url)).toEqual(["only-in-106"]);
      expect(await readProbe(mainUrl)).toEqual([]);
      expect(await readProbe(b.url)).toEqual([]);
    });
  });
}
