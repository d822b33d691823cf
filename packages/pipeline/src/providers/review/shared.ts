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

/**
 * Where the pipeline publishes an environment's status after each command. Locally that is a
 * summary file pair in the environment's state folder; on GitHub it is one sticky PR comment,
 * found again by {@link SUMMARY_MARKER} and edited in place.
 */
export interface ReviewChannel {
  /** Publishes (or replaces) the environment's summary; `location` is where to look at it. */
  publish(summary: Summary): Promise<{ location: string }>;
}

/**
 * The hidden first line of every Markdown summary, by which a sticky comment is found again.
 * Valid environment names pass through unchanged; any other character is written as %XX (per
 * UTF-16 unit, so it cannot throw on a lone surrogate) and a name can never close the HTML
 * comment early ("-->") or break it across lines.
 */
export const SUMMARY_MARKER = (environment: string) =>
  `<!-- codex-preview:${environment.replace(/[^A-Za-z0-9._-]/g, percentEncodeUnit)} -->`;

function percentEncodeUnit(unit: string): string {
  return `%${unit.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`;
}
