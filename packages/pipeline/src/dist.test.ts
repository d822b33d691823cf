import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDist, distState } from "../scripts/dist.mjs";

// The compiled CLI (scripts/dist.mjs), on a package of two source files.
describe("dist: the compiled CLI and its staleness check", () => {
  let pkg: string;
  let outdir: string;

  beforeAll(async () => {
    pkg = await mkdtemp(join(tmpdir(), "codex-dist-"));
    outdir = join(pkg, "dist");
    await mkdir(join(pkg, "src"), { recursive: true });
    await writeFile(
      join(pkg, "src", "entry.ts"),
      'import { join } from "node:path";\nimport { greeting } from "./other";\n' +
        "export const where: string = import.meta.url;\n" +
        'export const main = (): string => join(greeting, "ok");\n',
    );
    await writeFile(join(pkg, "src", "other.ts"), 'export const greeting: string = "hello";\n');
    await buildDist({ packageDir: pkg, outdir, entries: ["src/entry.ts"] });
  });
  afterAll(async () => {
    await rm(pkg, { recursive: true, force: true });
  });

  it("runs as JavaScript, import.meta.url still naming the source file", async () => {
    const built = (await import(pathToFileURL(join(outdir, "entry.js")).href)) as {
      main: () => string;
      where: string;
    };
    expect(built.main()).toBe("hello/ok");
    expect(built.where).toBe(pathToFileURL(join(pkg, "src", "entry.ts")).href);
  });

  it("is current until a source's content changes, and then names that source", async () => {
    expect(distState(outdir)).toEqual({ current: true });
    const other = join(pkg, "src", "other.ts");
    // Touched (a checkout, a stash) but the same: still current.
    const later = new Date(Date.now() + 5_000);
    await utimes(other, later, later);
    expect(distState(outdir)).toEqual({ current: true });
    await writeFile(other, 'export const greeting: string = "changed";\n');
    expect(distState(outdir)).toEqual({ current: false, reason: "../src/other.ts changed" });
    await rm(other);
    expect(distState(outdir)).toEqual({ current: false, reason: "../src/other.ts is gone" });
  });

  it("says a folder with no bundle is not built", async () => {
    expect(distState(join(pkg, "nothing")).current).toBe(false);
  });

  it("records every source it bundled", async () => {
    const manifest = JSON.parse(await readFile(join(outdir, "manifest.json"), "utf8")) as {
      inputs: { path: string }[];
    };
    expect(manifest.inputs.map((i) => i.path).sort()).toEqual([
      "../src/entry.ts",
      "../src/other.ts",
    ]);
  });
});
