/**
 * codex's pipeline as Dagger functions. Each one runs the pipeline CLI of packages/pipeline
 * (`pnpm <command>`, the same flags) in a container built by `base()`, so that
 * `dagger call preview-deploy --pr 123 ...` does on a laptop and in a GitHub workflow what
 * `pnpm preview-deploy --pr 123 --target cloud` does on a host. The logic stays in the CLI; this
 * module only supplies containers, caches, secrets and services.
 */
import {
  argument,
  dag,
  func,
  object,
  ReturnType,
  type Container,
  type Directory,
  type Secret,
  type Service,
} from "@dagger.io/dagger";

/**
 * Left out of the source: what .gitignore leaves out (installed and generated files, builds,
 * coverage, logs, local state, local secrets files: credentials enter a container only as
 * Dagger secrets), the folders the workflows and docs export to, this module (editing it must
 * not invalidate the source), and git. A defaultPath does not read .gitignore, so anything left
 * here re-uploads, and busts the source layer, when it changes.
 */
const SOURCE_IGNORE = [
  "**/node_modules",
  "**/dist",
  "**/coverage",
  "**/*.log",
  "**/.svelte-kit",
  "**/.wrangler",
  ".codex",
  ".dagger",
  ".git",
  "reports",
  "e2e-report",
  "preview",
  "**/.env",
  "**/.env.*",
  "**/.dev.vars",
];

/** Node 20 (package.json's engines asks for >=20.19), pinned to a patch release. */
const NODE_IMAGE = "node:20.20.2-bookworm-slim";
/**
 * The browser layer of e2e, on that same image (one Node everywhere: Playwright's image ships
 * its own Node): Debian's Chromium, the browser apps/web/playwright.config.ts runs on a host
 * (`apt-get install -y chromium`, CHROMIUM_PATH). Before the lockfile, so it stays cached.
 */
const CHROMIUM_LAYER = [
  "sh",
  "-c",
  "set -eu; apt-get update; apt-get install -y --no-install-recommends chromium; " +
    "rm -rf /var/lib/apt/lists/*; chromium --version",
];
/** git, for rebuilding a release from its commit (the image has none). */
const GIT_LAYER = [
  "sh",
  "-c",
  "set -eu; apt-get update; apt-get install -y --no-install-recommends git; " +
    "rm -rf /var/lib/apt/lists/*; git --version",
];
/** The major version of the embedded server that the tests use everywhere else. */
const POSTGRES_IMAGE = "postgres:18.4-alpine";
/** package.json's packageManager. npm installs it: corepack's download fails on Node 20 here. */
const PNPM_VERSION = "10.34.9";

const WORKDIR = "/src";
const PNPM_STORE = "/pnpm-store";
/** CODEX_STATE_DIR: every deploy leaves envs/<environment>/summary.json and summary.md here. */
const STATE_DIR = `${WORKDIR}/.codex`;
/** Where `pnpm e2e` writes its report: html/, screenshots/ and results.json. */
const E2E_REPORT = `${WORKDIR}/reports/e2e`;
/** The local target's one port; `serve` listens on it. */
const PORT = 8787;
/** Where Debian's chromium package puts the browser; the pipeline's CHROMIUM_PATH. */
const CHROMIUM = "/usr/bin/chromium";

/**
 * The lockfile layer: all that `pnpm fetch` reads (https://pnpm.io/cli/fetch: it needs only the
 * lockfile; the workspace file holds settings that change what is fetched, such as
 * onlyBuiltDependencies, and .npmrc the registry). No package.json: editing a script must not
 * re-run the download. An unchanged lockfile keeps this layer, and the store, cached.
 */
const LOCKFILE_LAYER = ["pnpm-lock.yaml", "pnpm-workspace.yaml", ".npmrc"];

/**
 * The `postgres` service of `test`. It lives for one call and only this container reaches it,
 * so its password is a constant, not a secret. The tests create codex_test_* databases on it.
 */
const TEST_SERVER_URL = "postgres://postgres:codex-test@postgres:5432/postgres";

/**
 * Set to the time of the call before the command of a never-cached function runs: "never"
 * only re-runs the function, and an exec whose inputs did not change would still be a cache hit.
 */
const INVOCATION = "CODEX_INVOCATION";

/** What `envs/<environment>/summary.json` holds that this module reads (the pipeline's Summary). */
interface DeploySummary {
  urls: { web: string; auth: string; webhook: string } | null;
  database: { branch: string } | null;
}

type Flags = Record<string, string | number | boolean | undefined | null>;

