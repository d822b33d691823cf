import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCloudflareStub, type CloudflareStub } from "../../testing/stubs/cloudflare";
import { deriveStack, loadStack, type DerivedStack } from "../../core/derive";
import { PRODUCTION, previewEnvironment } from "../../core/environments";
import { PipelineError } from "../../errors";
import { REPO_ROOT } from "../../state";
import {
  CloudflareWorkerPlatform,
  cloudflareFromEnv,
  runCommand,
  type CloudflareState,
  type CommandResult,
  type CommandRunner,
  wranglerBin,
} from "./cloudflare";

// Built at run time so that no scanner mistakes the fixtures for real credentials.
const token = (prefix: string) => prefix + randomBytes(12).toString("hex");
const PASSWORD = token("pw");
const DATABASE_URL = `postgres://app:${PASSWORD}@db.example.test:5432/pr_7`;
const SESSION_SECRET = token("session-");
const STRIPE_WEBHOOK_SECRET = token("whsec_");
const SECRETS = [DATABASE_URL, PASSWORD, SESSION_SECRET, STRIPE_WEBHOOK_SECRET];

const NAMES = ["auth-worker-preview-7", "stripe-webhook-handler-preview-7", "codex-web-preview-7"];
const WRANGLER_TIMEOUT = 180_000;

interface Call extends CommandResult {
  args: string[];
  cwd: string;
  /** The secrets file as wrangler found it: its mode and the names (never the values) inside. */
  secretsFile?: { path: string; mode: number; names: string[] };
  /** Whether any secret value was in the child's environment. */
  envLeak: boolean;
}

/** Wraps a runner, recording argv, output and the secrets file each call saw. */
function recording(inner: CommandRunner): { calls: Call[]; run: CommandRunner } {
  const calls: Call[] = [];
  const run: CommandRunner = async (command, args, options) => {
    const at = args.indexOf("--secrets-file");
    let secretsFile: Call["secretsFile"];
    if (at >= 0) {
      const path = args[at + 1] as string;
      const info = await stat(path);
      const names = Object.keys(JSON.parse(await readFile(path, "utf8")) as object);
      secretsFile = { path, mode: info.mode & 0o777, names };
    }
    const result = await inner(command, args, options);
    const envLeak = Object.values(options.env).some((v) => v !== undefined && SECRETS.includes(v));
    calls.push({ ...result, args: [command, ...args], cwd: options.cwd, secretsFile, envLeak });
    return result;
  };
  return { calls, run };
}

function leaks(text: string): string[] {
  return SECRETS.filter((secret) => text.includes(secret));
}

function bindings(stub: CloudflareStub, name: string): Record<string, unknown>[] {
  return (stub.scripts.get(name)?.metadata.bindings ?? []) as Record<string, unknown>[];
}

