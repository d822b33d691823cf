import { environmentFromFlags, PRODUCTION } from "../core/environments";
import { withLock } from "../state";
import { formatDuration } from "../core/format";
import { checkRollbackSchema } from "./old-code";
import { contextFor, targetLabel, type CommandIO, type Target } from "./context";

/** rollback [--to VERSION] [--pr N]: serve an earlier version again (production by default). */
export async function rollback(
  options: { to?: string; pr?: string; target?: Target; forceSchema?: boolean },
  io: CommandIO,
): Promise<{ from: string; to: string }> {
  const environment =
    options.pr === undefined ? PRODUCTION : environmentFromFlags({ pr: options.pr });
  const ctx = contextFor(options.target ?? "local", io, undefined, environment.kind);
  const { progress } = ctx;
  // A rollback that cannot happen is refused before anything is locked, started or written.
  const target = (await ctx.workers.checkRollback(environment, options.to)) ?? options.to;
  await ctx.preflight();
  progress.line(`rollback ${environment.name} (${targetLabel(ctx)})`);
  return withLock(ctx.paths, environment.name, async () => {
    // A version whose code reads what the schema no longer has is refused (commands/old-code.ts).
    await checkRollbackSchema(ctx, environment, target, options.forceSchema ?? false);
    // Locally, serving the version starts the host if it is not running.
    const result = await progress.step(
      `roll ${environment.name} back`,
      () => ctx.workers.rollback(environment, options.to),
      (r) => `${r.from} → ${r.to}`,
    );
    await progress.step("smoke-check", () => ctx.smoke(ctx.workers.urls(environment), environment));
    progress.line();
    progress.line(
      `✓ ${environment.name} serves ${result.to} (was ${result.from}), in ${formatDuration(progress.elapsedMs)}`,
    );
    return result;
  });
}
