import { rm } from "node:fs/promises";
import { parseEnvironment, previewEnvironment, type Environment } from "../core/environments";
import { userError } from "../errors";
import { withLock } from "../state";
import { formatDuration } from "../core/format";
import { contextFor, type CommandIO, type Context, type Target } from "./context";

export interface CleanupOptions {
  pr?: string;
  stale?: boolean;
  /**
   * "7d", "12h", "30m": with --stale, previews not updated for this long are swept when their
   * pull request is closed or gone (or, with includeOpen, open too).
   */
  olderThan?: string;
  /** With --stale: also sweep open pull requests' previews that are older than olderThan. */
  includeOpen?: boolean;
  target?: Target;
}

export function parseAge(text: string): number {
  const match = /^(\d+)(m|h|d)$/.exec(text);
  if (!match)
    throw userError(
      "INVALID_ARGUMENT",
      `--older-than must look like 30m, 12h or 7d (got "${text}")`,
    );
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "m" | "h" | "d"];
  return Number(match[1]) * unit;
}

export interface CleanupResult {
  removed: string[];
}

/**
 * cleanup --pr N, or cleanup --stale [--older-than 7d] [--include-open]. Idempotent: a second
 * run is a no-op. The sweep never deletes an open pull request's preview for its age alone: on
 * the cloud it asks GitHub for each old preview's PR, and keeps it while the PR is open (or when
 * GitHub is not configured, so the state is unknown) unless --include-open says otherwise. The
 * local target's previews belong to no PR GitHub knows of: they go by age.
 */
export async function cleanup(options: CleanupOptions, io: CommandIO): Promise<CleanupResult> {
  if (options.pr !== undefined && options.stale) {
    throw userError("INVALID_ARGUMENT", "give either --pr N or --stale, not both");
  }
  if (options.pr === undefined && !options.stale) {
    throw userError("INVALID_ARGUMENT", "cleanup needs --pr N or --stale");
  }
  if (options.includeOpen && !options.stale) {
    throw userError("INVALID_ARGUMENT", "--include-open goes with --stale");
  }
  const maxAge = options.stale ? parseAge(options.olderThan ?? "7d") : 0;
  const targets: Environment[] = options.pr !== undefined ? [previewEnvironment(options.pr)] : [];
  // Both act on previews only: with the previews' credentials.
  const ctx = contextFor(options.target ?? "local", io, undefined, "preview");
  const { progress } = ctx;
  await ctx.preflight();
  const database = await ctx.database();

  if (options.stale) {
    await progress.step(
      "find stale previews",
      async () => {
        const now = Date.now();
        const deployed = await ctx.workers.list();
        const known = new Set(deployed.map((d) => d.name));
        const old: Environment[] = [];
        for (const env of deployed) {
          const parsed = parseEnvironment(env.name);
          if (parsed.kind !== "preview") continue;
          const age = now - (Date.parse(env.updatedAt) || 0);
          // Old, or (locally, where every deploy is recorded) one that never finished.
          const unfinished = ctx.target === "local" && !env.version && age > 3_600_000;
          if (age > maxAge || unfinished) old.push(parsed);
        }
        for (const parsed of old) {
          const why = await keepOpen(ctx, parsed, options.includeOpen ?? false);
          if (why) progress.line(`  kept ${parsed.name}: ${why}`);
          else targets.push(parsed);
        }
        // Branches no environment claims: left by an interrupted deploy or a lost registry. On
        // the cloud, a deploy that is branching right now has no Workers yet: give it an hour.
        const graceMs = ctx.target === "cloud" ? 3_600_000 : 0;
        const branches = await database.list();
        for (const branch of branches) {
          const parsed = parseEnvironment(branch.environment);
          if (parsed.kind !== "preview" || known.has(parsed.name)) continue;
          if (targets.some((t) => t.name === parsed.name)) continue;
          const age = branch.createdAt ? now - Date.parse(branch.createdAt) : Infinity;
          if (age > graceMs) targets.push(parsed);
        }
        // Stripe endpoints whose preview is gone (no Workers, no branch): a cleanup stopped
        // before its last step. They count against Stripe's limit of 16 per account.
        if (ctx.webhooks) {
          const branched = new Set(branches.map((b) => b.environment));
          for (const endpoint of await ctx.webhooks.list()) {
            // Only endpoints a preview made: others (production's, other tools') are not ours.
            const parsed = previewOf(endpoint.environment);
            if (!parsed || known.has(parsed.name)) continue;
            if (branched.has(parsed.name) || targets.some((t) => t.name === parsed.name)) continue;
            targets.push(parsed);
          }
        }
        return targets;
      },
      (t) => (t.length ? t.map((e) => e.name).join(", ") : "none"),
    );
  }

  const removed: string[] = [];
  for (const environment of targets) {
    await withLock(ctx.paths, environment.name, async () => {
      const served = await progress.step(
        `stop serving ${environment.name}`,
        () => ctx.workers.delete(environment),
        (d) => (d ? "removed" : "was not deployed"),
      );
      const dropped = await progress.step(
        `drop the database branch of ${environment.name}`,
        () => database.delete(environment),
        (d) => (d ? "dropped" : "there was none"),
      );
      const webhooks = ctx.webhooks;
      const endpoint = webhooks
        ? await progress.step(
            `delete the Stripe webhook endpoint of ${environment.name}`,
            () => webhooks.delete(environment),
            (d) => (d ? "deleted" : "there was none"),
          )
        : false;
      if (ctx.target === "cloud" && (served || dropped || endpoint)) {
        // The PR's comment says the preview is gone, rather than linking to dead URLs.
        await ctx.publish({
          environment: environment.name,
          target: ctx.target,
          status: "deleted",
          urls: null,
          database: null,
          steps: [],
          updatedAt: new Date().toISOString(),
        });
      }
      await rm(ctx.paths.env(environment.name), { recursive: true, force: true });
      if (served || dropped || endpoint) removed.push(environment.name);
    });
  }
  progress.line();
  progress.line(
    `✓ cleanup done in ${formatDuration(progress.elapsedMs)}: ${removed.length ? `removed ${removed.join(", ")}` : "nothing to remove"}`,
  );
  return { removed };
}

/**
 * Why an old preview stays, or undefined when it may go: its pull request is open, or its state
 * is unknown on the cloud (no GitHub settings), unless `includeOpen`. Locally there is no PR.
 */
export async function keepOpen(
  ctx: Pick<Context, "target" | "pullRequestState">,
  environment: Environment,
  includeOpen: boolean,
): Promise<string | undefined> {
  if (includeOpen || ctx.target === "local" || environment.pr === undefined) return undefined;
  if (!ctx.pullRequestState) {
    return `the state of pull request #${environment.pr} is unknown (set GITHUB_TOKEN and GITHUB_REPOSITORY, or pass --include-open)`;
  }
  const state = await ctx.pullRequestState(environment.pr);
  return state === "open"
    ? `pull request #${environment.pr} is open (--include-open sweeps open pull requests' previews too)`
    : undefined;
}

/** The preview an endpoint's metadata names, or undefined when it names none. */
function previewOf(name: string | undefined): Environment | undefined {
  if (!name?.startsWith("preview-")) return undefined;
  try {
    const parsed = parseEnvironment(name);
    return parsed.kind === "preview" ? parsed : undefined;
  } catch {
    return undefined;
  }
}
