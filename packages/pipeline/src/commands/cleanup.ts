import { rm } from "node:fs/promises";
import { parseEnvironment, previewEnvironment, type Environment } from "../core/environments";
import { userError } from "../errors";
import { withLock } from "../state";
import { formatDuration } from "../core/format";
import { contextFor, type CommandIO, type Target } from "./context";

export interface CleanupOptions {
  pr?: string;
  stale?: boolean;
  /** "7d", "12h", "30m": with --stale, environments not updated for this long are swept. */
  olderThan?: string;
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

/** cleanup --pr N, or cleanup --stale [--older-than 7d]. Idempotent: a second run is a no-op. */
export async function cleanup(options: CleanupOptions, io: CommandIO): Promise<CleanupResult> {
  if (options.pr !== undefined && options.stale) {
    throw userError("INVALID_ARGUMENT", "give either --pr N or --stale, not both");
  }
  if (options.pr === undefined && !options.stale) {
    throw userError("INVALID_ARGUMENT", "cleanup needs --pr N or --stale");
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
        for (const env of deployed) {
          const parsed = parseEnvironment(env.name);
          if (parsed.kind !== "preview") continue;
          const age = now - (Date.parse(env.updatedAt) || 0);
          // Old, or (locally, where every deploy is recorded) one that never finished.
          const unfinished = ctx.target === "local" && !env.version && age > 3_600_000;
          if (age > maxAge || unfinished) targets.push(parsed);
        }
        // Branches no environment claims: left by an interrupted deploy or a lost registry. On
        // the cloud, a deploy that is branching right now has no Workers yet: give it an hour.
        const graceMs = ctx.target === "cloud" ? 3_600_000 : 0;
        for (const branch of await database.list()) {
          const parsed = parseEnvironment(branch.environment);
          if (parsed.kind !== "preview" || known.has(parsed.name)) continue;
          if (targets.some((t) => t.name === parsed.name)) continue;
          const age = branch.createdAt ? now - Date.parse(branch.createdAt) : Infinity;
          if (age > graceMs) targets.push(parsed);
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
