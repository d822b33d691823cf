/**
 * `pnpm --filter @codex/database migrate|seed`: applies the migrations to, or seeds, the
 * database named by DATABASE_URL. The URL comes from the environment, never from argv,
 * so that it stays out of shell history and process listings.
 */
import { migrate } from "./migrate";
import { seed } from "./seed";

const USAGE = "usage: DATABASE_URL=postgres://... codex-db <migrate|seed>";

async function main(argv: string[]): Promise<number> {
  const command = argv[0];
  if (command !== "migrate" && command !== "seed") {
    console.error(command ? `unknown command "${command}"\n${USAGE}` : USAGE);
    return 2;
  }
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error(`DATABASE_URL is not set\n${USAGE}`);
    return 2;
  }
  if (command === "migrate") {
    const result = await migrate(url);
    console.log(
      result.applied.length
        ? `applied ${result.applied.length} migration(s): ${result.applied.join(", ")}`
        : `up to date (${result.total} migrations)`,
    );
  } else {
    const result = await seed(url);
    console.log(
      result.created ? `seeded ${result.created} demo users` : "demo data already present",
    );
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`codex-db: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
