/**
 * Cloudflare keeps every version of a Worker; we record in a small JSON state file which version
 * each deploy made, per environment, so that `rollback` knows where to go and `list` what runs.
 */
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import type { WorkerKind } from "../../../core/derive";
import { readJson, statePaths, withLock, writeFileAtomic } from "../../../state";

/** How many complete deploys (releases) each environment keeps in the state file. */
export const KEEP_RELEASES = 10;
/** How many Worker records (deploys and rollbacks of single Workers) each environment keeps. */
const KEEP_RECORDS = 6 * KEEP_RELEASES;

/** One Worker's version, as a deploy or a rollback left it. */
export interface WorkerRecord {
  environment: string;
  /** The Worker's name on Cloudflare. */
  worker: string;
  kind: WorkerKind;
  versionId: string;
  at: string;
  action: "deploy" | "rollback";
  url?: string;
}

/** A deploy in which every Worker of the environment succeeded. */
export interface Release {
  environment: string;
  /** The combined id: the first 8 characters of each Worker's version id, in deploy order. */
  id: string;
  workers: { kind: WorkerKind; worker: string; versionId: string }[];
  at: string;
}

export interface CloudflareState {
  /** The workers.dev subdomain wrangler reported, when no option sets it. */
  subdomain?: string;
  records: WorkerRecord[];
  releases: Release[];
  /** The release each environment serves, by environment name. */
  current: Record<string, string>;
}

/** The combined id of one version per Worker. */
export function releaseId(versions: readonly { versionId: string }[]): string {
  return versions.map((v) => v.versionId.slice(0, 8)).join(".");
}

/**
 * What names a release on Cloudflare itself, so that a runner with no state file can tell one from
 * another: every Worker of a deploy gets the same `wrangler deploy --tag`, "codex-", the commit
 * (GITHUB_SHA, 12 characters, or "local") and the time, which makes it unique per deploy.
 */
export const RELEASE_TAG = /^codex-[0-9a-z]{1,12}-\d{8}T\d{9}Z$/;

/** A new release tag for a deploy of `commit`. */
export function newReleaseTag(commit: string | undefined, now = new Date()): string {
  const sha = /^[0-9a-f]{7,40}$/i.test(commit ?? "")
    ? (commit as string).slice(0, 12).toLowerCase()
    : "local";
  const stamp = now.toISOString().replace(/[-:.]/g, "");
  return `codex-${sha}-${stamp}`;
}

function emptyState(): CloudflareState {
  return { records: [], releases: [], current: {} };
}

/** The state file at `file`. */
export class StateFile {
  constructor(readonly file: string) {}

  readSync(): CloudflareState | undefined {
    try {
      return JSON.parse(readFileSync(this.file, "utf8")) as CloudflareState;
    } catch {
      return undefined;
    }
  }

  async read(): Promise<CloudflareState> {
    return (await readJson<CloudflareState>(this.file)) ?? emptyState();
  }

  /** Read, change and write the state under a lock: environments may deploy side by side. */
  async update(change: (state: CloudflareState) => void): Promise<void> {
    await withLock(statePaths(dirname(this.file)), "cloudflare-state", async () => {
      const state = await this.read();
      change(state);
      await writeFileAtomic(this.file, `${JSON.stringify(state, null, 2)}\n`, 0o600);
    });
  }

  /** Records `release` as what its environment serves, keeping the last KEEP_RELEASES. */
  release(release: Release): Promise<void> {
    const environment = release.environment;
    return this.update((state) => {
      state.releases = state.releases.filter(
        (r) => r.environment !== environment || r.id !== release.id,
      );
      state.releases.push(release);
      state.current[environment] = release.id;
      const own = state.releases.filter((r) => r.environment === environment);
      const drop = new Set(own.slice(0, Math.max(0, own.length - KEEP_RELEASES)));
      state.releases = state.releases.filter((r) => !drop.has(r));
      const mine = state.records.filter((r) => r.environment === environment);
      // Each Worker's latest record says what it runs now, so it stays whatever its age.
      const latest = new Set(new Map(mine.map((r) => [r.kind, r])).values());
      const old = new Set(
        mine.slice(0, Math.max(0, mine.length - KEEP_RECORDS)).filter((r) => !latest.has(r)),
      );
      state.records = state.records.filter((r) => !old.has(r));
    });
  }

  /** Forgets `environment`: its records, releases and current release. */
  forget(environment: string): Promise<void> {
    return this.update((s) => {
      s.records = s.records.filter((r) => r.environment !== environment);
      s.releases = s.releases.filter((r) => r.environment !== environment);
      s.current = Object.fromEntries(
        Object.entries(s.current).filter(([name]) => name !== environment),
      );
    });
  }
}
