import { fileURLToPath } from "node:url";
import { defineProject } from "vitest/config";

// Container replay (test/container.replay.ts): a function's recorded exec chain replayed on the
// host, `pnpm fetch` into a fresh store included. It downloads the whole lockfile from the npm
// registry (about 10 minutes or more here), so it is opt-in, in no project list:
//   pnpm exec vitest run -c .dagger/test/replay.config.ts
export default defineProject({
  test: {
    name: "dagger-replay",
    root: fileURLToPath(new URL("..", import.meta.url)),
    include: ["test/**/*.replay.ts"],
    environment: "node",
    testTimeout: 40 * 60_000,
    hookTimeout: 60_000,
  },
});
