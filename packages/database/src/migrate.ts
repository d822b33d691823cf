import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { migrate as drizzleMigrate } from "drizzle-orm/postgres-js/migrator";
import { closeDb, createDb, type Database } from "./client";
import { MIGRATIONS_FOLDER } from "./migrations-folder";

export interface MigrationResult {
  /** Tags of the migrations this run applied (for example `0000_initial`), oldest first. */
  applied: string[];
  /** How many migrations the database now has recorded. */
  total: number;
}

interface Journal {
  entries: { idx: number; tag: string; when: number }[];
}

/** Tags of the committed migrations, oldest first, from drizzle-kit's journal. */
export function listMigrations(): string[] {
  const text = readFileSync(join(MIGRATIONS_FOLDER, "meta", "_journal.json"), "utf8");
  return (JSON.parse(text) as Journal).entries.map((e) => e.tag);
}

/**
 * Applies the committed migrations that the database at `url` lacks, and reports which ones ran.
 * drizzle runs them in one transaction, so a failing migration leaves the database as it was.
 * Running it again is safe: applied migrations are skipped.
 */
export async function migrate(url: string): Promise<MigrationResult> {
  const db = createDb(url);
  try {
    const before = await appliedCount(db);
    await drizzleMigrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
    const after = await appliedCount(db);
    return { applied: listMigrations().slice(before, after), total: after };
  } finally {
    await closeDb(db);
  }
}

/** How many migrations the database has recorded; 0 for a database never migrated. */
export async function appliedCount(db: Database): Promise<number> {
  const [table] = await db.execute<{ name: string | null }>(
    sql`select to_regclass('drizzle.__drizzle_migrations')::text as name`,
  );
  if (!table?.name) return 0;
  const [row] = await db.execute<{ n: number }>(
    sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
  );
  return row?.n ?? 0;
}
