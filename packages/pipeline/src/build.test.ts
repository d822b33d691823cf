import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SOURCES, WEB_SOURCES } from "./build";
import { REPO_ROOT } from "./state";

const MIGRATIONS = "packages/database/drizzle";

/** Every code file under `path` (a file or a folder), tests left out as the hash leaves them. */
async function codeFiles(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return [];
  if (!info.isDirectory()) return /\.(ts|js|svelte)$/.test(path) ? [path] : [];
  const files: string[] = [];
  for (const entry of await readdir(path)) {
    if (entry === "node_modules" || entry.endsWith(".test.ts")) continue;
    files.push(...(await codeFiles(join(path, entry))));
  }
  return files;
}

describe("the build's keys", () => {
  it("a migration makes a new version (codeHash), but not a new vite build (webCodeHash)", () => {
    expect(SOURCES).toContain(MIGRATIONS);
    expect(WEB_SOURCES).toEqual(SOURCES.filter((source) => source !== MIGRATIONS));
  });

  it("holds only while no bundled source imports the migrations folder", async () => {
    // The web key leaves the migrations out because nothing bundled reads them at build time
    // (packages/database/src/migrate.ts reads them from disk, on the Node side). An import of
    // that folder would put them in vite's output, and the key would then reuse a stale build.
    const importsMigrations = /(?:from\s*|import\s*\(\s*)["'][^"']*\bdrizzle\//; // not drizzle-orm/…
    const offenders: string[] = [];
    for (const source of WEB_SOURCES) {
      for (const file of await codeFiles(join(REPO_ROOT, source))) {
        if (importsMigrations.test(await readFile(file, "utf8"))) offenders.push(file);
      }
    }
    expect(offenders).toEqual([]);
  });
});
