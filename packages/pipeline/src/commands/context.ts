/**
 * What a command needs, for either target. The commands are written once against `Context`;
 * `localContext` and `cloudContext` say where things happen:
 *
 * | part            | local                                   | cloud                                   |
 * |-----------------|-----------------------------------------|-----------------------------------------|
 * | database        | embedded Postgres on the resident host  | Neon branches (HTTP API)                |
 * | Workers         | a Miniflare per environment on the host | wrangler against Cloudflare             |
 * | review          | summary.md/.html in the state folder    | the same files, plus the sticky PR comment |
 * | smoke checks    | by Host header on the host's port       | the workers.dev URLs                    |
 * | Stripe webhooks | none (the test checkout signs its own)  | one endpoint per preview, when keyed     |
 *
 * Locks live in the state folder on both targets: two runs for one environment on one machine
 * wait for each other. On GitHub, the workflows' concurrency groups do the same across runners.
 */
import { join } from "node:path";
import type { Environment, EnvironmentKind } from "../core/environments";
import { SECRET_VARIABLE, cloudCredentialsFor, valueForKind } from "../core/secrets";
import { databaseName } from "../core/environments";
import type { DerivedStack } from "../core/derive";
import { userError } from "../errors";
import { checkHostPort, configuredPort, ensureHost } from "../local/host-client";
import type { HostStatus } from "../local/host";
import { readJson, statePaths, withLock, writeFileAtomic, type StatePaths } from "../state";
import { formatDuration } from "../core/format";
import { Progress } from "../progress";
import { LocalDatabaseBranches } from "../providers/database/local";
import { neonFromEnv } from "../providers/database/neon";
import type { DatabaseBranches } from "../providers/database/shared";
import { githubFromEnv, type PullRequestState } from "../providers/review/github";
import { LocalReviewChannel } from "../providers/review/local";
import type { Summary } from "../core/summary";
import type { ReviewChannel } from "../providers/review/shared";
import { assertTestKey, type PreviewWebhooks } from "../providers/stripe/shared";
import { stripeFromEnv } from "../providers/stripe/stripe";
import {
  cloudflareFromEnv,
  secretsFromEnv,
  type CloudflareWorkerPlatform,
  type PublishedReport,
} from "../providers/workers/cloudflare";
import { durationFromEnv } from "../env";
import { LocalWorkerPlatform } from "../providers/workers/local";
import type { StackUrls, WorkerPlatform } from "../providers/workers/shared";
import { localGetter, remoteGetter, smokeAll, type SmokeResult } from "../smoke";

export type Target = "local" | "cloud";

