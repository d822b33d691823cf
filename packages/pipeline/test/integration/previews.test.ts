import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "./cli";

let box: Sandbox;
// Everything the CLI printed in this file, scanned for secret values at the end.
const printed: string[] = [];
const run = async (...args: string[]) => {
  const result = await box.run(...args);
  printed.push(result.stdout, result.stderr);
  return result;
};
beforeAll(async () => {
  box = await Sandbox.create();
});
afterAll(async () => {
  await box?.dispose();
});

const PASSWORD = "correct horse battery";

describe("bad input", () => {
  it.each([
    [["preview-deploy", "--pr", "0"], /--pr must be a positive integer \(got "0"\)/],
    [["preview-deploy", "--pr", "abc"], /--pr must be a positive integer \(got "abc"\)/],
    [["preview-deploy", "--pr", "1;drop"], /--pr must be a positive integer \(got "1;drop"\)/],
    [["preview-deploy", "--pr", "99999999999999999999"], /--pr must be a positive integer/],
    [["preview-deploy"], /preview-deploy needs --pr N/],
    [["preview-deploy", "--pr", "1", "--colour"], /Unknown option '--colour'/],
    [["cleanup"], /cleanup needs --pr N or --stale/],
    [["cleanup", "--stale", "--older-than", "soon"], /--older-than must look like/],
    [["deploy-everything"], /unknown command "deploy-everything"/],
    [["preview-deploy", "--pr", "1", "--target", "mars"], /--target must be local or cloud/],
    [["rollback", "--to", "not-a-version"], /production has no deployed version/],
    [["rollback", "--pr", "2"], /preview-2 has no deployed version/],
  ])("%j exits 2 with a message naming the problem, creating nothing", async (args, message) => {
    const result = await box.run(...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace for a user error
  });

  it("left nothing behind: no host was started, no environment recorded", async () => {
    expect(await box.snapshot()).toEqual({});
    // Stopping a host that never ran succeeds, and creates nothing either.
    const stopped = await box.run("stop");
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toMatch(/not running: nothing to stop/);
    expect(await box.snapshot()).toEqual({});
    const status = await box.status();
    expect(status.host.running).toBe(false);
    expect(status.environments).toEqual([]);
  });
});

describe("two previews side by side", () => {
  it("deploys pr-1 and pr-2 at the same time", async () => {
    const [one, two] = await Promise.all([
      run("preview-deploy", "--pr", "1", "--skip-tests"),
      run("preview-deploy", "--pr", "2", "--skip-tests"),
    ]);
    expect(one.code, one.stderr).toBe(0);
    expect(two.code, two.stderr).toBe(0);
    expect(one.stdout).toContain(`web      http://pr-1.localhost:${box.port}`);
    expect(one.stdout).toMatch(/✓ preview-1 deployed in/);
    const status = await box.status();
    expect(status.environments.map((e) => [e.name, e.live, e.branch])).toEqual([
      ["preview-1", true, "pr_1"],
      ["preview-2", true, "pr_2"],
    ]);
  });

  it("serves each preview's health from its own environment", async () => {
    for (const pr of [1, 2]) {
      for (const host of [`pr-${pr}`, `pr-${pr}-auth`, `pr-${pr}-webhook`]) {
        const res = await box.http(`${host}.localhost`, "/health");
        expect(res.status).toBe(200);
        expect(JSON.parse(res.body)).toMatchObject({ environment: `preview-${pr}` });
      }
    }
  });

  it("wiring: pr-1's web reaches pr-1's auth, proven by data", async () => {
    // An account made directly on pr-1's auth Worker exists only in pr-1's database.
    const email = `wired-${Date.now()}@example.com`;
    const created = await box.http("pr-1-auth.localhost", "/signup", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(created.status).toBe(201);
    // pr-1's web can log it in: its AUTH binding reaches pr-1's auth Worker...
    const viaPr1 = await box.submit("pr-1.localhost", "/login", { email, password: PASSWORD });
    expect(viaPr1.status).toBe(303);
    expect(viaPr1.headers.location).toBe("/account");
    // ...and pr-2's web cannot: its binding reaches pr-2's auth, whose database never saw it.
    const viaPr2 = await box.submit("pr-2.localhost", "/login", { email, password: PASSWORD });
    expect(viaPr2.status).toBe(401);
  });

  it("isolation: a user who signs up on pr-1 exists neither on pr-2 nor on main", async () => {
    const email = `isolated-${Date.now()}@example.com`;
    const signup = await box.submit("pr-1.localhost", "/signup", { email, password: PASSWORD });
    expect(signup.status).toBe(303);
    const count = (db: string) =>
      box.sql(
        db,
        async (sql) =>
          (await sql`select count(*)::int as n from users where email = ${email}`)[0]?.n as number,
      );
    expect(await count("pr_1")).toBe(1);
    expect(await count("pr_2")).toBe(0);
    expect(await count("main")).toBe(0);
  });

  it("branches start as copies of main (its seeded demo users)", async () => {
    const demo = (db: string) =>
      box.sql(
        db,
        async (sql) =>
          (
            await sql`select count(*)::int as n from users where email like '%@example.com' and email in ('ada@example.com','grace@example.com')`
          )[0]?.n as number,
      );
    expect(await demo("pr_2")).toBe(2);
  });

  it("an unknown host gets a 404 page listing the live environments", async () => {
    const res = await box.http("pr-999.localhost", "/");
    expect(res.status).toBe(404);
    expect(res.body).toContain("preview-1");
    expect(res.body).toContain("preview-2");
  });

  it("re-running a deploy updates in place and keeps the branch's data", async () => {
    const again = await run("preview-deploy", "--pr", "1", "--skip-tests");
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/pr_1 reused/);
    const users = await box.sql(
      "pr_1",
      async (sql) =>
        (await sql`select count(*)::int as n from users where email like 'isolated-%'`)[0]
          ?.n as number,
    );
    expect(users).toBe(1);
    const rebuilt = await run("preview-deploy", "--pr", "1", "--skip-tests", "--rebuild");
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    const status = await box.status();
    expect(status.environments.find((e) => e.name === "preview-1")?.version).toBe("v2");
  });

  it("keeps secrets out of every output, log, summary and state file but their own", async () => {
    const { readFile, readdir, stat } = await import("node:fs/promises");
    const { join } = await import("node:path");
    const secretsFile = join(box.stateDir, "envs", "preview-1", "secrets.json");
    expect((await stat(secretsFile)).mode & 0o777).toBe(0o600);
    const secrets = Object.values(
      JSON.parse(await readFile(secretsFile, "utf8")) as Record<string, string>,
    );
    expect(secrets.length).toBeGreaterThanOrEqual(2);
    printed.push((await run("status")).stdout);
    const files: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (entry.name !== "pg") await walk(path); // the database itself holds session hashes, not secrets
        } else if (entry.name !== "secrets.json" && /\.(json|md|html|log|js)$/.test(entry.name)) {
          files.push(path);
        }
      }
    };
    await walk(box.stateDir);
    expect(files.some((f) => f.endsWith("summary.html"))).toBe(true);
    expect(files.some((f) => f.endsWith("host.log"))).toBe(true);
    const haystacks = [...printed, ...(await Promise.all(files.map((f) => readFile(f, "utf8"))))];
    for (const secret of secrets) {
      const hits = haystacks.filter((text) => text.includes(secret)).length;
      expect(hits, "a secret value leaked").toBe(0);
    }
  });

  it("cleanup removes the database and the routes, and a second cleanup is a no-op", async () => {
    const first = await box.run("cleanup", "--pr", "1");
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/removed preview-1/);
    expect(await box.databases()).not.toContain("pr_1");
    const res = await box.http("pr-1.localhost", "/health", {
      headers: { accept: "application/json" },
    });
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toMatchObject({ error: "unknown_host" });
    const second = await box.run("cleanup", "--pr", "1");
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/nothing to remove/);
    // pr-2 is untouched.
    expect((await box.http("pr-2.localhost", "/health")).status).toBe(200);
    expect(await box.databases()).toContain("pr_2");
  });
});
