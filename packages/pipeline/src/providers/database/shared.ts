import type { Environment } from "../../core/environments";

export interface Branch {
  /** The provider's name for it: a Neon branch name, or a local database name. */
  name: string;
  environment: string;
  /** What the Workers connect with: on Neon, the pooled URI (`-pooler` in the host). */
  url: string;
  /**
   * What migrations and the platform tests connect with: on Neon, the direct URI, since schema
   * migrations need a direct connection (not PgBouncer's transaction pooling). Locally, `url`.
   */
  directUrl: string;
  /** True when this call made it (false: it already existed and was reused). */
  created: boolean;
}

export interface BranchInfo {
  name: string;
  environment: string;
  createdAt?: string;
}

/**
 * Database branches: a copy of main per environment. The local implementation copies a template
 * database (O(size) of main); Neon creates a copy-on-write branch (O(1)).
 */
export interface DatabaseBranches {
  /** Makes sure main exists and is migrated (and, locally, seeded on first use). */
  ensureMain(): Promise<{ url: string; directUrl: string; created: boolean }>;
  /** The environment's branch, made from main when missing; `reset` re-copies it. */
  ensure(environment: Environment, options?: { reset?: boolean }): Promise<Branch>;
  url(environment: Environment): Promise<string>;
  list(): Promise<BranchInfo[]>;
  /** Deletes the branch; false when there was none. */
  delete(environment: Environment): Promise<boolean>;
  /** A throwaway copy of main for trying migrations (`url` is a direct connection); `drop` removes it. */
  scratch(label: string): Promise<{ url: string; drop(): Promise<void> }>;
  /** Makes newly created branches start from main as it is now. */
  refreshFromMain(): Promise<void>;
}
