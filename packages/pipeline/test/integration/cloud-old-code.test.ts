/**
 * Old code on the new schema, on the cloud target: production-deploy and rollback from empty
 * state folders (fresh CI runners), through the real CLI and wrangler, against the recording
 * Cloudflare stub and the Neon stub on a real Postgres. Cloudflare gives back a version's release
 * tag, not its modules, so the release production serves is rebuilt from the commit its tag
 * names (release-build.ts) and served in workerd against a Neon scratch branch that has the
 * pending migrations. The commits are made in a copy of the checkout with a git history of its
 * own (copyCheckout), never in this one.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCloudflareStub, type CloudflareStub } from "../../src/testing/stubs/cloudflare";
import { startNeonOnPostgres, type NeonOnPostgres } from "../../src/testing/stubs/neon-postgres";
import { addMigration, copyCheckout, explain, runCommand, Sandbox, type CliResult } from "./cli";
import { cloudEnv } from "./cloud-env";

const secret = (prefix: string) => prefix + randomBytes(16).toString("hex");
const SESSION_SECRET = secret("session-");
const STRIPE_WEBHOOK_SECRET = secret("whsec_");

let parent: string;
let repo: string;
let box: Sandbox;
let cf: CloudflareStub;
let db: NeonOnPostgres;
/** The state folder of the last rollback: it keeps v1's build. */
let rollbackRunner: string;

/** Commits everything in the copy; gives the commit's id. */
async function commit(message: string): Promise<string> {
  const git = (...args: string[]) =>
    runCommand(
      "git",
      ["-c", "user.name=codex test", "-c", "user.email=test@codex.invalid", ...args],
      repo,
    );
  for (const args of [
    ["add", "-A"],
    ["commit", "--quiet", "-m", message],
  ]) {
    const result = await git(...args);
    if (result.code !== 0) throw new Error(`git ${args[0]} failed: ${explain(result)}`);
  }
  return (await git("rev-parse", "HEAD")).stdout.trim();
}

/** The CLI on the cloud target, deploying `sha`, in `stateDir` (a fresh one by default). */
async function cloud(args: string[], sha: string, stateDir?: string): Promise<CliResult> {
  const state = stateDir ?? (await mkdtemp(join(tmpdir(), "codex-cloud-old-code-")));
  await mkdir(join(state, "home"), { recursive: true });
  const env = cloudEnv({ cf, neon: db.neon }, state, {
    SESSION_SECRET,
    STRIPE_WEBHOOK_SECRET,
    GITHUB_SHA: sha,
  });
  return box.runWith(env, [...args, "--target", "cloud"]);
}

const usersColumns = async () =>
  (
    await db.query<{ column_name: string }>(
      "main",
      "select column_name from information_schema.columns where table_name = 'users'",
    )
  ).map((r) => r.column_name);
const WORKERS = [
  "auth-worker-production",
  "stripe-webhook-handler-production",
  "codex-web-production",
];
/** The release tag each Worker serves (past the versions a rollback's re-applied secrets made). */
const serving = () =>
  WORKERS.map((name) => {
    const script = cf.scripts.get(name);
    const live = script?.deployments.find((d) => d.annotations["workers/triggered_by"] !== "secret")
      ?.versions[0]?.version_id;
    return script?.versions.find((v) => v.id === live)?.annotations["workers/tag"];
  });

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), "codex-cloud-old-code-"));
  repo = await copyCheckout(parent, { install: true });
  const init = await runCommand("git", ["init", "--quiet", "--initial-branch=main"], repo);
  if (init.code !== 0) throw new Error(`git init failed: ${explain(init)}`);
  [cf, db] = await Promise.all([
    startCloudflareStub({ apiToken: secret("cf-token-") }),
    // The Workers tried run in workerd, which reaches the branches only by loopback, without TLS.
    startNeonOnPostgres({ apiKey: secret("napi_"), operationPolls: 0, loopbackUris: true }),
  ]);
  box = await Sandbox.create({ repo });
}, 600_000);

afterAll(async () => {
  await Promise.all([cf?.close(), db?.stop()]);
  await box?.dispose();
  if (parent) await rm(parent, { recursive: true, force: true });
});

