import { describe, expect, it } from "vitest";
import { specFileFilter } from "./playwright";

describe("specFileFilter (--e2e-spec)", () => {
  const matches = (spec: string, path: string) => new RegExp(specFileFilter(spec), "i").test(path);

  it("matches the spec file by its own name, never by a folder on its path", () => {
    // A checkout whose folder contains the word: only the visual spec may run.
    const root = "/tmp/codex-visual-ozOiqS/codex/apps/web/e2e";
    expect(matches("visual", `${root}/visual.spec.ts`)).toBe(true);
    for (const other of ["layout", "membership", "client"]) {
      expect(matches("visual", `${root}/${other}.spec.ts`), other).toBe(false);
    }
    expect(matches("member", "/repo/apps/web/e2e/membership.spec.ts")).toBe(true);
  });

  it("refuses what Playwright could take for a flag or a pattern, naming the flag", () => {
    for (const bad of ["--grep", ".*", "a/b", ""]) {
      expect(() => specFileFilter(bad)).toThrow(/--e2e-spec must be part of a spec file's name/);
    }
  });
});
