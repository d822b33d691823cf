import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DeployedEnvironment } from "./providers/workers/shared";
import {
  compareShots,
  compareWithProduction,
  diffImages,
  KEPT_SHOT_SETS,
  NO_BASELINE,
  parseVisualThreshold,
  pruneShots,
  shotInputsHash,
  visualFolders,
} from "./visual";

type Rgb = [number, number, number];

/** A PNG of `width` × `height` in `fill`, with `box` (x, y, w, h) painted `boxColor`. */
function image(
  width: number,
  height: number,
  fill: Rgb = [240, 240, 240],
  box?: { x: number; y: number; w: number; h: number; color: Rgb },
): Buffer {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inBox = box && x >= box.x && x < box.x + box.w && y >= box.y && y < box.y + box.h;
      const [r, g, b] = inBox ? box.color : fill;
      png.data.set([r, g, b, 255], (y * width + x) * 4);
    }
  }
  return PNG.sync.write(png);
}

/** The pure red pixels of a diff image, as their bounding box and count. */
function redPixels(png: Buffer) {
  const { width, height, data } = PNG.sync.read(png);
  let count = 0;
  const box = { left: width, top: height, right: -1, bottom: -1 };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      if (data[i] === 255 && data[i + 1] === 0 && data[i + 2] === 0) {
        count++;
        box.left = Math.min(box.left, x);
        box.top = Math.min(box.top, y);
        box.right = Math.max(box.right, x);
        box.bottom = Math.max(box.bottom, y);
      }
    }
  }
  return { count, box };
}

describe("diffImages", () => {
  it("finds nothing between two identical images", () => {
    const result = diffImages(image(40, 30), image(40, 30));
    expect(result).toMatchObject({ width: 40, height: 30, changedPixels: 0, ratio: 0 });
    expect(redPixels(result.png).count).toBe(0);
  });

  it("counts the changed pixels and paints exactly them red", () => {
    const before = image(100, 50, [240, 240, 240], {
      x: 10,
      y: 5,
      w: 20,
      h: 10,
      color: [0, 0, 200],
    });
    const after = image(100, 50, [240, 240, 240], {
      x: 10,
      y: 5,
      w: 20,
      h: 10,
      color: [200, 0, 0],
    });
    const result = diffImages(before, after);
    expect(result.changedPixels).toBe(200);
    expect(result.ratio).toBeCloseTo(200 / 5000, 10);
    expect(redPixels(result.png)).toEqual({
      count: 200,
      box: { left: 10, top: 5, right: 29, bottom: 14 },
    });
  });

  it("pads the smaller image to the larger and counts the padding as changed", () => {
    // The preview is 10 px taller: a page that grew. Those 10 rows are all changed.
    const result = diffImages(image(20, 30), image(20, 40));
    expect(result).toMatchObject({ width: 20, height: 40, changedPixels: 200 });
    expect(result.ratio).toBeCloseTo(200 / 800, 10);
    expect(redPixels(result.png).box).toEqual({ left: 0, top: 30, right: 19, bottom: 39 });
    // Wider and shorter: the extra columns of the shared rows, and the extra rows.
    const wide = diffImages(image(30, 20), image(20, 25));
    expect(wide).toMatchObject({ width: 30, height: 25, changedPixels: 30 * 25 - 20 * 20 });
  });

  it("names the side whose file is not a PNG", () => {
    expect(() => diffImages(Buffer.from("not a png"), image(2, 2))).toThrow(
      /the production image is not a readable PNG/,
    );
  });
});

describe("parseVisualThreshold", () => {
  it("reads a ratio and refuses anything else with the flag's name", () => {
    expect(parseVisualThreshold("0.001")).toBe(0.001);
    expect(parseVisualThreshold("0")).toBe(0);
    for (const bad of ["1", "-0.1", "10%", "", "abc"]) {
      expect(() => parseVisualThreshold(bad)).toThrow(/--visual-threshold must be a ratio/);
    }
  });
});

