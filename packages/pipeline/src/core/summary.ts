/**
 * What a command reports: its steps, its test results and where to look. The review channels
 * (providers/review) render and publish it; the commands build it.
 */
export type StepStatus = "ok" | "failed" | "skipped" | "running";

/** One step of a command (branch, migrate, build, deploy, smoke...), in the order it ran. */
export interface StepResult {
  name: string;
  status: StepStatus;
  durationMs: number;
  /** One line of context: "3 migrations applied", "HTTP 502 from /healthz". */
  detail?: string;
}

export interface TestResult {
  passed: number;
  failed: number;
  skipped: number;
  durationMs: number;
  /** Errors outside any test: a file that did not load, a global setup that threw, a crash. */
  errors?: number;
}

/** One thing that failed in a test run, with enough of its message to name the cause. */
export interface TestFailure {
  /** The failing file, relative to the repository root, when it is known. */
  file?: string;
  /** The test's full name; absent for an error outside any test. */
  test?: string;
  /** What vitest called an error outside a test ("Unhandled Error", "Unhandled Rejection"). */
  kind?: string;
  /** The first lines of the error message. */
  message: string;
}

/** Everything the review channel shows about one environment after a command. */
export interface Summary {
  /** The environment's name: "preview-12", "production". */
  environment: string;
  target: "local" | "cloud";
  status: "deployed" | "failed" | "deleted" | "in-progress";
  /** Null when nothing is served (deleted, or not deployed yet). */
  urls: { web: string; auth: string; webhook: string } | null;
  /** `migrationsApplied` are the ones this run applied; empty means none were pending. */
  database: { branch: string; migrationsApplied: string[]; migrationsTotal: number } | null;
  /** The deploy's version id. */
  version?: string;
  commit?: string;
  steps: StepResult[];
  /** Unit and integration tests; absent when they did not run. */
  tests?: TestResult & { skipped_reason?: string; failures?: TestFailure[] };
  /** `--skip-tests` was given: the summary says so plainly instead of "Not run". */
  testsSkipped?: boolean;
  /**
   * Playwright results. `reportDir` is the HTML report's folder (its `index.html` is linked) or
   * an http(s) URL; it and `screenshots` are paths relative to the summary file's folder.
   */
  e2e?: TestResult & { reportDir: string; screenshots: string[] };
  /** What the PR's (or the release's) migrations do to the schema, and whether they are safe. */
  schema?: SchemaReport;
  /** The e2e screenshots compared with production's, page by page and viewport by viewport. */
  visual?: VisualReport;
  /**
   * Where the summary folder's e2e files are published (the cloud target's report Worker,
   * `https://codex-report-preview-<N>.<subdomain>.workers.dev`): a relative path `p` of `e2e` or
   * `visual` is served at `<reportUrl>/<p>`. Absent on the local target, which has the files.
   */
  reportUrl?: string;
  /** Why it failed, in one paragraph. */
  error?: string;
  /** ISO 8601. */
  updatedAt: string;
}

// ---------------------------------------------------------------------------------------------
// Schema checks (lint, diff, destructive-change gate, old code on the new schema)

/** One finding of the migration linter (squawk) on a pending migration. */
export interface LintFinding {
  /** The migration file, relative to the repository root. */
  file: string;
  line: number;
  /** The linter's rule ("ban-drop-column", "prefer-robust-stmts", ...). */
  rule: string;
  /** The linter's message, one line. */
  message: string;
  /** How to fix it, one line. */
  fix: string;
  /** Whether the rule destroys or rewrites data (what the production gate refuses unless approved). */
  destructive: boolean;
  /** The approval marker's reason, when the migration carries one for this finding. */
  approved?: string;
  /** The statement it is about, on one line (cut at 200 characters). */
  statement?: string;
}

/** One change the migrations make to the real schema, from the migrated branch against main. */
export interface SchemaChange {
  change: "added" | "removed" | "changed";
  kind: "table" | "column" | "index" | "constraint" | "enum" | "sequence" | "view";
  /** "users", "users.nickname", "users_email_lower_key". */
  name: string;
  /** What it was and what it is: "text NULL" → "text NOT NULL DEFAULT ''". */
  before?: string;
  after?: string;
  /** A removed or narrowed table or column (data is lost or may not fit). */
  destructive: boolean;
  /** The approval marker's reason, when a pending migration approves this change. */
  approved?: string;
}

/** The verdict of one check: what it found, and whether production-deploy would go ahead. */
export interface SchemaCheck {
  status: "passed" | "failed" | "refused" | "skipped";
  /** One line: "2 findings, 1 destructive (approved)", "old release v3 answered 500 on /health/schema". */
  detail: string;
}

export interface SchemaReport {
  /** Tags of the migrations that main lacks (the ones checked), oldest first. */
  pending: string[];
  lint: LintFinding[];
  diff: SchemaChange[];
  /** The destructive-change gate, the old code's check on the new schema. */
  gate: SchemaCheck;
  oldCode?: SchemaCheck & { version?: string };
}

// ---------------------------------------------------------------------------------------------
// Visual comparison with production

/** One page at one viewport, compared with production's. Paths are relative like `e2e`'s. */
export interface VisualPage {
  /** A stable name: "pricing", "account (pro)". */
  page: string;
  /** "desktop", "phone". */
  viewport: string;
  status: "changed" | "unchanged" | "added" | "removed";
  /** Changed pixels over all pixels, 0..1; absent for added or removed pages. */
  ratio?: number;
  preview?: string;
  production?: string;
  diff?: string;
}

export interface VisualReport {
  /** What was compared against: production's version (or "none yet"). */
  baseline: string;
  /** Production's shots of that version were those an earlier run made (visual.ts), not new. */
  reused?: boolean;
  /** The changed-pixel ratio above which a page counts as changed. */
  threshold: number;
  pages: VisualPage[];
  /** Whether a reviewer approved the visual changes (the cloud target's commit status). */
  approval?: { state: "pending" | "approved" | "not-needed"; by?: string };
}
