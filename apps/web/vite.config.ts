import { sveltekit } from "@sveltejs/kit/vite";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [sveltekit()],
  build: {
    // Provided by workerd at run time.
    rollupOptions: { external: [/^cloudflare:/] },
  },
  ssr: {
    resolve: {
      // The server build runs in workerd: take each package's Workers build (postgres.js's uses
      // cloudflare:sockets; its Node build needs net and tls).
      conditions: ["workerd", "worker", "module", "development|production"],
      externalConditions: ["workerd", "worker"],
    },
  },
});
