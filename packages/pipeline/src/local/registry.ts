import type { WorkerKind } from "../core/derive";
import { readJson, writeFileAtomic, type StatePaths } from "../state";

/** One Worker of one deployed version, as the local host serves it. */
export interface WorkerDeployment {
  kind: WorkerKind;
  /** The derived Worker name (e.g. auth-worker-preview-7). */
  name: string;
  /** The derived wrangler config this Worker was bundled with. */
  configPath: string;
  /** wrangler's dry-run output folder, and the entry module in it. */
  bundleDir: string;
  main: string;
  hostname: string;
}

export interface Version {
  id: string;
  createdAt: string;
  /** Hash of the sources and configs it was built from; an unchanged hash reuses the bundles. */
  sourceHash: string;
  /** How many committed migrations the code was built with (absent in versions from before). */
  migrations?: number;
  workers: WorkerDeployment[];
  /** The web app's static assets for this version (copied, so later builds cannot change them). */
  assetsDir: string;
}

export interface EnvironmentRecord {
  name: string;
  kind: "production" | "staging" | "preview";
  pr?: number;
  /** The local Postgres database this environment uses. */
  database: string;
  createdAt: string;
  updatedAt: string;
  /** The version being served; absent until the first deploy finishes. */
  current?: string;
  /** Oldest first. */
  versions: Version[];
}

export interface Registry {
  environments: Record<string, EnvironmentRecord>;
}

export async function readRegistry(paths: StatePaths): Promise<Registry> {
  return (await readJson<Registry>(paths.registry)) ?? { environments: {} };
}

export async function writeRegistry(paths: StatePaths, registry: Registry): Promise<void> {
  await writeFileAtomic(paths.registry, `${JSON.stringify(registry, null, 2)}\n`);
}

/**
 * Changes the registry under its own lock, so that concurrent runs for different environments
 * never lose each other's writes.
 */
export async function updateRegistry(
  paths: StatePaths,
  change: (registry: Registry) => void | Promise<void>,
  withLock: <T>(name: string, fn: () => Promise<T>) => Promise<T>,
): Promise<Registry> {
  return withLock("registry", async () => {
    const registry = await readRegistry(paths);
    await change(registry);
    await writeRegistry(paths, registry);
    return registry;
  });
}

export function currentVersion(record: EnvironmentRecord): Version | undefined {
  return record.versions.find((v) => v.id === record.current);
}
