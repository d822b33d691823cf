import { defineConfig } from "drizzle-kit";

// Migrations are generated from the schema (`pnpm --filter @codex/database generate`) and
// committed. They are never edited by hand.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/schema/index.ts",
  out: "./drizzle",
  strict: true,
  verbose: true,
});
