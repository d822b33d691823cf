import type { Environment } from "../core/environments";
import { hostStatus, stopHost } from "../local/host-client";
import { statePaths } from "../state";
import type { CommandIO } from "./context";
import { previewDeploy } from "./preview-deploy";

/**
 * serve --pr N: deploys the local preview of PR N (tests skipped) and stays in the foreground
 * while the local host serves it, until SIGINT or SIGTERM stop both. It is what a container
 * runs to offer a preview as a service (the Dagger module's `preview` function); with
 * CODEX_BIND_HOST=0.0.0.0 it is reachable from outside the container.
 */
export async function serve(
  options: { environment: Environment },
  io: CommandIO,
  stopped: Promise<unknown> = untilSignal(),
): Promise<void> {
  const summary = await previewDeploy({ environment: options.environment, skipTests: true }, io);
  const paths = statePaths();
  io.out(`serving ${summary.environment} at ${summary.urls?.web ?? ""} (Ctrl-C stops it)`);
  // Also stop when the host dies: a service whose server is gone should say so and exit.
  const hostGone = (async () => {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      if (!(await hostStatus(paths))) return "host";
    }
  })();
  const why = await Promise.race([stopped, hostGone]);
  await stopHost(paths);
  if (why === "host") throw new Error("the local host stopped");
  io.out("stopped");
}

/**
 * Resolves on the first SIGINT or SIGTERM. The listeners stay: proper-lockfile's signal-exit
 * re-raises a signal it sees when its own count of listeners matches, and a `once` listener,
 * gone by then, would let that second signal kill the process before the host is stopped.
 */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => resolve(signal));
  });
}
