import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedServer } from "@codex/database/embedded";
import { migrate } from "@codex/database/migrate";
import { seed } from "@codex/database/seed";
import { ensureStackBuilt, startStack } from "../test/stack";

/**
 * Without E2E_BASE_URL, serve the whole stack (web, auth and webhook Workers in workerd) on a
 * fresh, migrated and seeded embedded database, and point the suite at it.
 */
export default async function globalSetup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.E2E_BASE_URL) {
    console.log(`e2e: testing ${process.env.E2E_BASE_URL}`);
    return undefined;
  }
  await ensureStackBuilt((line) => console.log(`e2e: ${line}`));
  const dataDir = await mkdtemp(join(tmpdir(), "codex-e2e-pg-"));
  const server = await startEmbeddedServer({ dataDir, ephemeral: true, durable: false });
  try {
    const databaseUrl = await server.createDatabase("e2e");
    await migrate(databaseUrl);
    // The demo users, as on main and so on every preview: the visual spec logs in as them.
    await seed(databaseUrl);
    const environment = process.env.E2E_ENVIRONMENT ?? "preview-1";
    const stack = await startStack({
      databaseUrl,
      environment,
      // Made up for this throwaway stack: they sign and check its own test events and sessions.
      stripeWebhookSecret: `whsec_e2e_${crypto.randomUUID().replaceAll("-", "")}`,
      sessionSecret: crypto.randomUUID() + crypto.randomUUID(),
      logLevel: "warn",
    });
    process.env.E2E_BASE_URL = stack.url.origin;
    process.env.E2E_ENVIRONMENT = environment;
    console.log(`e2e: serving the stack (${environment}) at ${stack.url.origin}`);
    return async () => {
      await stack.dispose();
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}
