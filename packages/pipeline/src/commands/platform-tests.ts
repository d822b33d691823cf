/**
 * Runs the platform's test suites (not the pipeline's own integration tests: those deploy
 * previews, and a preview's deploy must not deploy previews) against a database server.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PipelineError } from "../errors";
import { REPO_ROOT } from "../local/state";
import type { TestResult } from "../providers/review/shared";

export const PLATFORM_PROJECTS = [
  "database",
  "observability",
  "auth",
  "stripe-webhook-handler",
  "web",
  "pipeline",
];

interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: { name: string; assertionResults: { fullName: string; status: string }[] }[];
}

export async function runPlatformTests(
  options: { databaseUrl?: string; onLine?: (line: string) => void } = {},
): Promise<TestResult & { failures: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), "codex-tests-"));
  const outputFile = join(dir, "results.json");
  const started = Date.now();
  try {
    const args = [
      "exec",
      "vitest",
      "run",
      ...PLATFORM_PROJECTS.flatMap((p) => ["--project", p]),
      "--reporter=dot",
      "--reporter=json",
      `--outputFile.json=${outputFile}`,
    ];
    const env: NodeJS.ProcessEnv = { ...process.env, CODEX_NESTED_RUN: "1" };
    if (options.databaseUrl) env.TEST_DATABASE_URL = options.databaseUrl;
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn("pnpm", args, { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
      const forward = (chunk: Buffer) => {
        for (const line of chunk.toString("utf8").split("\n"))
          if (line.trim()) options.onLine?.(line);
      };
      child.stdout.on("data", forward);
      child.stderr.on("data", forward);
      child.on("error", reject);
      child.on("close", (c) => resolve(c ?? 1));
    });
    const report = JSON.parse(
      await readFile(outputFile, "utf8").catch(() => "null"),
    ) as VitestJson | null;
    if (!report) {
      throw new PipelineError("TESTS_FAILED", `the test run ended (exit ${code}) without a report`);
    }
    const failures = report.testResults.flatMap((file) =>
      file.assertionResults.filter((a) => a.status === "failed").map((a) => a.fullName),
    );
    return {
      passed: report.numPassedTests,
      failed: report.numFailedTests + (code !== 0 && report.numFailedTests === 0 ? 1 : 0),
      skipped: report.numPendingTests + report.numTodoTests,
      durationMs: Date.now() - started,
      failures,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
