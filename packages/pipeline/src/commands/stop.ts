import { stopHost } from "../local/host-client";
import { statePaths } from "../state";
import type { CommandIO } from "./context";

/**
 * stop: stops the local host (its Postgres cleanly, then workerd). Every environment's state
 * stays in the state folder, and the next deploy, rollback or cleanup starts the host again with
 * every environment. Stopping a host that is not running does nothing and succeeds.
 */
export async function stop(io: CommandIO): Promise<{ stopped: boolean }> {
  const paths = statePaths();
  const stopped = await stopHost(paths);
  io.out(
    stopped
      ? `stopped the local host (pid ${stopped.pid}, port ${stopped.port}); environments are kept in ${paths.root}, and the next deploy starts it again`
      : "the local host is not running: nothing to stop",
  );
  return { stopped: stopped !== undefined };
}