/** CLI flags from values: `--name` for true, `--name value` for a string or number. */
function flags(values: Flags): string[] {
  return Object.entries(values).flatMap(([name, value]) => {
    if (value === true) return [`--${name}`];
    if (typeof value === "string" || typeof value === "number") return [`--${name}`, `${value}`];
    return [];
  });
}

/**
 * A Node script that exits 0 when pull request pr's local preview answers on its web page:
 * GET /health (the web Worker, its database and its sibling Workers) at 200, reached as a
 * browser reaches http://pr-<pr>.localhost:8787, by Host header on 127.0.0.1 (Node's fetch
 * replaces a Host header, so node:http, as the pipeline's smoke checks do).
 */
function webHealthCheck(pr: number): string {
  const request = { host: "127.0.0.1", port: PORT, path: "/health" };
  const host = `pr-${pr}.localhost:${PORT}`;
  return (
    `require("node:http").get({...${JSON.stringify(request)},headers:{host:${JSON.stringify(host)}},timeout:8000},` +
    `(res)=>process.exit(res.statusCode===200?0:1)).on("error",()=>process.exit(1))` +
    `.on("timeout",()=>process.exit(1));`
  );
}

/** The module's cloud settings, which every cloud function needs, by the variable the CLI reads. */
const CLOUD_SETTINGS = {
  CLOUDFLARE_API_TOKEN: "cloudflareApiToken",
  CLOUDFLARE_ACCOUNT_ID: "cloudflareAccountId",
  CLOUDFLARE_WORKERS_SUBDOMAIN: "cloudflareWorkersSubdomain",
  NEON_API_KEY: "neonApiKey",
  NEON_PROJECT_ID: "neonProjectId",
} as const;

/** A cloud command's environment by variable name: a Secret, or a plain setting. */
type CloudEnv = Record<string, Secret | string | undefined | null>;

/** A deployed preview, read from the summary the pipeline wrote. */
@object()
export class PreviewEnvironment {
  /** The web app's URL: the preview to open. */
  @func()
  url: string;

  /** The URLs of the environment's three Workers: web, auth and the Stripe webhook handler. */
  @func()
  workers: string[];

  /** The database branch of this preview (Neon branch pr-N). */
  @func()
  databaseBranch: string;

  /** The pipeline's summary in Markdown: URLs, branch, migrations, tests and timings. */
  @func()
  summary: string;

  /** The Playwright report (html/, screenshots/, results.json) when run with --e2e; else empty. */
  @func()
  e2eReport: Directory;

  /** The exit status of `pnpm preview-deploy`: 0 when the preview is deployed (and e2e passed). */
  @func()
  exitCode: number;

  /**
   * Everything the run left for a reviewer, kept when it failed: summary.md, summary.json,
   * e2e/ (with --e2e) and exit-code (`... report export --path ./preview`).
   */
  @func()
  report: Directory;

  constructor(
    url: string,
    workers: string[],
    databaseBranch: string,
    summary: string,
    e2eReport: Directory,
    exitCode: number,
    report: Directory,
  ) {
    this.url = url;
    this.workers = workers;
    this.databaseBranch = databaseBranch;
    this.summary = summary;
    this.e2eReport = e2eReport;
    this.exitCode = exitCode;
    this.report = report;
  }
}

/**
 * codex's pipeline: tests, e2e, preview and production deploys, cleanup and rollback. The cloud
 * settings are the module's, given once: as flags before the function
 * (`dagger call --neon-project-id ... cleanup --pr 1`), or from a .env beside dagger.json
 * (Dagger's local defaults; .env.example names every one).
 */
@object()
export class Codex {
  source: Directory;
  cloudflareApiToken?: Secret;
  cloudflareAccountId?: string;
  cloudflareWorkersSubdomain?: string;
  neonApiKey?: Secret;
  neonProjectId?: string;
  githubToken?: Secret;
  githubRepository?: string;
  githubRunId?: string;
  githubServerUrl?: string;