describe("old code on the new schema (cloud target, fresh runners)", () => {
  it("rebuilds the live release from its commit, refuses a migration it does not survive, and refuses a rollback to it", async () => {
    const v1 = await commit("v1");
    const first = await cloud(["production-deploy"], v1);
    expect(first.code, explain(first)).toBe(0);
    expect(first.stdout).toMatch(/skipped \(no pending migration\)/);
    const v1Tags = serving();
    expect(v1Tags.every((t) => t?.startsWith(`codex-${v1.slice(0, 12)}-`))).toBe(true);

    // A rename of a column v1's code reads (approved for the gate: what refuses it is the check).
    await addMigration(
      repo,
      "0001_users_public_name",
      "-- codex:approve-destructive renaming-column: the old-code check must still refuse it\n" +
        `ALTER TABLE "users" RENAME COLUMN "display_name" TO "public_name";`,
    );
    const v2 = await commit("rename display_name");
    const runner = await mkdtemp(join(tmpdir(), "codex-cloud-old-code-"));
    const refused = await cloud(["production-deploy"], v2, runner);
    expect(refused.code, explain(refused)).toBe(2);
    expect(refused.stdout).toMatch(
      new RegExp(`get [0-9a-f.]+'s bundles \\([^)]*\\) — built from commit ${v1.slice(0, 12)}`),
    );
    expect(refused.stderr).toMatch(
      /the migrations 0001_users_public_name break the code production serves now/,
    );
    expect(refused.stderr).toMatch(
      /auth-worker-production: .*column "display_name" does not exist/,
    );
    expect(refused.stdout).not.toMatch(/▸ migrate main/);
    // Main untouched, production still on v1, no scratch branch left behind.
    expect(await usersColumns()).toContain("display_name");
    expect(serving()).toEqual(v1Tags);
    expect(db.neon.state.branches.map((b) => b.name)).toEqual([db.neon.main().name]);

    // The code moves to the new name and goes out knowingly; the same runner reuses v1's build.
    const schemaFile = join(repo, "packages", "database", "src", "schema", "users.ts");
    const source = await readFile(schemaFile, "utf8");
    await writeFile(schemaFile, source.replace('text("display_name")', 'text("public_name")'));
    const v3 = await commit("read public_name");
    const forced = await cloud(["production-deploy", "--allow-incompatible"], v3, runner);
    expect(forced.code, explain(forced)).toBe(0);
    expect(forced.stdout).toMatch(/\(allowed by --allow-incompatible\)/);
    expect(await usersColumns()).toContain("public_name");
    expect(serving().every((t) => t?.startsWith(`codex-${v3.slice(0, 12)}-`))).toBe(true);

    // A rollback from a runner that recorded nothing: Cloudflare names v1's release, its commit
    // has fewer migrations than main, and its code, rebuilt, fails on the renamed column.
    rollbackRunner = await mkdtemp(join(tmpdir(), "codex-cloud-old-code-"));
    const rollback = await cloud(["rollback"], v3, rollbackRunner);
    expect(rollback.code, explain(rollback)).toBe(2);
    expect(rollback.stdout).toMatch(new RegExp(`built from commit ${v1.slice(0, 12)}`));
    expect(rollback.stderr).toMatch(
      /rollback to [0-9a-f.]+ refused: it was built with 1 migrations/,
    );
    expect(rollback.stderr).toMatch(/column "display_name" does not exist/);
    expect(serving().every((t) => t?.startsWith(`codex-${v3.slice(0, 12)}-`))).toBe(true);

    const allowed = await cloud(["rollback", "--force-schema"], v3, rollbackRunner);
    expect(allowed.code, explain(allowed)).toBe(0);
    expect(allowed.stdout).toMatch(/\(allowed by --force-schema\)/);
    expect(serving()).toEqual(v1Tags);
  });

  it("a release deployed without a commit is reported as skipped, with the reason", async () => {
    await addMigration(
      repo,
      "0002_users_nickname",
      `ALTER TABLE "users" ADD COLUMN "nickname" text;`,
    );
    const head = await commit("nickname");
    // v1 is live again (forced), and does not survive the schema: going ahead knowingly, on the
    // runner that built v1 already.
    const local = await cloud(["production-deploy", "--allow-incompatible"], "", rollbackRunner);
    expect(local.code, explain(local)).toBe(0);
    await addMigration(repo, "0003_users_bio", `ALTER TABLE "users" ADD COLUMN "bio" text;`);
    await commit("bio");
    const next = await cloud(["production-deploy"], head);
    expect(next.code, explain(next)).toBe(0);
    expect(next.stdout).toMatch(
      /try the release production serves on the migrated schema: skipped \(release [0-9a-f.]+ was deployed without a commit/,
    );
  });
});
