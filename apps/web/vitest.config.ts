import { defineProject } from "vitest/config";

// The web app is tested as it deploys: built by vite, bundled by wrangler, served by workerd
// (Miniflare) with the real auth and webhook Workers behind its service bindings.
export default defineProject({
  test: {
    name: "web",
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    environment: "node",
    globalSetup: ["./test/build-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