  constructor(
    /** The repository (by default the one this module sits in, without installed files). */
    @argument({ defaultPath: "/", ignore: SOURCE_IGNORE })
    source: Directory,
    /** Cloudflare API token (Workers Scripts: Edit); the cloud functions need it. */
    cloudflareApiToken?: Secret,
    /** Cloudflare account id; the cloud functions need it. */
    cloudflareAccountId?: string,
    /** The <subdomain> of https://<worker>.<subdomain>.workers.dev; the cloud functions need it. */
    cloudflareWorkersSubdomain?: string,
    /** Neon API key; the cloud functions need it. */
    neonApiKey?: Secret,
    /** Neon project id; the cloud functions need it. */
    neonProjectId?: string,
    /** GitHub token for the sticky PR comment (pull-requests: write). */
    githubToken?: Secret,
    /** owner/name of the repository, for the PR comment. */
    githubRepository?: string,
    /** The workflow run's id, linked from the PR comment. */
    githubRunId?: string,
    /** The GitHub server URL, for links in the PR comment. */
    githubServerUrl?: string,
  ) {
    this.source = source;
    this.cloudflareApiToken = cloudflareApiToken;
    this.cloudflareAccountId = cloudflareAccountId;
    this.cloudflareWorkersSubdomain = cloudflareWorkersSubdomain;
    this.neonApiKey = neonApiKey;
    this.neonProjectId = neonProjectId;
    this.githubToken = githubToken;
    this.githubRepository = githubRepository;
    this.githubRunId = githubRunId;
    this.githubServerUrl = githubServerUrl;
  }

  /**
   * Lint, typecheck, format check, and the platform's unit and integration tests (`pnpm test`).
   * Fails when any of them fails.
   */
  @func()
  async test(
    /** A Postgres server URL for the tests' throwaway databases; by default a postgres service. */
    databaseUrl?: Secret,
  ): Promise<string> {
    const ctr = databaseUrl
      ? this.base().withSecretVariable("TEST_DATABASE_URL", databaseUrl)
      : this.base()
          .withServiceBinding("postgres", this.postgres())
          .withEnvVariable("TEST_DATABASE_URL", TEST_SERVER_URL);
    return ctr.withExec(["pnpm", "test"]).stdout();
  }

  /**
   * The Playwright suite (`pnpm e2e`), with Debian's Chromium: against a fresh local preview
   * inside the container, or against baseUrl. Returns the report: html/, screenshots/ and
   * results.json (`dagger call e2e export --path ./e2e-report`).
   */
  @func({ cache: "never" })
  async e2e(
    /** An http(s) URL to test instead of a fresh local preview (a deployed preview's web URL). */
    baseUrl?: string,
  ): Promise<Directory> {
    let ctr = this.browserBase();
    // A remote environment changes without this call's inputs changing.
    if (baseUrl) ctr = ctr.withEnvVariable(INVOCATION, new Date().toISOString());
    const done = await ctr.withExec(["pnpm", "e2e", ...flags({ "base-url": baseUrl })]).sync();
    return done.directory(E2E_REPORT);
  }

  /**
   * Deploys pull request pr's preview on the cloud target (`pnpm preview-deploy --target
   * cloud`): a Neon branch from main, migrated and tested, the three Workers on workers.dev
   * wired to each other, smoke checks, and the sticky PR comment. Running it again updates
   * the preview in place. Prints the preview's URL; fails, with the summary, when the deploy
   * (or with e2e, the Playwright suite) fails. Needs the module's cloud settings (`dagger call
   * --help`); with .env set, `dagger call preview-deploy --pr 123` is the whole call.
   */
  @func({ cache: "never" })
  async previewDeploy(
    /** The pull request number. */
    pr: number,
    /** The preview's session signing secret (SESSION_SECRET, 32+ characters). */
    sessionSecret: Secret,
    /** The Stripe webhook signing secret; not needed when stripeSecretKey makes an endpoint per PR. */
    stripeWebhookSecret?: Secret,
    /** A Stripe test key (sk_test_): checkout, and a webhook endpoint per preview. */
    stripeSecretKey?: Secret,
    /** The Stripe price of the membership. */
    stripePriceId?: string,
    /** The commit being deployed, shown in the summary. */
    commit?: string,
    /** Deploy without running the platform tests first. */
    skipTests = false,
    /** Re-copy the database branch from main. */
    reset = false,
    /** Also run the Playwright suite against the preview. */
    e2e = false,
    /** Build new bundles even when nothing changed. */
    rebuild = false,
  ): Promise<string> {
    const deployed = await this.previewDeployment(
      pr,
      sessionSecret,
      stripeWebhookSecret,
      stripeSecretKey,
      stripePriceId,
      commit,
      skipTests,
      reset,
      e2e,
      rebuild,
    );
    if (deployed.exitCode !== 0) {
      throw new Error(
        `pnpm preview-deploy --pr ${pr} failed (exit code ${deployed.exitCode})` +
          (deployed.summary ? `:\n${deployed.summary}` : ""),
      );
    }
    return deployed.url;
  }