describe("CloudflareWorkerPlatform with real wrangler against a recording stub", () => {
  const environment = previewEnvironment("7");
  let stub: CloudflareStub;
  let dir: string;
  let stateFile: string;
  let stack: DerivedStack;
  let recorder: ReturnType<typeof recording>;
  let platform: CloudflareWorkerPlatform;
  const releases: string[] = [];

  beforeAll(async () => {
    stub = await startCloudflareStub();
    dir = await mkdtemp(join(tmpdir(), "codex-cloudflare-test-"));
    stateFile = join(dir, "state.json");
    stack = deriveStack(loadStack(REPO_ROOT), environment);
    recorder = recording(runCommand);
    platform = new CloudflareWorkerPlatform({
      apiToken: stub.apiToken,
      accountId: stub.accountId,
      apiBaseUrl: stub.url,
      stateFile,
      secrets: { SESSION_SECRET, STRIPE_WEBHOOK_SECRET },
      run: recorder.run,
    });
  });

  afterAll(async () => {
    await stub?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Every call, output and recorded request so far is free of secret values. */
  function expectNoLeaks(): void {
    for (const call of recorder.calls) {
      expect(leaks(call.args.join(" ")), `argv of ${call.args.join(" ")}`).toEqual([]);
      expect(leaks(call.stdout + call.stderr), `output of ${call.args.join(" ")}`).toEqual([]);
      expect(call.envLeak).toBe(false);
    }
    expect(leaks(JSON.stringify(stub.requests))).toEqual([]);
    const metadata = [...stub.scripts.values()].map((s) => [s.metadata, s.versions]);
    expect(leaks(JSON.stringify(metadata))).toEqual([]);
  }

  /** The secrets files of `calls` were 0600 while wrangler ran, and are gone with their folders. */
  function expectSecretsFilesGone(calls: Call[]): void {
    const files = calls.filter((c) => c.args.includes("deploy")).map((c) => c.secretsFile);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      expect(file?.mode).toBe(0o600);
      expect(file?.names).toContain("DATABASE_URL");
      expect(existsSync(file?.path as string)).toBe(false);
      expect(existsSync(dirname(file?.path as string))).toBe(false);
    }
  }

  it(
    "deploys a preview's three Workers, wired to each other, secrets only in the secrets store",
    async () => {
      const result = await platform.deploy(stack, { database: DATABASE_URL });
      releases.push(result.version);

      expect([...stub.scripts.keys()].sort()).toEqual([...NAMES].sort());
      const web = bindings(stub, "codex-web-preview-7");
      expect(web).toEqual(
        expect.arrayContaining([
          { name: "AUTH", type: "service", service: "auth-worker-preview-7" },
          { name: "WEBHOOK", type: "service", service: "stripe-webhook-handler-preview-7" },
          { name: "ASSETS", type: "assets" },
        ]),
      );
      for (const name of NAMES) {
        expect(bindings(stub, name)).toContainEqual({
          name: "ENVIRONMENT",
          type: "plain_text",
          text: "preview-7",
        });
        expect(stub.scripts.get(name)?.secrets.DATABASE_URL).toBe(DATABASE_URL);
      }
      expect(JSON.stringify([...stub.scripts.values()].map((s) => s.metadata))).not.toContain(
        "-production",
      );
      expect(stub.scripts.get("auth-worker-preview-7")?.secrets.SESSION_SECRET).toBe(
        SESSION_SECRET,
      );
      expect(stub.scripts.get("stripe-webhook-handler-preview-7")?.secrets).toEqual({
        DATABASE_URL,
        STRIPE_WEBHOOK_SECRET,
      });

      // New Workers: looked up (404), then created by a PUT, in deploy order.
      const puts = stub.requests.filter(
        (r) => r.method === "PUT" && /scripts\/[^/]+$/.test(r.path),
      );
      expect(puts.map((r) => r.path.split("/").at(-1))).toEqual(NAMES);
      for (const name of NAMES) {
        const lookup = stub.requests.find((r) => r.path.endsWith(`/workers/services/${name}`));
        expect(lookup?.status).toBe(404);
      }
      expect(stub.requests.some((r) => r.path.endsWith("/assets-upload-session"))).toBe(true);

      expectNoLeaks();
      expectSecretsFilesGone(recorder.calls);
      for (const call of recorder.calls) {
        expect(call.args.slice(0, 3)).toEqual([process.execPath, wranglerBin(), "deploy"]);
      }

      expect(result.version).toMatch(/^[0-9a-f]{8}\.[0-9a-f]{8}\.[0-9a-f]{8}$/);
      expect(result.urls.web).toBe(`https://codex-web-preview-7.${stub.subdomain}.workers.dev`);
      expect(platform.urls(environment)).toEqual(result.urls);
      const listed = await platform.list();
      expect(listed).toEqual([
        expect.objectContaining({ name: "preview-7", version: result.version, urls: result.urls }),
      ]);
      const state = JSON.parse(await readFile(stateFile, "utf8")) as CloudflareState;
      expect(state.records.map((r) => [r.environment, r.worker])).toEqual(
        NAMES.map((n) => ["preview-7", n]),
      );
      for (const record of state.records) {
        expect(record.versionId).toMatch(/^[0-9a-f-]{36}$/);
        expect(Date.parse(record.at)).not.toBeNaN();
      }
    },
    WRANGLER_TIMEOUT,
  );

  it(
    "deploys again in place: new versions of the same Workers, no new service",
    async () => {
      const before = stub.requests.length;
      const result = await platform.deploy(stack, { database: DATABASE_URL });
      releases.push(result.version);
      const since = stub.requests.slice(before);

      expect(since.filter((r) => r.method === "PUT" && /scripts\/[^/]+$/.test(r.path))).toEqual([]);
      const posted = (suffix: string) =>
        since
          .filter((r) => r.method === "POST" && r.path.endsWith(suffix))
          .map((r) => r.path.split("/").at(-2));
      expect(posted("/versions")).toEqual(NAMES);
      expect(posted("/deployments")).toEqual(NAMES);
      expect(stub.scripts.size).toBe(3);
      for (const name of NAMES) expect(stub.scripts.get(name)?.versions).toHaveLength(2);
      expect(result.version).not.toBe(releases[0]);
      expect((await platform.list())[0]?.versions).toEqual(releases);
      expectNoLeaks();
    },
    WRANGLER_TIMEOUT,
  );

  it(
    "rolls every Worker back to the versions the previous deploy recorded",
    async () => {
      const state = JSON.parse(await readFile(stateFile, "utf8")) as CloudflareState;
      const first = state.releases.find((r) => r.id === releases[0]);
      const calls = recorder.calls.length;
      const before = stub.requests.length;

      expect(await platform.rollback(environment)).toEqual({ from: releases[1], to: releases[0] });

      // Each Worker rolled back, then given its current secrets again (no value in argv).
      expect(recorder.calls.slice(calls).map((c) => c.args.slice(2, 4))).toEqual(
        first?.workers.flatMap((w) => [
          ["rollback", w.versionId],
          ["secret", "bulk"],
        ]),
      );
      expect(
        recorder.calls
          .slice(calls)
          .filter((c) => c.args[2] === "rollback")
          .map((c) => c.args.slice(2)),
      ).toEqual(
        first?.workers.map((w) => [
          "rollback",
          w.versionId,
          "--name",
          w.worker,
          "--message",
          "codex rollback",
          "--yes",
        ]),
      );
      const deployments = stub.requests
        .slice(before)
        .filter((r) => r.method === "POST" && r.path.endsWith("/deployments"));
      expect(deployments.map((r) => [r.path.split("/").at(-2), r.body])).toEqual(
        first?.workers.map((w) => [
          w.worker,
          {
            strategy: "percentage",
            versions: [{ version_id: w.versionId, percentage: 100 }],
            annotations: { "workers/message": "codex rollback" },
          },
        ]),
      );
      for (const w of first?.workers ?? []) {
        const [reapplied, rolledBack] = stub.scripts.get(w.worker)?.deployments ?? [];
        expect(rolledBack?.versions[0]?.version_id).toBe(w.versionId);
        // The secrets set again make a new version of the same code, deployed at once.
        expect(reapplied?.annotations["workers/triggered_by"]).toBe("secret");
        expect(stub.scripts.get(w.worker)?.secrets.SESSION_SECRET).toBe(
          w.kind === "auth" ? SESSION_SECRET : undefined,
        );
      }
      expect((await platform.list())[0]?.version).toBe(releases[0]);
    },
    WRANGLER_TIMEOUT,
  );

  it(
    "names the deployed and the failed Workers when web fails after the others, then converges",
    async () => {
      const calls = recorder.calls.length;
      // wrangler tries an upload three times before it gives up.
      stub.failNext({ method: "POST", path: /\/scripts\/codex-web-preview-7\/versions$/ }, 500, 3);

      const error = await platform.deploy(stack, { database: DATABASE_URL }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(PipelineError);
      const message = (error as PipelineError).message;
      expect(message).toContain(
        "deployed auth-worker-preview-7 and stripe-webhook-handler-preview-7; failed codex-web-preview-7",
      );
      expect((error as PipelineError).hint).toContain("Run the deploy again");
      expect(leaks(message)).toEqual([]);
      expectSecretsFilesGone(recorder.calls.slice(calls));
      // The last complete deploy is still the environment's version.
      expect((await platform.list())[0]?.version).toBe(releases[0]);

      const webVersions = stub.scripts.get("codex-web-preview-7")?.versions.length ?? 0;
      const result = await platform.deploy(stack, { database: DATABASE_URL });
      expect(stub.scripts.get("codex-web-preview-7")?.versions).toHaveLength(webVersions + 1);
      for (const name of NAMES) {
        const script = stub.scripts.get(name);
        expect(script?.deployments[0]?.versions[0]?.version_id).toBe(script?.versions.at(-1)?.id);
      }
      expect((await platform.list())[0]?.version).toBe(result.version);
      expectNoLeaks();
    },
    WRANGLER_TIMEOUT,
  );

  it(
    "publishes the e2e folder as an assets-only report Worker with no bindings and no secrets",
    async () => {
      const e2e = join(dir, "e2e");
      const png = randomBytes(64); // any bytes: images are uploaded as they are
      const files: Record<string, string | Buffer> = {
        "html/index.html": "<!doctype html><title>Playwright report</title>",
        "screenshots/home.png": png,
        "visual/preview/pricing-desktop.png": png,
        "visual/production/pricing-desktop.png": randomBytes(64),
        "visual/diff/pricing-desktop.png": randomBytes(64),
        "html/data/trace.zip": randomBytes(32),
      };
      for (const [file, content] of Object.entries(files)) {
        await mkdir(dirname(join(e2e, file)), { recursive: true });
        await writeFile(join(e2e, file), content);
      }
      const report = "codex-report-preview-7";

      const published = await platform.publishReport(environment, e2e, [DATABASE_URL]);
      expect(published.url).toBe(`https://${report}.${stub.subdomain}.workers.dev`);
      expect(published.skipped.map((s) => s.file)).toEqual(["html/data/trace.zip"]);
      const script = stub.scripts.get(report);
      expect(script?.metadata.main_module).toBeUndefined();
      expect(script?.metadata.bindings ?? []).toEqual([]);
      expect(script?.secrets).toEqual({});
      expect(script?.subdomain.enabled).toBe(true);
      const assets = stub.assetsOf(report);
      expect([...(assets?.keys() ?? [])].sort()).toEqual([
        "/e2e/html/index.html",
        "/e2e/screenshots/home.png",
        "/e2e/visual/diff/pricing-desktop.png",
        "/e2e/visual/preview/pricing-desktop.png",
        "/e2e/visual/production/pricing-desktop.png",
        "/index.html",
      ]);
      expect(assets?.get("/e2e/visual/preview/pricing-desktop.png")?.equals(png)).toBe(true);
      for (const [path, bytes] of assets ?? []) {
        expect(leaks(bytes.toString("latin1")), path).toEqual([]);
      }
      expectNoLeaks();

      // A file holding a secret (here the branch's password) is refused, and nothing is uploaded.
      await writeFile(join(e2e, "html", "leak.txt"), `connect with ${PASSWORD}`);
      const before = stub.requests.length;
      const refused = await platform.publishReport(environment, e2e, [DATABASE_URL]).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(PipelineError);
      expect((refused as Error).message).toContain("html/leak.txt holds a secret value");
      expect((refused as Error).message).not.toContain(PASSWORD);
      expect(stub.requests.slice(before)).toEqual([]);
      await rm(join(e2e, "html", "leak.txt"));
    },
    WRANGLER_TIMEOUT,
  );

  it(
    "deletes exactly the preview's Workers, and a second delete is a no-op",
    async () => {
      stub.seed("auth-worker-production");
      const before = stub.requests.length;

      expect(await platform.delete(environment)).toBe(true);
      const deletes = stub.requests.slice(before).filter((r) => r.method === "DELETE");
      expect(deletes.map((r) => [r.path.split("/").at(-1), r.query.force, r.status])).toEqual([
        ["codex-report-preview-7", "true", 200],
        ["codex-web-preview-7", "true", 200],
        ["stripe-webhook-handler-preview-7", "true", 200],
        ["auth-worker-preview-7", "true", 200],
      ]);
      expect([...stub.scripts.keys()]).toEqual(["auth-worker-production"]);
      // The preview is gone; production, deployed from elsewhere, is listed from Cloudflare.
      expect((await platform.list()).map((e) => e.name)).toEqual(["production"]);

      const again = stub.requests.length;
      expect(await platform.delete(environment)).toBe(false);
      const second = stub.requests.slice(again).filter((r) => r.method === "DELETE");
      expect(second.map((r) => r.status)).toEqual([404, 404, 404, 404]);
      expect([...stub.scripts.keys()]).toEqual(["auth-worker-production"]);
    },
    WRANGLER_TIMEOUT,
  );
});

/**
 * A CI runner remembers nothing: every call here uses a platform with a new, empty state file,
 * so that what Cloudflare itself says is all there is.
 */
describe("CloudflareWorkerPlatform on fresh runners (an empty state folder for each call)", () => {
  const environment = PRODUCTION;
  const stack = deriveStack(loadStack(REPO_ROOT), environment);
  const COMMIT = "0123456789abcdef0123456789abcdef01234567";
  const WEBHOOK = "stripe-webhook-handler-production";
  const PROD = ["auth-worker-production", WEBHOOK, "codex-web-production"];
  const s1 = token("session-one-");
  const s2 = token("session-two-");
  const s3 = token("session-three-");
  const stripeKey = token("sk_test_");
  let stub: CloudflareStub;
  let dir: string;
  /** Each release, in deploy order: its id and tag. */
  const releases: { id: string; tag: string }[] = [];

  beforeAll(async () => {
    stub = await startCloudflareStub();
    dir = await mkdtemp(join(tmpdir(), "codex-cloudflare-fresh-"));
  });
  afterAll(async () => {
    await stub?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A platform as a new runner has it: no state file, these secrets. */
  async function fresh(secrets: Record<string, string>): Promise<CloudflareWorkerPlatform> {
    return new CloudflareWorkerPlatform({
      apiToken: stub.apiToken,
      accountId: stub.accountId,
      apiBaseUrl: stub.url,
      stateFile: join(await mkdtemp(join(dir, "runner-")), "cloudflare.json"),
      commit: COMMIT,
      secrets,
    });
  }

  /** The release tag of the version each Worker serves, secret changes aside. */
  function servedTags(): (string | undefined)[] {
    return PROD.map((name) => {
      const script = stub.scripts.get(name);
      const deployment = script?.deployments.find(
        (d) => d.annotations["workers/triggered_by"] !== "secret",
      );
      const id = deployment?.versions[0]?.version_id;
      return script?.versions.find((v) => v.id === id)?.annotations["workers/tag"];
    });
  }

  const newestTagged = (name: string, tag: string) =>
    stub.scripts.get(name)?.versions.findLast((v) => v.annotations["workers/tag"] === tag);

  it(
    "tags every Worker of a deploy with one release tag and the commit, and deletes an optional secret no longer provided",
    async () => {
      const runs: Record<string, string>[] = [
        { SESSION_SECRET: s1, STRIPE_WEBHOOK_SECRET: "whsec_1", STRIPE_SECRET_KEY: stripeKey },
        { SESSION_SECRET: s2, STRIPE_WEBHOOK_SECRET: "whsec_1" },
      ];
      for (const secrets of runs) {
        const result = await (await fresh(secrets)).deploy(stack, { database: DATABASE_URL });
        const tags = PROD.map(
          (n) => stub.scripts.get(n)?.versions.at(-1)?.annotations["workers/tag"],
        );
        expect(new Set(tags).size, tags.join(", ")).toBe(1);
        expect(tags[0]).toMatch(/^codex-0123456789ab-\d{8}T\d{9}Z$/);
        for (const name of PROD) {
          expect(stub.scripts.get(name)?.versions.at(-1)?.annotations["workers/message"]).toBe(
            "codex deploy of 0123456789ab",
          );
        }
        releases.push({ id: result.version, tag: tags[0] as string });
      }
      expect(stub.scripts.get(WEBHOOK)?.secrets.STRIPE_SECRET_KEY).toBeUndefined();
      // Deleted before the deploy: the release's own version does not hold it either.
      const second = newestTagged(WEBHOOK, releases[1]?.tag as string);
      expect(stub.secretsOf(WEBHOOK, second?.id as string)).not.toHaveProperty("STRIPE_SECRET_KEY");
      const deletes = stub.requests.filter((r) => r.method === "DELETE");
      expect(deletes.map((r) => r.path.split("/").slice(-3).join("/"))).toEqual([
        `${WEBHOOK}/secrets/STRIPE_SECRET_KEY`,
        "codex-web-production/secrets/STRIPE_SECRET_KEY",
      ]);
    },
    3 * WRANGLER_TIMEOUT,
  );

  it(
    "rolls back by release with the current secrets; a second rollback goes further back, never to the bad release",
    async () => {
      expect(releases).toHaveLength(2);
      // The bad release, with a rotated session secret.
      const current = { SESSION_SECRET: s3, STRIPE_WEBHOOK_SECRET: "whsec_1" };
      const bad = await (await fresh(current)).deploy(stack, { database: DATABASE_URL });
      const [r0, r1] = releases as [{ id: string; tag: string }, { id: string; tag: string }];

      expect(await (await fresh(current)).live(environment)).toBe(
        PROD.map((n) => stub.scripts.get(n)?.deployments[0]?.versions[0]?.version_id).join("."),
      );

      const first = await (await fresh(current)).rollback(environment);
      expect(first).toEqual({ from: bad.version, to: r1.id });
      expect(servedTags()).toEqual([r1.tag, r1.tag, r1.tag]);
      // r1's version holds s2; the Worker holds the current s3 again.
      const auth = "auth-worker-production";
      expect(stub.secretsOf(auth, newestTagged(auth, r1.tag)?.id as string)?.SESSION_SECRET).toBe(
        s2,
      );
      expect(stub.scripts.get(auth)?.secrets.SESSION_SECRET).toBe(s3);

      // A rollback is a deployment too: the next one still goes back, to r0, not forward to bad.
      const second = await (await fresh(current)).rollback(environment);
      expect(second).toEqual({ from: r1.id, to: r0.id });
      expect(servedTags()).toEqual([r0.tag, r0.tag, r0.tag]);
      expect(stub.scripts.get(auth)?.secrets.SESSION_SECRET).toBe(s3);
      // r0's version had the Stripe key, which is unset now: it is taken off again.
      expect(stub.secretsOf(WEBHOOK, newestTagged(WEBHOOK, r0.tag)?.id as string)).toHaveProperty(
        "STRIPE_SECRET_KEY",
      );
      expect(stub.scripts.get(WEBHOOK)?.secrets).not.toHaveProperty("STRIPE_SECRET_KEY");

      const none = await (
        await fresh(current)
      )
        .rollback(environment)
        .catch((e: unknown) => e as PipelineError);
      expect(none).toMatchObject({ code: "NO_PREVIOUS_VERSION", kind: "user" });
      expect(servedTags()).toEqual([r0.tag, r0.tag, r0.tag]);
    },
    3 * WRANGLER_TIMEOUT,
  );
});

describe("CloudflareWorkerPlatform without wrangler", () => {
  const environment = previewEnvironment("7");
  const stack = deriveStack(loadStack(REPO_ROOT), environment);
  const VERSION = "Current Version ID: 0f0f0f0f-1111-4222-8333-444444444444\n";
  let dir: string;
  // The API calls the platform makes itself (an optional secret to delete?) reach a stub.
  let api: CloudflareStub;
  const account = () => ({ apiToken: api.apiToken, accountId: api.accountId, apiBaseUrl: api.url });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "codex-cloudflare-unit-"));
    api = await startCloudflareStub();
  });
  afterAll(async () => {
    await api?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A runner that answers like a successful deploy, keeping each secrets file's content. */
  function fakeWrangler(code = 0) {
    const seen: { args: readonly string[]; secrets?: Record<string, string> }[] = [];
    const run: CommandRunner = async (_command, args) => {
      const at = args.indexOf("--secrets-file");
      const secrets =
        at >= 0
          ? (JSON.parse(await readFile(args[at + 1] as string, "utf8")) as Record<string, string>)
          : undefined;
      seen.push({ args, ...(secrets ? { secrets } : {}) });
      return { code, stdout: code === 0 ? VERSION : "", stderr: code === 0 ? "" : "boom" };
    };
    return { seen, run };
  }

  it("refuses a missing CLOUDFLARE_API_TOKEN or CLOUDFLARE_ACCOUNT_ID by name", () => {
    for (const [env, missing] of [
      [{ CLOUDFLARE_ACCOUNT_ID: "a" }, "CLOUDFLARE_API_TOKEN"],
      [{ CLOUDFLARE_API_TOKEN: "t" }, "CLOUDFLARE_ACCOUNT_ID"],
    ] as const) {
      let error: unknown;
      try {
        cloudflareFromEnv(env);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(PipelineError);
      expect(error).toMatchObject({ code: "INVALID_ARGUMENT", kind: "user" });
      expect((error as Error).message).toContain(missing);
    }
  });

  it("reads each secret from NAME_<KIND> before NAME, and fails before any upload when one is missing", async () => {
    const fake = fakeWrangler();
    const env = {
      CLOUDFLARE_API_TOKEN: api.apiToken,
      CLOUDFLARE_ACCOUNT_ID: api.accountId,
      CLOUDFLARE_API_BASE_URL: api.url,
      CLOUDFLARE_WORKERS_SUBDOMAIN: "acme",
      SESSION_SECRET: "generic-session",
      SESSION_SECRET_PREVIEW: "preview-session",
      STRIPE_WEBHOOK_SECRET_PRODUCTION: "production-only",
    };
    const overrides = {
      stateFile: join(dir, "env.json"),
      run: fake.run,
      withWebBuild: <T>(_stack: DerivedStack, deploy: () => Promise<T>) => deploy(),
    };
    const error = await cloudflareFromEnv(env, overrides)
      .deploy(stack, { database: DATABASE_URL })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toMatchObject({ code: "INVALID_ARGUMENT" });
    expect((error as Error).message).toContain("STRIPE_WEBHOOK_SECRET");
    expect(fake.seen).toEqual([]);

    const platform = cloudflareFromEnv({ ...env, STRIPE_WEBHOOK_SECRET: "shared" }, overrides);
    const result = await platform.deploy(stack, { database: DATABASE_URL });
    expect(fake.seen.map((s) => s.secrets)).toEqual([
      { DATABASE_URL, SESSION_SECRET: "preview-session" },
      { DATABASE_URL, STRIPE_WEBHOOK_SECRET: "shared" },
      { DATABASE_URL, STRIPE_WEBHOOK_SECRET: "shared" },
    ]);
    expect(result.urls.auth).toBe("https://auth-worker-preview-7.acme.workers.dev");
  });

  it("a rollback that fails halfway names what it did, and the next one finishes the rest", async () => {
    let deploys = 0;
    const rollbacks: string[] = [];
    let failNextRollbackOf: string | undefined;
    const platform = new CloudflareWorkerPlatform({
      ...account(),
      workersSubdomain: "acme",
      stateFile: join(dir, "halfway.json"),
      secrets: { SESSION_SECRET, STRIPE_WEBHOOK_SECRET },
      withWebBuild: <T>(_stack: DerivedStack, deploy: () => Promise<T>) => deploy(),
      run: async (_command, args) => {
        if (args.includes("deploy")) {
          const id = (++deploys).toString(16).padStart(8, "0");
          return {
            code: 0,
            stdout: `Current Version ID: ${id}-1111-4222-8333-444444444444\n`,
            stderr: "",
          };
        }
        // After each rollback, the current secrets again: `secret bulk`.
        if (!args.includes("rollback")) return { code: 0, stdout: "", stderr: "" };
        const name = args[args.indexOf("--name") + 1] as string;
        if (name === failNextRollbackOf) {
          failNextRollbackOf = undefined;
          return {
            code: 1,
            stdout: "",
            stderr: "✘ [ERROR] A request to the Cloudflare API failed.",
          };
        }
        rollbacks.push(name);
        return { code: 0, stdout: "", stderr: "" };
      },
    });
    const first = await platform.deploy(stack, { database: DATABASE_URL });
    await platform.deploy(stack, { database: DATABASE_URL });

    failNextRollbackOf = "stripe-webhook-handler-preview-7";
    const error = await platform.rollback(environment).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PipelineError);
    expect((error as Error).message).toContain(
      `rolling back preview-7 to ${first.version} stopped at stripe-webhook-handler-preview-7: ` +
        "rolled back auth-worker-preview-7; failed stripe-webhook-handler-preview-7; " +
        "not attempted codex-web-preview-7",
    );
    expect(rollbacks).toEqual(["auth-worker-preview-7"]);

    // The next run skips auth, already there, and finishes the other two.
    expect(await platform.rollback(environment, first.version)).toMatchObject({
      to: first.version,
    });
    expect(rollbacks).toEqual([
      "auth-worker-preview-7",
      "stripe-webhook-handler-preview-7",
      "codex-web-preview-7",
    ]);
    expect((await readFile(join(dir, "halfway.json"), "utf8")).includes(first.version)).toBe(true);
  });

  it("deletes an optional secret no longer provided from a Worker that holds it, before that Worker's deploy", async () => {
    const webhook = "stripe-webhook-handler-preview-7";
    api.seed(webhook);
    // As `wrangler secret put` would have left it on an earlier run.
    const put = await fetch(
      `${api.url}/accounts/${api.accountId}/workers/scripts/${webhook}/secrets`,
      {
        method: "PUT",
        headers: { authorization: `Bearer ${api.apiToken}`, "content-type": "application/json" },
        body: JSON.stringify({
          name: "STRIPE_SECRET_KEY",
          text: token("sk_test_"),
          type: "secret_text",
        }),
      },
    );
    expect(put.status).toBe(200);
    const events: string[] = [];
    const fake = fakeWrangler();
    const before = api.requests.length;
    const platform = new CloudflareWorkerPlatform({
      ...account(),
      stateFile: join(dir, "stale.json"),
      secrets: { SESSION_SECRET, STRIPE_WEBHOOK_SECRET },
      withWebBuild: <T>(_stack: DerivedStack, deploy: () => Promise<T>) => deploy(),
      run: async (command, args, options) => {
        events.push(`deploy ${args[args.indexOf("--config") + 1]?.split("/").at(-1) ?? ""}`);
        return fake.run(command, args, options);
      },
    });
    const deletes = () =>
      api.requests
        .slice(before)
        .filter((r) => r.method === "DELETE")
        .map((r) => r.path.split("/").slice(-3).join("/"));
    const original = api.requests.push.bind(api.requests);
    api.requests.push = (...items) => {
      for (const r of items)
        if (r.method === "DELETE") events.push(`delete ${r.path.split("/").at(-1) ?? ""}`);
      return original(...items);
    };
    try {
      await platform.deploy(stack, { database: DATABASE_URL });
    } finally {
      api.requests.push = original;
    }
    expect(api.scripts.get(webhook)?.secrets).not.toHaveProperty("STRIPE_SECRET_KEY");
    expect(deletes()).toEqual([`${webhook}/secrets/STRIPE_SECRET_KEY`]);
    expect(events).toEqual([
      "deploy auth.json",
      "delete STRIPE_SECRET_KEY",
      "deploy webhook.json",
      "deploy web.json",
    ]);
  });

  it("sets each rolled-back Worker's current secrets again, from a 0600 file that is then gone", async () => {
    const rotated = token("session-rotated-");
    const bulk: { name: string; mode: number; secrets: Record<string, string>; file: string }[] =
      [];
    const fake = fakeWrangler();
    const options = {
      ...account(),
      stateFile: join(dir, "reapply.json"),
      withWebBuild: <T>(_stack: DerivedStack, deploy: () => Promise<T>) => deploy(),
      run: (async (command, args, runOptions) => {
        if (args.includes("bulk")) {
          const file = args[args.indexOf("bulk") + 1] as string;
          bulk.push({
            name: args[args.indexOf("--name") + 1] as string,
            mode: (await stat(file)).mode & 0o777,
            secrets: JSON.parse(await readFile(file, "utf8")) as Record<string, string>,
            file,
          });
          return { code: 0, stdout: "", stderr: "" };
        }
        if (args.includes("rollback")) return { code: 0, stdout: "", stderr: "" };
        const result = await fake.run(command, args, runOptions);
        // A new version id per deploy.
        const n = fake.seen.length.toString(16).padStart(8, "0");
        return { ...result, stdout: result.stdout.replace("0f0f0f0f", n) };
      }) as CommandRunner,
    };
    const old = new CloudflareWorkerPlatform({
      ...options,
      secrets: { SESSION_SECRET, STRIPE_WEBHOOK_SECRET },
    });
    const first = await old.deploy(stack, { database: DATABASE_URL });
    await old.deploy(stack, { database: DATABASE_URL });
    const now = new CloudflareWorkerPlatform({
      ...options,
      secrets: { SESSION_SECRET: rotated, STRIPE_WEBHOOK_SECRET },
    });
    expect(await now.rollback(environment)).toMatchObject({ to: first.version });
    expect(bulk.map(({ name, mode, secrets }) => ({ name, mode, secrets }))).toEqual([
      { name: "auth-worker-preview-7", mode: 0o600, secrets: { SESSION_SECRET: rotated } },
      { name: "stripe-webhook-handler-preview-7", mode: 0o600, secrets: { STRIPE_WEBHOOK_SECRET } },
      { name: "codex-web-preview-7", mode: 0o600, secrets: { STRIPE_WEBHOOK_SECRET } },
    ]);
    for (const { file } of bulk) expect(existsSync(dirname(file))).toBe(false);
  });

  it("checkSecrets names a missing secret before anything runs, and counts supplied ones", async () => {
    const fake = fakeWrangler();
    const platform = new CloudflareWorkerPlatform({
      ...account(),
      stateFile: join(dir, "check.json"),
      secrets: { SESSION_SECRET },
      run: fake.run,
    });
    await expect(platform.checkSecrets(stack)).rejects.toThrow(
      "STRIPE_WEBHOOK_SECRET is not set: stripe-webhook-handler-preview-7 needs it, and nothing was created",
    );
    await expect(platform.checkSecrets(stack, ["STRIPE_WEBHOOK_SECRET"])).resolves.toBeUndefined();
    expect(fake.seen).toEqual([]);
  });

  it("refuses a malformed --to on a machine with no record, before calling wrangler", async () => {
    const fake = fakeWrangler();
    const platform = new CloudflareWorkerPlatform({
      ...account(),
      stateFile: join(dir, "none.json"),
      run: fake.run,
    });
    const error = await platform.rollback(environment, "v3").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "INVALID_ARGUMENT", kind: "user" });
    expect((error as Error).message).toContain(
      '--to must be 3 version prefixes joined by dots, as deploys print them, or a release tag (got "v3")',
    );
    expect(fake.seen).toEqual([]);
  });

  it("removes the secrets file when wrangler fails, and says nothing was deployed", async () => {
    const fake = fakeWrangler(1);
    const files: string[] = [];
    const platform = new CloudflareWorkerPlatform({
      ...account(),
      stateFile: join(dir, "failing.json"),
      secrets: { SESSION_SECRET, STRIPE_WEBHOOK_SECRET },
      run: async (command, args, options) => {
        files.push(args[args.indexOf("--secrets-file") + 1] as string);
        return fake.run(command, args, options);
      },
    });
    const error = await platform.deploy(stack, { database: DATABASE_URL }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error).message).toContain(
      "deployed none; failed auth-worker-preview-7; not attempted stripe-webhook-handler-preview-7 and codex-web-preview-7",
    );
    expect(files).toHaveLength(1);
    expect(existsSync(files[0] as string)).toBe(false);
    // Nothing was recorded as deployed: no state file was even written.
    expect(existsSync(join(dir, "failing.json"))).toBe(false);
  });
});