describe("compareShots", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "codex-visual-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function put(side: string, name: string, png: Buffer) {
    await mkdir(join(dir, "e2e", "visual", side, "desktop"), { recursive: true });
    await writeFile(join(dir, "e2e", "visual", side, "desktop", `${name}.png`), png);
  }

  it("pairs pages by name: changed, unchanged, added and removed, with paths relative to the summary", async () => {
    const folders = visualFolders(dir);
    await put("production", "home", image(50, 50));
    await put("preview", "home", image(50, 50));
    await put("production", "pricing", image(50, 50));
    await put(
      "preview",
      "pricing",
      image(50, 50, [240, 240, 240], { x: 0, y: 0, w: 5, h: 5, color: [0, 0, 0] }),
    );
    await put("preview", "new-page", image(10, 10));
    await put("production", "old-page", image(10, 10));
    // One changed pixel in 2,500 (0.04%): under the 0.1% threshold.
    await put("production", "login", image(50, 50));
    await put(
      "preview",
      "login",
      image(50, 50, [240, 240, 240], { x: 3, y: 3, w: 1, h: 1, color: [0, 0, 0] }),
    );

    const report = await compareShots({
      folders,
      baseline: "v7",
      threshold: 0.001,
      relativeTo: dir,
    });
    expect(report.baseline).toBe("v7");
    expect(report.pages.map((p) => [p.viewport, p.page, p.status])).toEqual([
      ["desktop", "pricing", "changed"],
      ["desktop", "new-page", "added"],
      ["desktop", "old-page", "removed"],
      // Unchanged pages too are sorted by ratio, largest first.
      ["desktop", "login", "unchanged"],
      ["desktop", "home", "unchanged"],
    ]);
    const pricing = report.pages[0];
    expect(pricing).toEqual({
      page: "pricing",
      viewport: "desktop",
      status: "changed",
      ratio: 25 / 2500,
      preview: "e2e/visual/preview/desktop/pricing.png",
      production: "e2e/visual/production/desktop/pricing.png",
      diff: "e2e/visual/diff/desktop/pricing.png",
    });
    expect(redPixels(await readFile(join(dir, pricing!.diff!))).count).toBe(25);
    expect(report.pages[1]).toEqual({
      page: "new-page",
      viewport: "desktop",
      status: "added",
      preview: "e2e/visual/preview/desktop/new-page.png",
    });
    expect(report.pages[3]?.ratio).toBeCloseTo(1 / 2500, 10);
    // Byte for byte the same: unchanged at once, and no diff image to look at.
    expect(report.pages[4]).toEqual({
      page: "home",
      viewport: "desktop",
      status: "unchanged",
      ratio: 0,
      preview: "e2e/visual/preview/desktop/home.png",
      production: "e2e/visual/production/desktop/home.png",
    });
    expect(existsSync(join(dir, "e2e", "visual", "diff", "desktop", "home.png"))).toBe(false);
  });

  it("without a baseline, lists every page as added, whatever the production folder holds", async () => {
    await put("production", "home", image(5, 5));
    await put("preview", "home", image(5, 5));
    const report = await compareShots({
      folders: visualFolders(dir),
      baseline: NO_BASELINE,
      threshold: 0.001,
      relativeTo: dir,
    });
    expect(report.pages).toEqual([
      {
        page: "home",
        viewport: "desktop",
        status: "added",
        preview: "e2e/visual/preview/desktop/home.png",
      },
    ]);
  });
});