  /**
   * previewDeploy for CI: the same deploy, returning the environment and, whether it passed or
   * failed, its exit status and report (summary, e2e report), so that a workflow can export the
   * report and then fail: `preview-deployment --pr N --e2e report export --path ./preview`.
   */
  @func({ cache: "never" })
  async previewDeployment(
    /** The pull request number. */
    pr: number,
    /** The preview's session signing secret (SESSION_SECRET, 32+ characters). */
    sessionSecret: Secret,
    /** The Stripe webhook signing secret; not needed when stripeSecretKey makes an endpoint per PR. */
    stripeWebhookSecret?: Secret,
    /** A Stripe test key (sk_test_): checkout, and a webhook endpoint per preview. */
    stripeSecretKey?: Secret,
    /** The Stripe price of the membership. */
    stripePriceId?: string,
    /** The commit being deployed, shown in the summary. */
    commit?: string,
    /** Deploy without running the platform tests first. */
    skipTests = false,
    /** Re-copy the database branch from main. */
    reset = false,
    /** Also run the Playwright suite against the preview (its report is e2eReport). */
    e2e = false,
    /** Build new bundles even when nothing changed. */
    rebuild = false,
  ): Promise<PreviewEnvironment> {
    const env: CloudEnv = {
      ...this.github(),
      SESSION_SECRET: sessionSecret,
      STRIPE_WEBHOOK_SECRET: stripeWebhookSecret,
      STRIPE_SECRET_KEY: stripeSecretKey,
      STRIPE_PRICE_ID: stripePriceId,
      GITHUB_SHA: commit,
    };
    const command = [
      "preview-deploy",
      ...flags({ pr, "skip-tests": skipTests, reset, e2e, rebuild, target: "cloud" }),
    ];
    // Playwright runs inside the deploy, so with --e2e the deploy needs a browser.
    const ctr = e2e ? this.browserBase() : this.base();
    // Any exit status: a failed deploy or e2e still leaves its summary and report to return.
    const ran = this.cloud(ctr, command, env, ReturnType.Any);
    const exitCode = await ran.exitCode();
    const dir = `${STATE_DIR}/envs/preview-${pr}`;
    // exit-code also makes the folder exist when the CLI failed before writing to it.
    const report = ran.withNewFile(`${dir}/exit-code`, `${exitCode}\n`).directory(dir);
    // Directory entries end in "/".
    const entries = (await report.entries()).map((entry) => entry.replace(/\/$/, ""));
    const [json, markdown] = await Promise.all(
      ["summary.json", "summary.md"].map((name) =>
        entries.includes(name) ? report.file(name).contents() : Promise.resolve(""),
      ),
    );
    const summary = (json ? JSON.parse(json) : {}) as Partial<DeploySummary>;
    if (exitCode === 0 && (!summary.urls || !summary.database)) {
      throw new Error(`preview-deploy left no URLs or branch in ${dir}/summary.json`);
    }
    const urls = summary.urls;
    return new PreviewEnvironment(
      urls?.web ?? "",
      urls ? [urls.web, urls.auth, urls.webhook] : [],
      summary.database?.branch ?? "",
      markdown ?? "",
      e2e && entries.includes("e2e") ? report.directory("e2e") : dag.directory(),
      exitCode,
      report,
    );
  }

  /**
   * Deploys main to production on the cloud target (`pnpm production-deploy --target cloud`):
   * migrations tried on a throwaway branch first, then production's; the Workers, then web;
   * smoke checks, and the Workers rolled back if they fail. Returns the pipeline's output.
   * Needs the module's cloud settings (`dagger call --help`).
   */
  @func({ cache: "never" })
  async productionDeploy(
    /** Production's session signing secret (32+ characters). */
    sessionSecret: Secret,
    /** Production's Stripe webhook signing secret. */
    stripeWebhookSecret: Secret,
    /** Production's Stripe secret key. */
    stripeSecretKey?: Secret,
    /** Production's Stripe price of the membership. */
    stripePriceId?: string,
    /** The commit being deployed, shown in the summary. */
    commit?: string,
    /** Build new bundles even when nothing changed. */
    rebuild = false,
    /** Deploy even when the release production serves fails on the migrated schema. */
    allowIncompatible = false,
    /**
     * The repository's .git folder (`--history .git`, from a full clone): the old-code check
     * rebuilds the release production serves from the commit its release tag names. Without
     * it, that check is reported as skipped.
     */
    history?: Directory,
  ): Promise<string> {
    const env: CloudEnv = {
      // No PR to comment on, but the deploy is reported as a GitHub deployment of `commit`.
      ...this.github(),
      SESSION_SECRET: sessionSecret,
      STRIPE_WEBHOOK_SECRET: stripeWebhookSecret,
      STRIPE_SECRET_KEY: stripeSecretKey,
      STRIPE_PRICE_ID: stripePriceId,
      GITHUB_SHA: commit,
    };
    const command = [
      "production-deploy",
      ...flags({ rebuild, "allow-incompatible": allowIncompatible, target: "cloud" }),
    ];
    return this.cloud(this.withHistory(this.base(), history), command, env).stdout();
  }

