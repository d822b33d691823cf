/**
 * Runs the platform's test suites (not the pipeline's own integration tests: those deploy
 * previews, and a preview's deploy must not deploy previews) against a database server, and
 * says what failed: every failed test, and every error outside a test (a file that does not
 * load, a global setup that throws, an unhandled rejection, a crashed worker), each with its
 * file and the first lines of its message.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, join, relative } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { SECRET_VARIABLE } from "../core/secrets";
import { PipelineError } from "../errors";
import { run } from "../exec";
import { REPO_ROOT } from "../state";
import type { Summary, TestFailure, TestResult } from "../core/summary";

export const PLATFORM_PROJECTS = [
  "database",
  "observability",
  "auth",
  "stripe-webhook-handler",
  "web",
  "pipeline",
];

/** How many lines of one failure's message are kept: enough to name the cause. */
const MESSAGE_LINES = 8;
/** How many failures a summary lists; the count says how many there were. */
export const LISTED_FAILURES = 10;

/** The parts of vitest's JSON report (its `json` reporter) that are read here. */
export interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: {
    name: string;
    status?: string;
    /** Why the file itself failed (it did not load, a hook outside any test threw). */
    message?: string;
    assertionResults: { fullName: string; status: string; failureMessages?: string[] }[];
  }[];
}

export interface PlatformTestResult extends TestResult {
  failures: TestFailure[];
}

export interface PlatformTestOptions {
  databaseUrl?: string;
  onLine?: (line: string) => void;
  /** Another vitest config and its projects (the tests of this module run a fixture suite). */
  config?: string;
  projects?: readonly string[];
}

