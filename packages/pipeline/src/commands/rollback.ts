import { environmentFromFlags, PRODUCTION } from "../core/environments";
import { withLock } from "../local/state";
import { formatDuration } from "../progress";
import { smokeAll } from "../smoke";
import { localContext, type CommandIO } from "./context";

/** rollback [--to VERSION] [--pr N]: serve an earlier version again (production by default). */
export async function rollback(
  options: { to?: string; pr?: string },
  io: CommandIO,
): Promise<{ from: string; to: string }> {
  const environment =
    options.pr === undefined ? PRODUCTION : environmentFromFlags({ pr: options.pr });
  const ctx = localContext(io);
  const { progress } = ctx;
  return withLock(ctx.paths, environment.name, async () => {
    await progress.step("start the local host", () => ctx.host());
    const result = await progress.step(
      `roll ${environment.name} back`,
      () => ctx.workers.rollback(environment, options.to),
      (r) => `${r.from} → ${r.to}`,
    );
    await progress.step("smoke-check", () =>
      smokeAll(ctx.port, ctx.workers.urls(environment), environment.name),
    );
    progress.line();
    progress.line(
      `✓ ${environment.name} serves ${result.to} (was ${result.from}), in ${formatDuration(progress.elapsedMs)}`,
    );
    return result;
  });
}
