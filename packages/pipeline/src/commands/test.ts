import { spawnTracked } from "../local/processes";
import { PipelineError } from "../errors";
import { REPO_ROOT } from "../local/state";
import { formatDuration } from "../core/format";
import { Progress } from "../progress";
import type { CommandIO } from "./context";
import { assertTestsPassed, countTests, runPlatformTests } from "./platform-tests";

function runCheck(onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawnTracked("pnpm", ["run", "--silent", "check"], { cwd: REPO_ROOT });
    const lines: string[] = [];
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) lines.push(line);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) return resolve();
      lines.slice(-30).forEach(onLine);
      reject(new PipelineError("TESTS_FAILED", "lint, types or format failed (see above)"));
    });
  });
}

/**
 * test: lint, types and format, then the platform's unit and integration tests. The tests get
 * their own database server (embedded, or TEST_DATABASE_URL): never main.
 */
export async function test(io: CommandIO): Promise<{ passed: number; failed: number }> {
  const progress = new Progress({ write: io.out });
  await progress.step("lint, types and format (pnpm check)", () => runCheck(io.err));
  const result = await progress.step(
    "unit and integration tests",
    async () => {
      const tests = await runPlatformTests({
        ...(process.env.TEST_DATABASE_URL ? { databaseUrl: process.env.TEST_DATABASE_URL } : {}),
      });
      assertTestsPassed(tests, "Run the failing file with `pnpm vitest run <file>` to see it all.");
      return tests;
    },
    countTests,
  );
  progress.line();
  progress.line(
    `✓ ${result.passed} passed, ${result.failed} failed in ${formatDuration(progress.elapsedMs)}`,
  );
  return result;
}
