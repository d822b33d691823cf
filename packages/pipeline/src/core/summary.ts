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
  /** Why it failed, in one paragraph. */
  error?: string;
  /** ISO 8601. */
  updatedAt: string;
}