  /**
   * Deletes pull request pr's preview (`pnpm cleanup --target cloud`): its Workers, its Neon
   * branch and its Stripe endpoint, and updates the PR comment. With stale, sweeps the
   * previews older than olderThan whose pull request is closed or gone (an open one's only
   * with includeOpen), and Stripe endpoints whose preview is gone. Idempotent. Needs the
   * module's cloud settings (`dagger call --help`).
   */
  @func({ cache: "never" })
  async cleanup(
    /** The pull request whose preview to delete. */
    pr?: number,
    /** Sweep old and orphaned previews instead of one. */
    stale = false,
    /** With stale: the age past which a preview is swept, such as 7d. */
    olderThan?: string,
    /** With stale: sweep old previews of open pull requests too. */
    includeOpen = false,
    /** A Stripe test key, to delete a preview's webhook endpoint. */
    stripeSecretKey?: Secret,
  ): Promise<string> {
    const env: CloudEnv = { ...this.github(), STRIPE_SECRET_KEY: stripeSecretKey };
    const command = [
      "cleanup",
      ...flags({
        pr,
        stale,
        "older-than": olderThan,
        "include-open": includeOpen,
        target: "cloud",
      }),
    ];
    return this.cloud(this.base(), command, env).stdout();
  }

  /**
   * Serves an earlier version again (`pnpm rollback --target cloud`): production's previous
   * one, or the version `to`; with pr, that preview's. Returns the pipeline's output. Needs the
   * module's cloud settings (`dagger call --help`).
   */
  @func({ cache: "never" })
  async rollback(
    /** The version to serve, as a deploy printed it (such as 1a2b3c4d.5e6f7a8b.9c0d1e2f); by default the previous one. */
    to?: string,
    /** Roll back this pull request's preview instead of production. */
    pr?: number,
    /** Roll back even when that version's code fails on the schema the database has now. */
    forceSchema = false,
    /**
     * The repository's .git folder (`--history .git`, from a full clone): a version built with
     * fewer migrations than the database has is rebuilt from its commit and tried first.
     * Without it, that check is reported as skipped.
     */
    history?: Directory,
  ): Promise<string> {
    const command = [
      "rollback",
      ...flags({ to, pr, "force-schema": forceSchema, target: "cloud" }),
    ];
    return this.cloud(this.withHistory(this.base(), history), command, this.github()).stdout();
  }

  /**
   * Approves pull request pr's visual changes (`pnpm approve-visual`): its head commit's
   * codex/visual status goes green when a collaborator with write access commented
   * `/codex approve-visual` after it went pending. Needs only the module's GitHub settings.
   */
  @func({ cache: "never" })
  async approveVisual(
    /** The pull request number. */
    pr: number,
    /** The comment that asked (the workflow's github.event.comment.id); by default any such comment. */
    commentId?: number,
  ): Promise<string> {
    if (!this.githubToken || !this.githubRepository) {
      throw new Error("approve-visual needs the module's --github-token and --github-repository");
    }
    let ctr = this.base();
    for (const [name, value] of Object.entries(this.github())) {
      if (typeof value === "string") ctr = value ? ctr.withEnvVariable(name, value) : ctr;
      else if (value) ctr = ctr.withSecretVariable(name, value);
    }
    const command = ["approve-visual", ...flags({ pr, "comment-id": commentId, target: "cloud" })];
    return ctr
      .withEnvVariable(INVOCATION, new Date().toISOString())
      .withExec(["pnpm", ...command])
      .stdout();
  }

