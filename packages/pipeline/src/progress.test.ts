import { describe, expect, it } from "vitest";
import { Progress } from "./progress";

describe("Progress", () => {
  it("marks a step that throws as failed (✗), with the first line of why, and rethrows", async () => {
    const lines: string[] = [];
    const progress = new Progress({ write: (line) => lines.push(line) });
    const failing = progress.step("run the platform tests", async () => {
      throw new Error("the platform tests failed: 1 error(s) outside the tests:\n  ✗ a.test.ts");
    });
    await expect(failing).rejects.toThrow(/outside the tests/);
    expect(lines[1]).toMatch(
      /^ {2}✗ run the platform tests \(\d+ ms\) — the platform tests failed: 1 error\(s\) outside the tests$/,
    );
    expect(progress.steps).toEqual([
      {
        name: "run the platform tests",
        status: "failed",
        durationMs: expect.any(Number) as number,
        detail: "the platform tests failed: 1 error(s) outside the tests",
      },
    ]);
  });

  it("marks a step that returns as done (✓), with its detail", async () => {
    const lines: string[] = [];
    const progress = new Progress({ write: (line) => lines.push(line) });
    await progress.step(
      "migrate",
      async () => 3,
      (n) => `${n} applied`,
    );
    expect(lines).toEqual([
      "▸ migrate",
      expect.stringMatching(/^ {2}✓ migrate \(\d+ ms\) — 3 applied$/),
    ]);
    expect(progress.steps[0]?.status).toBe("ok");
  });
});