describe("compareWithProduction", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "codex-visual-baseline-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const production = (version: string): DeployedEnvironment => ({
    name: "production",
    version,
    versions: [version],
    urls: { web: "http://localhost:8787", auth: "", webhook: "" },
    updatedAt: "",
  });

  it("shoots production once per version, and reuses the kept shots while it serves that version", async () => {
    const envDir = join(dir, "envs", "preview-1");
    const baselineCache = join(dir, "envs", "production", "visual-baseline");
    await mkdir(join(envDir, "e2e", "visual", "preview", "desktop"), { recursive: true });
    await writeFile(join(envDir, "e2e", "visual", "preview", "desktop", "home.png"), image(5, 5));
    const shot: string[] = [];
    // Production's page: grey under v1, with a dark box under v2.
    const compare = (version: string) =>
      compareWithProduction({
        envDir,
        production: production(version),
        threshold: 0.001,
        baselineCache,
        shoot: async (run) => {
          shot.push(version);
          const png =
            version === "v1"
              ? image(5, 5)
              : image(5, 5, undefined, { x: 0, y: 0, w: 5, h: 5, color: [0, 0, 0] });
          await mkdir(join(run.visualDir, "desktop"), { recursive: true });
          await writeFile(join(run.visualDir, "desktop", "home.png"), png);
          return { failed: 0 };
        },
      });

    const first = await compare("v1");
    expect(shot).toEqual(["v1"]);
    expect(first?.reused).toBeUndefined();
    expect(first?.pages.map((p) => p.status)).toEqual(["unchanged"]);
    const kept = join(baselineCache, `v1-${await shotInputsHash()}`, "desktop", "home.png");
    expect(existsSync(kept)).toBe(true);

    // The next push: nothing shot, the same verdict from the kept shots.
    const second = await compare("v1");
    expect(shot).toEqual(["v1"]);
    expect(second?.reused).toBe(true);
    expect(second?.pages.map((p) => p.status)).toEqual(["unchanged"]);

    // Production moved to v2: shot again, and compared with what v2 shows.
    const third = await compare("v2");
    expect(shot).toEqual(["v1", "v2"]);
    expect(third?.reused).toBeUndefined();
    expect(third?.pages.map((p) => p.status)).toEqual(["changed"]);

    // Two more releases: the cache keeps the three sets used last, v1's is deleted.
    await compare("v3");
    await compare("v4");
    const sets = (await readdir(baselineCache)).map((name) => name.split("-")[0]).sort();
    expect(sets).toEqual(["v2", "v3", "v4"]);
  });

  it("keeps the shot sets used last, and deletes older ones when a new set is kept", async () => {
    const cache = join(dir, "visual-baseline");
    const set = async (name: string, ageS: number) => {
      const path = join(cache, name);
      await mkdir(join(path, "desktop"), { recursive: true });
      await writeFile(join(path, "desktop", "home.png"), image(2, 2));
      const when = new Date(Date.now() - ageS * 1000);
      await utimes(path, when, when);
      return path;
    };
    const oldest = await set("v1-aaa", 500);
    const older = await set("v2-aaa", 400);
    const recent = await set("v3-aaa", 300);
    const reusedLately = await set("v1-bbb", 10);
    const abandoned = await set("v4-aaa.123.456.tmp", 2 * 3600);
    const writing = await set("v4-aaa.789.012.tmp", 5);
    const kept = await set("v4-aaa", 0);
    const removed = await pruneShots(cache, kept);
    expect(removed.sort()).toEqual([abandoned, older, oldest].sort());
    expect(KEPT_SHOT_SETS).toBe(3);
    for (const path of [kept, reusedLately, recent, writing]) expect(existsSync(path)).toBe(true);
    for (const path of removed) expect(existsSync(path)).toBe(false);
  });

  it("keys the kept shots by the spec, its helpers, the config and the browser too", async () => {
    const spec = join(dir, "visual.spec.ts");
    await writeFile(spec, "one");
    const before = await shotInputsHash([spec], spec);
    await writeFile(spec, "two");
    expect(await shotInputsHash([spec], spec)).not.toBe(before);
    expect(await shotInputsHash([spec], join(dir, "no-browser"))).not.toBe(
      await shotInputsHash([spec], spec),
    );
  });
});