export async function runPlatformTests(
  options: PlatformTestOptions = {},
): Promise<PlatformTestResult> {
  const dir = await mkdtemp(join(tmpdir(), "codex-tests-"));
  const outputFile = join(dir, "results.json");
  const started = Date.now();
  try {
    const args = [
      "exec",
      "vitest",
      "run",
      ...(options.config ? ["--config", options.config] : []),
      ...(options.projects ?? PLATFORM_PROJECTS).flatMap((p) => ["--project", p]),
      "--reporter=dot",
      "--reporter=json",
      `--outputFile.json=${outputFile}`,
    ];
    const env: NodeJS.ProcessEnv = {
      // The pull request's own code runs here: it gets none of the run's tokens and keys.
      ...Object.fromEntries(
        Object.entries(process.env).filter(([name]) => !SECRET_VARIABLE.test(name)),
      ),
      CODEX_NESTED_RUN: "1",
      NO_COLOR: "1",
      FORCE_COLOR: "0",
    };
    if (options.databaseUrl) env.TEST_DATABASE_URL = options.databaseUrl;
    const output: string[] = [];
    const { code } = await run("pnpm", args, {
      cwd: REPO_ROOT,
      env,
      onLine: (line) => {
        output.push(line);
        if (line.trim()) options.onLine?.(line);
      },
    });
    const report = JSON.parse(
      await readFile(outputFile, "utf8").catch(() => "null"),
    ) as VitestJson | null;
    const failures = failuresOf(report, output, code);
    return {
      passed: report?.numPassedTests ?? 0,
      failed: report?.numFailedTests ?? 0,
      errors: failures.filter((f) => f.test === undefined).length,
      skipped: (report?.numPendingTests ?? 0) + (report?.numTodoTests ?? 0),
      durationMs: Date.now() - started,
      failures,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * What failed, from vitest's JSON report and its printed output. The report holds failed tests
 * and files that failed to load; errors outside any test (a global setup that throws, an
 * unhandled rejection) are only printed, in sections headed like "⎯⎯ Unhandled Error ⎯⎯". A run
 * that exits non-zero with neither gets the end of its output, so a failure is never nameless.
 */
export function failuresOf(
  report: VitestJson | null,
  output: string[],
  code: number,
): TestFailure[] {
  const failures: TestFailure[] = [];
  for (const file of report?.testResults ?? []) {
    const name = relativeFile(file.name);
    const failedTests = file.assertionResults.filter((a) => a.status === "failed");
    for (const test of failedTests) {
      failures.push({
        file: name,
        test: test.fullName,
        message: firstLines(test.failureMessages?.join("\n") ?? ""),
      });
    }
    if (file.status === "failed" && file.message?.trim()) {
      failures.push({ file: name, message: firstLines(file.message) });
    }
  }
  failures.push(...printedErrors(output));
  if (code !== 0 && failures.length === 0) {
    const tail = output
      .map((line) => stripVTControlCharacters(line).trimEnd())
      .filter((line) => line.trim())
      .slice(-15);
    failures.push({
      message: tail.length
        ? `the test run exited with code ${code}; its output ends with:\n${tail.join("\n")}`
        : `the test run exited with code ${code} and printed nothing`,
    });
  }
  return failures;
}

// "⎯⎯⎯⎯⎯⎯ Unhandled Error ⎯⎯⎯⎯⎯⎯⎯", "⎯⎯⎯ Failed Tests 2 ⎯⎯⎯", "⎯⎯⎯⎯[1/2]⎯"
const SECTION = /^\s*⎯+\s*(.*?)\s*⎯*\s*$/;
// Sections whose content the JSON report already holds, or that only introduce others.
const REPORTED = /^(Failed Tests|Failed Suites|Unhandled Errors)\b|^\[\d+\/\d+\]$/;

/** The error sections vitest prints for failures outside any test. */
function printedErrors(output: string[]): TestFailure[] {
  const found: TestFailure[] = [];
  let current: { title: string; lines: string[] } | undefined;
  const close = () => {
    if (current && !REPORTED.test(current.title) && current.lines.some((l) => l.trim())) {
      const file = fileOf(current.lines);
      found.push({
        ...(file ? { file } : {}),
        message: firstLines(
          current.lines
            .filter((line) => !/^\s*(❯|at )/.test(line) && !/^\s*File:/.test(line))
            .join("\n"),
        ),
        kind: current.title,
      });
    }
    current = undefined;
  };
  for (const raw of output) {
    const line = stripVTControlCharacters(raw).trimEnd();
    const section = SECTION.exec(line);
    if (section && line.includes("⎯")) {
      close();
      const title = section[1] ?? "";
      if (title) current = { title, lines: [] };
      continue;
    }
    current?.lines.push(line);
  }
  close();
  return found;
}

/** The file an error section names: a "File:" line, the test file it came from, or a frame. */
function fileOf(lines: string[]): string | undefined {
  for (const line of lines) {
    const named = /^\s*File:\s*(\S+)/.exec(line) ?? /originated in "([^"]+)"/.exec(line);
    if (named?.[1]) return relativeFile(named[1].replace(/:\d+(:\d+)?$/, ""));
  }
  for (const line of lines) {
    // " ❯ fn path:2:9", " ❯ [as setup] path:2:9", " ❯ path:2:9": the location is the last word.
    const frame = /^\s*❯\s+(?:.*\s)?\(?([^\s()]+?):\d+:\d+\)?$/.exec(line);
    if (frame?.[1] && !frame[1].includes("node_modules")) return relativeFile(frame[1]);
  }
  return undefined;
}

function relativeFile(path: string): string {
  return isAbsolute(path) ? relative(REPO_ROOT, path) : path;
}

function firstLines(text: string): string {
  const lines = stripVTControlCharacters(text)
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .map((line) => line.trimEnd())
    .filter((line) => line.trim());
  const kept = lines.slice(0, MESSAGE_LINES);
  if (lines.length > kept.length) kept.push("…");
  return kept.join("\n") || "(no message)";
}

/**
 * The failures as text for a terminal, a summary and a PR comment: a count, then each failure's
 * file (and test), and the first lines of its message.
 */
export function describeFailures(result: Pick<PlatformTestResult, "failed" | "failures">): string {
  const outside = result.failures.filter((f) => f.test === undefined).length;
  const counts = [
    result.failed ? `${result.failed} test(s) failed` : "",
    outside ? `${outside} error(s) outside the tests` : "",
  ].filter(Boolean);
  const head = `the platform tests failed: ${counts.join(" and ") || "the run failed"}`;
  const listed = result.failures.slice(0, LISTED_FAILURES).map((f) => {
    const where = [f.file, f.test].filter(Boolean).join(" › ") || "the test run";
    const message = f.message
      .split("\n")
      .map((line) => `      ${line}`)
      .join("\n");
    return `  ✗ ${where}${f.kind && f.test === undefined ? ` (${f.kind})` : ""}\n${message}`;
  });
  const more =
    result.failures.length > LISTED_FAILURES
      ? [`  … and ${result.failures.length - LISTED_FAILURES} more`]
      : [];
  return [`${head}:`, ...listed, ...more].join("\n");
}

/** "539 passed, 0 failed, 1 skipped", and the errors outside the tests when there were any. */
export function countTests(result: PlatformTestResult): string {
  const errors = result.errors ? `, ${result.errors} error(s) outside the tests` : "";
  return `${result.passed} passed, ${result.failed} failed, ${result.skipped} skipped${errors}`;
}

/** What a deploy's summary keeps of a run: the counts, and the failures it lists. */
export function testsOfSummary(result: PlatformTestResult): NonNullable<Summary["tests"]> {
  const { failures, ...counts } = result;
  return failures.length ? { ...counts, failures: failures.slice(0, LISTED_FAILURES) } : counts;
}

/** Throws TESTS_FAILED, naming what failed, unless every test passed and nothing else broke. */
export function assertTestsPassed(result: PlatformTestResult, hint: string): void {
  if (result.failures.length === 0 && result.failed === 0) return;
  throw new PipelineError("TESTS_FAILED", describeFailures(result), { hint });
}
