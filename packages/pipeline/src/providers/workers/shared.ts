import type { DerivedStack } from "../../core/derive";
import type { Environment } from "../../core/environments";
import type { ReleaseHandle } from "../../old-code";

export interface StackUrls {
  web: string;
  auth: string;
  webhook: string;
}

export interface DeployResult {
  version: string;
  urls: StackUrls;
  /** False when the sources and configs were unchanged and the previous bundles were reused. */
  built: boolean;
}

export interface DeployedEnvironment {
  name: string;
  version?: string;
  versions: string[];
  urls: StackUrls;
  updatedAt: string;
}

/**
 * The Worker platform: deploys an environment's derived stack, lists, deletes and rolls back.
 * Local: one Miniflare per environment on the resident host. Cloud: wrangler against Cloudflare.
 */
export interface WorkerPlatform {
  /** Builds and serves a new version; unchanged sources reuse the current one unless `rebuild`. */
  deploy(
    stack: DerivedStack,
    options: { database: string; rebuild?: boolean },
  ): Promise<DeployResult>;
  list(): Promise<DeployedEnvironment[]>;
  /** Stops serving the environment and forgets it; false when it was not deployed. */
  delete(environment: Environment): Promise<boolean>;
  /**
   * What the environment serves now, as the platform itself says (not this machine's record), in
   * a form `rollback`'s `to` takes; undefined when nothing is deployed.
   */
  live(environment: Environment): Promise<string | undefined>;
  /**
   * Serves an earlier version again (the previous one by default). `database`, when given, is
   * the environment's DATABASE_URL now, re-applied with its other current secrets.
   */
  rollback(
    environment: Environment,
    to?: string,
    options?: { database?: string },
  ): Promise<{ from: string; to: string }>;
  /**
   * Refuses, changing nothing, a rollback that cannot happen: an environment with nothing
   * deployed, a version that does not exist or is malformed. What it knows only from the
   * platform itself (Cloudflare's deployments, on a fresh runner) is checked by `rollback`.
   * Gives the version it would serve, when it knows it without asking the platform.
   */
  checkRollback(environment: Environment, to?: string): Promise<string | undefined>;
  /**
   * The version `rollback(environment, to)` would serve, asking the platform itself when this
   * machine recorded nothing; undefined when there is none. For the rollback's schema check.
   */
  rollbackTarget(environment: Environment, to?: string): Promise<string | undefined>;
  /**
   * `version` (what the environment serves now by default) as a handle whose bundles, with the
   * configs and secrets they run with, the old-code check (old-code.ts) serves elsewhere;
   * undefined when no such version is deployed.
   */
  release(environment: Environment, version?: string): Promise<ReleaseHandle | undefined>;
  urls(environment: Environment): StackUrls;
}
