import { PipelineError } from "../errors";
import { lastLines, run } from "../exec";
import { REPO_ROOT } from "../state";
import { formatDuration } from "../core/format";
import { Progress } from "../progress";
import type { CommandIO } from "./context";
import { assertTestsPassed, countTests, runPlatformTests } from "./platform-tests";

async function runCheck(onLine: (line: string) => void): Promise<void> {
  const result = await run("pnpm", ["run", "--silent", "check"], { cwd: REPO_ROOT });
  if (result.code === 0) return;
  lastLines(result.output, 30).forEach(onLine);
  throw new PipelineError("TESTS_FAILED", "lint, types or format failed (see above)");
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
