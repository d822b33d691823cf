/**
 * Which migrations are pending: the committed ones (drizzle-kit's journal) that a database has
 * not recorded yet. drizzle applies them in journal order and records one row per migration in
 * `drizzle.__drizzle_migrations`, so the ones past that count are the ones the next migrate runs.
 */
import { join, relative } from "node:path";
import { closeDb, createDb } from "@codex/database";
import { appliedCount, listMigrations } from "@codex/database/migrate";
import { MIGRATIONS_FOLDER } from "@codex/database/migrations-folder";
import { REPO_ROOT } from "../state";

export interface PendingMigration {
  /** drizzle's tag: "0001_add_nickname". */
  tag: string;
  /** The SQL file, absolute. */
  path: string;
  /** The SQL file relative to the repository root, as findings name it. */
  file: string;
}

/** The committed migrations, oldest first, with their files. */
export function committedMigrations(): PendingMigration[] {
  return listMigrations().map((tag) => {
    const path = join(MIGRATIONS_FOLDER, `${tag}.sql`);
    return { tag, path, file: relative(REPO_ROOT, path) };
  });
}

/** The committed migrations that the database at `url` lacks, oldest first. */
export async function pendingMigrations(url: string): Promise<PendingMigration[]> {
  const db = createDb(url);
  try {
    return committedMigrations().slice(await appliedCount(db));
  } finally {
    await closeDb(db);
  }
}