  /**
   * Pull request pr's preview on the local target, as a service on port 8787 (`pnpm serve`):
   * `dagger call preview --pr 1 up --ports 8787:8787`, then open http://pr-1.localhost:8787.
   */
  @func()
  preview(
    /** The pull request number. */
    pr: number,
  ): Service {
    return (
      this.base()
        .withEnvVariable("CODEX_BIND_HOST", "0.0.0.0")
        .withEnvVariable("CODEX_PORT", `${PORT}`)
        .withExposedPort(PORT)
        // `serve` opens its port first, then migrates, builds and deploys: the service is ready
        // when the preview's web page answers. A container's healthcheck replaces the engine's
        // TCP dial of the exposed ports (dagger/dagger#11951).
        .withDockerHealthcheck(["node", "-e", webHealthCheck(pr)], {
          startPeriod: "15m",
          startInterval: "2s",
          interval: "30s",
          timeout: "10s",
          retries: 3,
        })
        .asService({ args: ["pnpm", "serve", ...flags({ pr })] })
    );
  }

  /**
   * The workspace on the pinned Node 20 image: pnpm, its store in a cache volume, the lockfile
   * layer and `pnpm fetch`, then the source and an offline install.
   */
  base(): Container {
    return this.workspace(false);
  }

  /** The same workspace, with Debian's Chromium where CHROMIUM_PATH points (e2e). */
  private browserBase(): Container {
    return this.workspace(true).withEnvVariable("CHROMIUM_PATH", CHROMIUM);
  }

  private workspace(browser: boolean): Container {
    const node = dag.container().from(NODE_IMAGE);
    return (browser ? node.withExec(CHROMIUM_LAYER) : node)
      .withExec(["npm", "install", "--global", `pnpm@${PNPM_VERSION}`])
      .withMountedCache(PNPM_STORE, dag.cacheVolume("codex-pnpm-store"))
      .withWorkdir(WORKDIR)
      .withDirectory(WORKDIR, this.source, { include: LOCKFILE_LAYER })
      .withExec(["pnpm", "fetch", "--store-dir", PNPM_STORE])
      .withDirectory(WORKDIR, this.source)
      .withExec(["pnpm", "install", "--offline", "--frozen-lockfile", "--store-dir", PNPM_STORE])
      .withEnvVariable("CODEX_STATE_DIR", STATE_DIR);
  }

  /**
   * The workspace with git and the repository's history at /src/.git, for the functions that
   * rebuild a release from its commit (src/release-build.ts); unchanged without `history`.
   */
  private withHistory(ctr: Container, history?: Directory): Container {
    if (!history) return ctr;
    return ctr.withExec(GIT_LAYER).withDirectory(`${WORKDIR}/.git`, history);
  }

  /** A throwaway Postgres for `test`, with as many connections as the embedded server allows. */
  private postgres(): Service {
    return dag
      .container()
      .from(POSTGRES_IMAGE)
      .withEnvVariable("POSTGRES_PASSWORD", "codex-test")
      .withExposedPort(5432)
      .asService({
        args: ["postgres", "-c", "max_connections=300", "-c", "fsync=off"],
        useEntrypoint: true,
      });
  }

  /** The PR comment's and GitHub deployments' settings, for the functions that update them. */
  private github(): CloudEnv {
    return {
      GITHUB_TOKEN: this.githubToken,
      GITHUB_REPOSITORY: this.githubRepository,
      GITHUB_RUN_ID: this.githubRunId,
      GITHUB_SERVER_URL: this.githubServerUrl,
    };
  }

  /**
   * `pnpm <command>` with the module's cloud settings and the command's own environment:
   * secrets only through withSecretVariable, plain settings as variables, and a fresh
   * invocation marker. Refuses before anything runs when a cloud setting is missing.
   */
  private cloud(
    ctr: Container,
    command: string[],
    env: CloudEnv,
    expect: ReturnType = ReturnType.Success,
  ): Container {
    const settings: CloudEnv = {};
    const missing: string[] = [];
    for (const [name, field] of Object.entries(CLOUD_SETTINGS)) {
      settings[name] = this[field];
      if (!this[field]) missing.push(`--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    }
    if (missing.length) {
      throw new Error(
        `${command[0]} needs the module's ${missing.join(" ")}: copy .env.example to .env ` +
          "beside dagger.json (and set the variables it names), or pass them before the function",
      );
    }
    for (const [name, value] of Object.entries({ ...settings, ...env })) {
      if (typeof value === "string") ctr = value ? ctr.withEnvVariable(name, value) : ctr;
      else if (value) ctr = ctr.withSecretVariable(name, value);
    }
    return ctr
      .withEnvVariable(INVOCATION, new Date().toISOString())
      .withExec(["pnpm", ...command], expect === ReturnType.Success ? undefined : { expect });
  }
}
