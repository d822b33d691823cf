/**
 * The platform test runner against small suites written for each test: the real vitest, run the
 * way a preview's test step runs it, so that what a person reads when the tests fail is what
 * vitest really reported.
 */
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { describeFailures, runPlatformTests } from "./platform-tests";

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A suite in a folder of its own: its files, and a config naming its one project "fixture". */
async function suite(files: Record<string, string>, config: Record<string, unknown> = {}) {
  const dir = await mkdtemp(join(tmpdir(), "codex-suite-"));
  await chmod(dir, 0o755);
  dirs.push(dir);
  // Plain JavaScript with vitest's globals: nothing here needs to resolve packages from /tmp.
  const test = { name: "fixture", include: ["*.test.js"], globals: true, ...config };
  await writeFile(
    join(dir, "vitest.config.mjs"),
    `export default { root: ${JSON.stringify(dir)}, test: ${JSON.stringify(test)} };\n`,
  );
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return runPlatformTests({ config: join(dir, "vitest.config.mjs"), projects: ["fixture"] });
}

describe("runPlatformTests", () => {
  it("counts a passing run, and finds nothing to report", async () => {
    const result = await suite({
      "ok.test.js": `test("one", () => expect(1 + 1).toBe(2));\ntest.skip("later", () => {});\n`,
    });
    expect(result).toMatchObject({ passed: 1, failed: 0, skipped: 1, errors: 0, failures: [] });
  });

  it("gives the pull request's tests none of the run's tokens and keys", async () => {
    const names = ["CLOUDFLARE_API_TOKEN", "NEON_API_KEY_PREVIEW", "SESSION_SECRET_PRODUCTION"];
    const before = { ...process.env };
    for (const name of names) process.env[name] = `value-of-${name}`;
    process.env.CODEX_HARMLESS_SETTING = "kept";
    try {
      const result = await suite({
        "env.test.js": `test("env", () => {
          for (const name of ${JSON.stringify(names)}) expect(process.env[name], name).toBeUndefined();
          expect(process.env.CODEX_HARMLESS_SETTING).toBe("kept");
        });\n`,
      });
      expect(result).toMatchObject({ passed: 1, failed: 0, errors: 0 });
    } finally {
      process.env = before;
    }
  });

  it("names a failed test: its file, its name and the first lines of its message", async () => {
    const result = await suite({
      "sums.test.js": `describe("sums", () => {\n  test("adds", () => expect(1 + 1).toBe(3));\n});\n`,
    });
    expect(result.failed).toBe(1);
    expect(result.failures).toHaveLength(1);
    const [failure] = result.failures;
    expect(failure?.file).toMatch(/sums\.test\.js$/);
    expect(failure?.test).toBe("sums adds");
    expect(failure?.message).toMatch(/expected 2 to be 3/);
  });

  it("names a file that does not load (a broken import), which no test count shows", async () => {
    const result = await suite({
      "broken.test.js": `import { gone } from "./no-such-module.js";\ntest("never runs", () => gone());\n`,
      "fine.test.js": `test("runs", () => expect(true).toBeTruthy());\n`,
    });
    expect(result.passed).toBe(1);
    expect(result.failed).toBe(0);
    expect(result.errors).toBe(1);
    const [failure] = result.failures;
    expect(failure?.file).toMatch(/broken\.test\.js$/);
    expect(failure?.test).toBeUndefined();
    expect(failure?.message).toMatch(/no-such-module\.js/);
    expect(describeFailures(result)).toMatch(/1 error\(s\) outside the tests/);
  });

  it("names a global setup that throws, before any file runs (a fresh clone's first failure)", async () => {
    const result = await suite(
      {
        "setup.js": `export default function () {\n  throw new Error("the build could not start: marker-4711");\n}\n`,
        "fine.test.js": `test("runs", () => expect(true).toBeTruthy());\n`,
      },
      { globalSetup: ["./setup.js"] },
    );
    expect(result.passed).toBe(0);
    expect(result.failures.length).toBeGreaterThan(0);
    const text = describeFailures(result);
    expect(text).toMatch(/marker-4711/);
    expect(text).toMatch(/setup\.js/);
  });

  it("names an unhandled rejection outside any test's own result", async () => {
    const result = await suite({
      "leak.test.js":
        `test("leaks", async () => {\n` +
        `  Promise.reject(new Error("leaked rejection marker-0815"));\n` +
        `  await new Promise((r) => setTimeout(r, 50));\n` +
        `});\n`,
    });
    const text = describeFailures(result);
    expect(result.failures.length).toBeGreaterThan(0);
    expect(text).toMatch(/marker-0815/);
    expect(text).toMatch(/Unhandled Rejection/);
  });

  it("a run that fails before it starts (a missing config) says why", async () => {
    const result = await runPlatformTests({
      config: "/nonexistent/vitest.config.mjs",
      projects: ["fixture"],
    });
    expect(result.failures.length).toBeGreaterThan(0);
    expect(describeFailures(result)).toMatch(/nonexistent\/vitest\.config\.mjs/);
  });
});