export interface CommandIO {
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface Context {
  target: Target;
  /** Where locks, summaries and (locally) everything else are kept. */
  paths: StatePaths;
  progress: Progress;
  workers: WorkerPlatform;
  /**
   * The database branches. Locally this starts the resident host first (a step of its own);
   * on the cloud target it is the Neon API, nothing to start.
   */
  database(): Promise<DatabaseBranches>;
  /** What a deploy gives the Workers for a branch: a local database name, or Neon's URL. */
  deployDatabase(branch: { name: string; url: string }): string;
  /** Makes the environment known before anything is built (locally, for cleanup and status). */
  register(environment: Environment): Promise<void>;
  /**
   * Refuses, before anything is created or changed, what would fail for a reason the user can
   * fix: locally, a port the host cannot serve on; on the cloud, a stack whose Workers would
   * lack a secret (`provided`: names the pipeline itself will supply, such as a Stripe
   * endpoint's) or a live Stripe key outside production.
   */
  preflight(stack?: DerivedStack, provided?: readonly string[]): Promise<void>;
  /** Per-preview Stripe webhook endpoints, when the target has them and a key is set. */
  webhooks: PreviewWebhooks | undefined;
  /** A secret value for one environment's Workers for this run (a new endpoint's signing secret). */
  provideSecret(environment: Environment, name: string, value: string): void;
  /** Leaves a secret as the environment's Workers hold it: this run's deploy neither sends nor needs it. */
  keepSecret(environment: Environment, name: string): void;
  /** Whether every Worker of `stack` that takes secret `name` holds one now. */
  holdsSecret(stack: DerivedStack, name: string): Promise<boolean>;
  /**
   * A pull request's state on GitHub ("gone": deleted, or never there), when the target can ask
   * GitHub; undefined otherwise.
   */
  pullRequestState: ((pr: number) => Promise<PullRequestState>) | undefined;
  smoke(urls: StackUrls, environment: Environment): Promise<SmokeResult[]>;
  /** Publishes the summary everywhere the target shows it, and keeps it as summary.json. */
  publish(summary: Summary): Promise<{ location: string }>;
  /**
   * Publishes the environment's e2e folder where the PR comment can show it (the cloud target's
   * report Worker); `secrets` are more values it must not hold. Undefined locally: the files are here.
   */
  publishReport?: (
    environment: Environment,
    e2eDir: string,
    secrets: readonly string[],
  ) => Promise<PublishedReport>;
}

/**
 * Summary files in the environment's state folder, on both targets: summary.json (for later
 * commands, and the Dagger module, to read), summary.md and summary.html.
 */
function fileChannel(paths: StatePaths, secrets: (environment: string) => Promise<string[]>) {
  let current: string[] = [];
  const review = new LocalReviewChannel({
    dir: (environment) => paths.env(environment),
    secrets: () => current,
  });
  return async (summary: Summary): Promise<{ location: string }> => {
    current = await secrets(summary.environment);
    await writeFileAtomic(
      join(paths.env(summary.environment), "summary.json"),
      JSON.stringify(summary, null, 2),
    );
    return review.publish(summary);
  };
}

/** Where the local target keeps its state and serves: CODEX_STATE_DIR and CODEX_PORT by default. */
export interface LocalTarget {
  paths: StatePaths;
  port: number;
}

export function localContext(
  io: CommandIO,
  { paths, port }: LocalTarget = { paths: statePaths(), port: configuredPort() },
): Context & { port: number } {
  const progress = new Progress({ write: io.out });
  const workers = new LocalWorkerPlatform(paths, port);
  let opened: Promise<{ status: HostStatus; database: LocalDatabaseBranches }> | undefined;
  // The environment's own secret values, scrubbed from its summary should any ever reach it.
  const publishFiles = fileChannel(paths, async (environment) =>
    Object.values(
      (await readJson<Record<string, string>>(join(paths.env(environment), "secrets.json")).catch(
        () => undefined,
      )) ?? {},
    ),
  );
  return {
    target: "local",
    paths,
    port,
    progress,
    workers,
    async database() {
      opened ??= progress.step(
        "start the local host",
        async () => {
          const status = await ensureHost(paths, port);
          return {
            status,
            database: new LocalDatabaseBranches(status.pgPort, (fn) =>
              withLock(paths, "main-database", fn),
            ),
          };
        },
        (h) => `Postgres on ${h.status.pgPort}, Workers on ${h.status.port}`,
      );
      return (await opened).database;
    },
    deployDatabase: (branch) => branch.name,
    register: (environment) => workers.register(environment, databaseName(environment)),
    // Local secrets are generated per environment, and the test checkout signs its own events.
    async preflight() {
      await checkHostPort(paths, port);
    },
    webhooks: undefined,
    provideSecret() {},
    keepSecret() {},
    holdsSecret: async () => false,
    // Local previews belong to no pull request GitHub knows of: the sweep goes by age alone.
    pullRequestState: undefined,
    smoke: (urls, environment) => smokeAll(localGetter(port), urls, environment.name),
    publish: publishFiles,
  };
}

/**
 * The cloud target, configured from the environment (see docs/cloud.md):
 * Cloudflare (CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_WORKERS_SUBDOMAIN), Neon
 * (NEON_API_KEY, NEON_PROJECT_ID), and optionally GitHub (GITHUB_TOKEN, GITHUB_REPOSITORY) and
 * Stripe (STRIPE_SECRET_KEY). Every required setting is checked here, before any request.
 */
export function cloudContext(
  io: CommandIO,
  given: NodeJS.ProcessEnv = process.env,
  kind?: EnvironmentKind,
): Context {
  // The credentials of the environment kind this command acts on (NAME_PREVIEW, ...).
  const credentials = kind ? cloudCredentialsFor(given, kind) : { env: given };
  if (credentials.refused) {
    throw userError("INVALID_ARGUMENT", credentials.refused.message, credentials.refused.hint);
  }
  const env: NodeJS.ProcessEnv = credentials.env;
  const paths = statePaths(env.CODEX_STATE_DIR);
  const progress = new Progress({ write: io.out });
  if (!env.CLOUDFLARE_WORKERS_SUBDOMAIN?.trim()) {
    throw userError(
      "INVALID_ARGUMENT",
      "CLOUDFLARE_WORKERS_SUBDOMAIN is not set: the cloud target needs it to know the Workers' URLs",
      "Set it to <subdomain> of https://<worker>.<subdomain>.workers.dev (Workers & Pages → Overview in the Cloudflare dashboard).",
    );
  }
  // Values this run supplies itself, per environment (a new Stripe endpoint's signing secret).
  const provided = new Map<string, Record<string, string>>();
  // Secrets this run leaves as the Workers hold them (a reused Stripe endpoint's signing secret).
  const kept = new Map<string, string[]>();
  const secretsOf = (environment: Environment): Record<string, string> => ({
    ...secretsFromEnv(env, environment),
    ...provided.get(environment.name),
  });
  const workers: CloudflareWorkerPlatform = cloudflareFromEnv(env, {
    secrets: secretsOf,
    kept: (environment) => kept.get(environment.name) ?? [],
  });
  const retryForMs = durationFromEnv("CODEX_SMOKE_RETRY_MS", 60_000, env);
  const database = neonFromEnv(env, { log: (line) => progress.line(`  ${line}`) });
  const webhooks = stripeFromEnv(env);
  const github =
    env.GITHUB_TOKEN?.trim() && env.GITHUB_REPOSITORY?.trim()
      ? githubFromEnv(env, {
          secrets: () => knownSecrets(env, provided),
          warn: (line) => io.err(`warning: ${line}`),
        })
      : undefined;
  const channels: ReviewChannel[] = github ? [github] : [];
  const publishFiles = fileChannel(paths, async () => knownSecrets(env, provided));
  const get = remoteGetter(env.CODEX_SMOKE_CONNECT_TO?.trim() || undefined);

  return {
    target: "cloud",
    paths,
    progress,
    workers,
    database: async () => database,
    deployDatabase: (branch) => branch.url,
    async register() {},
    async preflight(stack, supplied = []) {
      if (!stack) return;
      if (stack.environment.kind === "preview") await assertPreviewNeonKey(given, env, database);
      await workers.checkSecrets(stack, supplied);
      const values = secretsOf(stack.environment);
      const key = values.STRIPE_SECRET_KEY;
      if (key) assertTestKey(key, stack.environment);
      // The key that makes the preview's endpoint: never a live one outside production.
      if (webhooks && env.STRIPE_SECRET_KEY)
        assertTestKey(env.STRIPE_SECRET_KEY, stack.environment);
    },
    webhooks,
    provideSecret(environment, name, value) {
      provided.set(environment.name, { ...provided.get(environment.name), [name]: value });
    },
    keepSecret(environment, name) {
      kept.set(environment.name, [...(kept.get(environment.name) ?? []), name]);
    },
    holdsSecret: (stack, name) => workers.holdsSecret(stack, name),
    pullRequestState: github ? (pr) => github.pullRequestState(pr) : undefined,
    smoke: (urls, environment) => smokeAll(get, urls, environment.name, { retryForMs }),
    publishReport: (environment, e2eDir, secrets) =>
      workers.publishReport(environment, e2eDir, [...knownSecrets(env, provided), ...secrets]),
    async publish(summary) {
      const local = await publishFiles(summary);
      for (const channel of channels) {
        const published = await channel.publish(summary);
        if (published.location) return published;
      }
      return local;
    },
  };
}

/**
 * With a preview project of its own (NEON_PROJECT_ID_PREVIEW), a preview's Neon key must not
 * reach production's project: a project-scoped key cannot (Neon answers 404 for another
 * project), an organization's or a person's key can. Neon's docs on project-scoped keys:
 * https://neon.com/docs/manage/api-keys#project-scoped-api-keys.
 */
async function assertPreviewNeonKey(
  given: NodeJS.ProcessEnv,
  env: NodeJS.ProcessEnv,
  database: { reaches(projectId: string): Promise<boolean> },
): Promise<void> {
  const production = valueForKind(given, "NEON_PROJECT_ID", "production");
  if (!given.NEON_PROJECT_ID_PREVIEW || !production || production === env.NEON_PROJECT_ID) return;
  if (await database.reaches(production)) {
    throw userError(
      "INVALID_ARGUMENT",
      `refusing to deploy a preview with a Neon key that reaches production's project "${production}"`,
      "Set NEON_API_KEY_PREVIEW to a project-scoped key of the preview project (NEON_PROJECT_ID_PREVIEW): Neon console, Organization settings, API keys, Project-scoped (docs/cloud.md).",
    );
  }
}

/** Every secret value this run knows, for scrubbing anything it publishes. */
function knownSecrets(env: NodeJS.ProcessEnv, provided: Map<string, Record<string, string>>) {
  const values = new Set<string>();
  for (const [key, value] of Object.entries(env)) {
    if (!value || value.length < 8) continue;
    if (SECRET_VARIABLE.test(key)) values.add(value);
  }
  for (const secrets of provided.values())
    for (const value of Object.values(secrets)) values.add(value);
  return [...values];
}

/** The context for `--target`; on the cloud, with the credentials of environments of `kind`. */
export function contextFor(
  target: Target,
  io: CommandIO,
  local?: LocalTarget,
  kind?: EnvironmentKind,
): Context {
  return target === "cloud" ? cloudContext(io, process.env, kind) : localContext(io, local);
}

/** "local target" or "cloud target", for the first line a command prints. */
export function targetLabel(ctx: Context): string {
  return `${ctx.target} target`;
}

/** A deploy's summary as it starts: in progress, with the steps recorded as they run. */
export function startSummary(ctx: Context, environment: string, urls: Summary["urls"]): Summary {
  return {
    environment,
    target: ctx.target,
    status: "in-progress",
    urls,
    database: null,
    steps: ctx.progress.steps,
    updatedAt: new Date().toISOString(),
    ...(process.env.GITHUB_SHA ? { commit: process.env.GITHUB_SHA } : {}),
  };
}

/**
 * Publishes a deploy's summary and prints its outcome: the URLs when it is deployed, and where
 * the summary is. Why it failed is printed by the CLI, from the error.
 */
export async function finishDeploy(ctx: Context, summary: Summary): Promise<void> {
  summary.updatedAt = new Date().toISOString();
  const published = await ctx.publish(summary).catch(() => undefined);
  const { progress } = ctx;
  const ok = summary.status === "deployed";
  progress.line();
  progress.line(
    `${ok ? "✓" : "✗"} ${summary.environment} ${summary.status} in ${formatDuration(progress.elapsedMs)}`,
  );
  if (ok && summary.urls) {
    progress.line(`  web      ${summary.urls.web}`);
    progress.line(`  auth     ${summary.urls.auth}`);
    progress.line(`  webhook  ${summary.urls.webhook}`);
  }
  if (published) progress.line(`  summary  ${published.location}`);
}
