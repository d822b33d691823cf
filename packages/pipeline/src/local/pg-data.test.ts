import { chmod, lstat, mkdir, mkdtemp, readlink, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pgDataLocation } from "./pg-data";
import { statePaths } from "../state";

let base: string;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), "codex-pg-data-"));
  await chmod(base, 0o755);
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

/** A state folder below a folder only its owner may enter, as root's home or mkdtemp's are. */
async function closedState() {
  const closed = join(base, "home");
  await mkdir(closed, { mode: 0o700 });
  await chmod(closed, 0o700);
  return { closed, paths: statePaths(join(closed, "checkout", ".codex")) };
}

describe("pgDataLocation", () => {
  it("keeps Postgres's files in the state folder when the postgres user can reach it", async () => {
    const paths = statePaths(join(base, "open", ".codex"));
    expect(await pgDataLocation(paths, 0, [join(base, "var")])).toEqual({ dir: paths.pgData });
  });

  it("keeps them there for a user who is not root, whatever the folder's mode", async () => {
    const { paths } = await closedState();
    expect(await pgDataLocation(paths, 1000, [join(base, "var")])).toEqual({ dir: paths.pgData });
  });

  it("as root below a closed folder: moves them where Postgres can reach, linked from <state>/pg", async () => {
    const { closed, paths } = await closedState();
    const roots = [join(base, "var")];
    const first = await pgDataLocation(paths, 0, roots);
    expect(first.dir.startsWith(join(base, "var"))).toBe(true);
    expect(first.movedBecause).toContain(closed);
    expect((await lstat(paths.pgData)).isSymbolicLink()).toBe(true);
    expect(await readlink(paths.pgData)).toBe(first.dir);
    // The same place every time, found through the link.
    expect(await pgDataLocation(paths, 0, roots)).toEqual(first);
  });

  it("replaces an empty folder left by an attempt that could not start", async () => {
    const { paths } = await closedState();
    await mkdir(paths.pgData, { recursive: true });
    const moved = await pgDataLocation(paths, 0, [join(base, "var")]);
    expect(await readlink(paths.pgData)).toBe(moved.dir);
  });

  it("forgets the files of a state folder that was deleted: a fresh state gets a fresh cluster", async () => {
    const { paths } = await closedState();
    const roots = [join(base, "var")];
    const first = await pgDataLocation(paths, 0, roots);
    await mkdir(first.dir, { recursive: true });
    await writeFile(join(first.dir, "PG_VERSION"), "18\n");
    await rm(paths.root, { recursive: true });
    const again = await pgDataLocation(paths, 0, roots);
    expect(again.dir).toBe(first.dir);
    expect(existsSync(join(again.dir, "PG_VERSION"))).toBe(false);
  });

  it("refuses to hide a cluster that already sits in the state folder", async () => {
    const { paths } = await closedState();
    await mkdir(paths.pgData, { recursive: true });
    await writeFile(join(paths.pgData, "PG_VERSION"), "18\n");
    await expect(pgDataLocation(paths, 0, [join(base, "var")])).rejects.toThrow(
      /holds files that Postgres cannot reach/,
    );
  });

  it("tries the next place when one is closed too", async () => {
    const { paths } = await closedState();
    const shut = join(base, "shut");
    await mkdir(shut, { mode: 0o700 });
    await chmod(shut, 0o700);
    const moved = await pgDataLocation(paths, 0, [join(shut, "var"), join(base, "tmp")]);
    expect(moved.dir.startsWith(join(base, "tmp"))).toBe(true);
  });
});
