import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Sandbox } from "./cli";

let box: Sandbox;
beforeAll(async () => {
  box = await Sandbox.create();
});
afterAll(async () => {
  await box?.dispose();
});

/** The host log's last "reloaded" entry (host.ts logs one JSON line per sync). */
async function lastReload(): Promise<Record<string, unknown> | undefined> {
  const log = await readFile(join(box.stateDir, "host.log"), "utf8");
  const reloads = log
    .split("\n")
    .filter((line) => line.includes('"reloaded"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return reloads.at(-1);
}

const production = () =>
  box.status().then((s) => s.environments.find((e) => e.name === "production"));

describe("production-deploy and rollback", () => {
  it("migrates main, deploys production at localhost, and smoke-checks it", async () => {
    const result = await box.run("production-deploy");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/try the pending migrations on a throwaway copy of main/);
    expect(result.stdout).toMatch(/✓ production deployed in/);
    const health = await box.http("localhost", "/health");
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({
      environment: "production",
      database: "ok",
      auth: "ok",
      webhook: "ok",
    });
    // Production shows no environment banner.
    expect((await box.http("localhost", "/")).body).not.toContain('data-testid="env-banner"');
    // The throwaway copy is gone.
    expect((await box.databases()).filter((d) => d.startsWith("scratch_"))).toEqual([]);
    expect((await production())?.version).toBe("v1");
  });

  it("keeps each version, and rolls back to the previous one within seconds", async () => {
    const second = await box.run("production-deploy", "--rebuild");
    expect(second.code, second.stderr).toBe(0);
    expect((await production())?.version).toBe("v2");

    const started = Date.now();
    const back = await box.run("rollback");
    const elapsed = Date.now() - started;
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toMatch(/production serves v1 \(was v2\)/);
    expect(elapsed).toBeLessThan(120_000);
    expect((await production())?.version).toBe("v1");
    expect((await box.http("localhost", "/health")).status).toBe(200);
    // v1's runtime was kept warm when v2 replaced it: the rollback only moved the route.
    expect(await lastReload()).toMatchObject({
      updated: ["production"],
      fromStandby: ["production"],
    });

    const forward = await box.run("rollback", "--to", "v2");
    expect(forward.code, forward.stderr).toBe(0);
    expect((await production())?.version).toBe("v2");
    expect(await lastReload()).toMatchObject({ fromStandby: ["production"] });

    const missing = await box.run("rollback", "--to", "v9");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/has no version v9 \(kept: v1, v2\)/);
  });

  it("a failing migration leaves production untouched, serves no broken code, and says why", async () => {
    // Make the committed migration look pending again: re-applying it fails (its tables exist).
    const removed = await box.sql(
      "main",
      (sql) => sql`delete from drizzle.__drizzle_migrations returning *`,
    );
    expect(removed.length).toBeGreaterThan(0);
    const usersBefore = await box.sql(
      "main",
      async (sql) => (await sql`select count(*)::int as n from users`)[0]?.n as number,
    );
    try {
      const result = await box.run("production-deploy", "--rebuild");
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/a migration fails on a copy of main, so main was not touched/);
      expect(result.stdout).not.toMatch(/▸ migrate main/);
      expect(result.stdout).not.toMatch(/▸ build and deploy/);
      // Still v2, still healthy, data intact; the summary records why.
      expect((await production())?.version).toBe("v2");
      expect((await box.http("localhost", "/health")).status).toBe(200);
      expect(
        await box.sql(
          "main",
          async (sql) => (await sql`select count(*)::int as n from users`)[0]?.n as number,
        ),
      ).toBe(usersBefore);
      const { readFile } = await import("node:fs/promises");
      const summary = await readFile(`${box.stateDir}/envs/production/summary.md`, "utf8");
      expect(summary).toMatch(/main was not touched/);
    } finally {
      await box.sql("main", async (sql) => {
        for (const row of removed)
          await sql`insert into drizzle.__drizzle_migrations ${sql(row as Record<string, unknown>)}`;
      });
    }
  });

  it("refusals leave the state folder exactly as it was", async () => {
    const before = await box.snapshot();
    const elsewhere = { ...box.env, CODEX_PORT: String(box.port + 1) };
    const refusals: [string[], RegExp, NodeJS.ProcessEnv?][] = [
      [["rollback", "--to", "not-a-version"], /production has no version not-a-version/],
      [["rollback", "--pr", "404"], /preview-404 has no deployed version/],
      [["e2e", "--pr", "404"], /preview-404 is not deployed/],
      [["cleanup", "--stale", "--older-than", "soon"], /--older-than must look like/],
      [["preview-deploy", "--pr", "abc"], /--pr must be a positive integer/],
      // The host serves on another port: every command that would need it refuses up front.
      [["preview-deploy", "--pr", "3"], /already serves on port/, elsewhere],
      [["production-deploy"], /already serves on port/, elsewhere],
      [["rollback"], /already serves on port/, elsewhere],
      [["cleanup", "--pr", "3"], /already serves on port/, elsewhere],
    ];
    for (const [args, message, env] of refusals) {
      const result = await box.start(args, env).done;
      expect(result.code, `${args.join(" ")}\n${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(await box.snapshot(), `${args.join(" ")} changed the state folder`).toEqual(before);
    }
  });
});
