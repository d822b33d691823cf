import { describe, expect, it } from "vitest";
import { durationFromEnv } from "./env";
import { PipelineError } from "./errors";

describe("durationFromEnv", () => {
  it("gives the fallback when unset or empty, and the number when whole milliseconds", () => {
    expect(durationFromEnv("CODEX_X_MS", 500, {})).toBe(500);
    expect(durationFromEnv("CODEX_X_MS", 500, { CODEX_X_MS: "  " })).toBe(500);
    expect(durationFromEnv("CODEX_X_MS", 500, { CODEX_X_MS: "0" })).toBe(0);
    expect(durationFromEnv("CODEX_X_MS", 500, { CODEX_X_MS: " 12000 " })).toBe(12000);
  });

  it("refuses anything else with a user error that names the variable", () => {
    for (const raw of ["10s", "-5", "1.5", "1e3", "ten"]) {
      let error: unknown;
      try {
        durationFromEnv("CODEX_X_MS", 500, { CODEX_X_MS: raw });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(PipelineError);
      expect(error).toMatchObject({ kind: "user", code: "CONFIG_INVALID" });
      expect((error as Error).message).toBe(
        `CODEX_X_MS must be a whole number of milliseconds (got "${raw}")`,
      );
    }
  });
});
