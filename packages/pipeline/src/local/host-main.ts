// Entry point of the detached host process (see host.ts). Its stdout and stderr go to host.log.
import { runHost } from "./host";
import { DEFAULT_PORT } from "../state";

const port = Number(process.env.CODEX_PORT ?? DEFAULT_PORT);
runHost(port).catch((error: unknown) => {
  console.error(
    JSON.stringify({
      time: new Date().toISOString(),
      message: "host failed",
      error: String(error),
      stack: error instanceof Error ? error.stack : undefined,
    }),
  );
  process.exit(1);
});
