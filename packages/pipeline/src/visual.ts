/**
 * The visual diff: the preview's stable screenshots (the e2e visual spec's
 * `<viewport>/<page>.png`) against production's, shot fresh by the same spec at the same
 * viewports, compared pixel by pixel with pixelmatch. Under an environment's `e2e/visual/`:
 * `preview/`, `production/` and `diff/`, each `<viewport>/<page>.png`.
 */
import { createHash } from "node:crypto";
import {
  cp,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  utimes,
  writeFile,
} from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import pixelmatch from "pixelmatch";
import { PNG } from "pngjs";
import { formatRatio } from "./core/format";
import { userError } from "./errors";
import type { VisualPage, VisualReport } from "./core/summary";
import type { CommandIO } from "./commands/context";
import { runPlaywright } from "./playwright";
import { REPO_ROOT } from "./state";
import type { DeployedEnvironment, WorkerPlatform } from "./providers/workers/shared";

/** Changed pixels over all pixels above which a page counts as changed: 0.1%. */
export const DEFAULT_VISUAL_THRESHOLD = 0.001;

/** The baseline when production is not live: every page is then "added". */
export const NO_BASELINE = "none yet";

/** The pure red pixelmatch paints changed pixels with (and this module paints padding with). */
export const DIFF_COLOR: [number, number, number] = [255, 0, 0];

export interface ImageDiff {
  width: number;
  height: number;
  /** Pixels that differ, the padding of a smaller image included. */
  changedPixels: number;
  /** changedPixels over width × height. */
  ratio: number;
  /** The diff image (PNG): production faded to grey, changed pixels in red. */
  png: Buffer;
}

/** Parses a `--visual-threshold` value: a ratio from 0 to 1 ("0.001" is 0.1%). */
export function parseVisualThreshold(text: string): number {
  const value = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!(value >= 0 && value < 1)) {
    throw userError(
      "INVALID_ARGUMENT",
      `--visual-threshold must be a ratio from 0 to below 1, such as 0.001 for 0.1% (got "${text}")`,
    );
  }
  return value;
}

function decode(png: Buffer, what: string): PNG {
  try {
    return PNG.sync.read(png);
  } catch (error) {
    throw new Error(`${what} is not a readable PNG: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Compares two PNGs. Images of different sizes are compared on the part they share, and the
 * rest of the larger one (the padding of the smaller) counts as changed, in red on the diff.
 * `colorThreshold` is pixelmatch's own per-pixel colour tolerance (0..1, 0.1 by default).
 */
export function diffImages(
  baseline: Buffer,
  candidate: Buffer,
  options: { colorThreshold?: number } = {},
): ImageDiff {
  const a = decode(baseline, "the production image");
  const b = decode(candidate, "the preview image");
  const width = Math.max(a.width, b.width);
  const height = Math.max(a.height, b.height);
  const shared = { width: Math.min(a.width, b.width), height: Math.min(a.height, b.height) };
  const crop = (image: PNG): Buffer => {
    if (image.width === shared.width && image.height === shared.height) return image.data;
    const out = new PNG(shared);
    PNG.bitblt(image, out, 0, 0, shared.width, shared.height, 0, 0);
    return out.data;
  };
  const sharedDiff = new PNG(shared);
  let changedPixels = pixelmatch(crop(a), crop(b), sharedDiff.data, shared.width, shared.height, {
    threshold: options.colorThreshold ?? 0.1,
    diffColor: DIFF_COLOR,
  });
  const diff = new PNG({ width, height });
  PNG.bitblt(sharedDiff, diff, 0, 0, shared.width, shared.height, 0, 0);
  for (let y = 0; y < height; y++) {
    for (let x = y < shared.height ? shared.width : 0; x < width; x++) {
      const i = (y * width + x) * 4;
      diff.data[i] = DIFF_COLOR[0];
      diff.data[i + 1] = DIFF_COLOR[1];
      diff.data[i + 2] = DIFF_COLOR[2];
      diff.data[i + 3] = 255;
      changedPixels++;
    }
  }
  return {
    width,
    height,
    changedPixels,
    ratio: width * height ? changedPixels / (width * height) : 0,
    png: PNG.sync.write(diff),
  };
}

/** The `<viewport>/<page>.png` files under `dir`, as "viewport/page" keys; none when it is missing. */
async function shots(dir: string): Promise<Set<string>> {
  const found = new Set<string>();
  const viewports = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const viewport of viewports.filter((d) => d.isDirectory())) {
    for (const file of await readdir(join(dir, viewport.name))) {
      if (file.endsWith(".png")) found.add(`${viewport.name}/${file.slice(0, -4)}`);
    }
  }
  return found;
}

export interface VisualFolders {
  /** `<viewport>/<page>.png` of the preview. */
  preview: string;
  /** `<viewport>/<page>.png` of production; missing when there is no baseline. */
  production: string;
  /** Where the diff images go, by the same names. */
  diff: string;
}

/** The three folders under an environment's state folder. */
export function visualFolders(envDir: string): VisualFolders {
  const root = join(envDir, "e2e", "visual");
  return {
    preview: join(root, "preview"),
    production: join(root, "production"),
    diff: join(root, "diff"),
  };
}

/**
 * Pairs the preview's pages with production's by name and compares each pair; a page on one side
 * only is "added" or "removed". Paths in the report are relative to `relativeTo` (the summary's
 * folder). Pages are sorted: changed first (largest ratio first), then added, removed, unchanged.
 */
export async function compareShots(options: {
  folders: VisualFolders;
  baseline: string;
  threshold: number;
  relativeTo: string;
}): Promise<VisualReport> {
  const { folders, threshold, relativeTo } = options;
  const preview = await shots(folders.preview);
  const production =
    options.baseline === NO_BASELINE ? new Set<string>() : await shots(folders.production);
  const rel = (dir: string, key: string) => relative(relativeTo, join(dir, `${key}.png`));
  const pages: VisualPage[] = [];
  for (const key of [...new Set([...preview, ...production])].sort()) {
    const [viewport = "", page = ""] = key.split("/");
    if (!production.has(key)) {
      pages.push({ page, viewport, status: "added", preview: rel(folders.preview, key) });
      continue;
    }
    if (!preview.has(key)) {
      pages.push({ page, viewport, status: "removed", production: rel(folders.production, key) });
      continue;
    }
    const before = await readFile(join(folders.production, `${key}.png`));
    const after = await readFile(join(folders.preview, `${key}.png`));
    // Stable shots of an unchanged page are the same bytes (same Chromium, same encoder): no
    // need to decode, compare and encode a diff, the bulk of the time.
    if (before.equals(after)) {
      pages.push({
        page,
        viewport,
        status: "unchanged",
        ratio: 0,
        preview: rel(folders.preview, key),
        production: rel(folders.production, key),
      });
      continue;
    }
    const result = diffImages(before, after);
    const diffFile = join(folders.diff, `${key}.png`);
    await mkdir(dirname(diffFile), { recursive: true });
    await writeFile(diffFile, result.png);
    pages.push({
      page,
      viewport,
      status: result.ratio > threshold ? "changed" : "unchanged",
      ratio: result.ratio,
      preview: rel(folders.preview, key),
      production: rel(folders.production, key),
      diff: rel(folders.diff, key),
    });
  }
  const order = { changed: 0, added: 1, removed: 2, unchanged: 3 };
  pages.sort((x, y) => order[x.status] - order[y.status] || (y.ratio ?? 0) - (x.ratio ?? 0));
  return { baseline: options.baseline, threshold, pages };
}

/** Forgets the previous run's shots and diffs, so that a page gone from the suite is not kept. */
export async function clearShots(envDir: string): Promise<void> {
  await rm(join(envDir, "e2e", "visual"), { recursive: true, force: true });
}

/**
 * What production's shots depend on besides its version: the visual spec, its helpers and the
 * Playwright config (pages, viewports, masks), and the browser binary (its size and time, not
 * its bytes: a stat). A change to any of them shoots production again.
 */
export async function shotInputsHash(
  files: readonly string[] = VISUAL_INPUTS,
  browser = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
): Promise<string> {
  const hash = createHash("sha256");
  for (const file of files) hash.update(file).update(await readFile(file).catch(() => ""));
  const info = await stat(browser).catch(() => undefined);
  hash.update(info ? `${info.size}:${info.mtimeMs}` : "no browser");
  return hash.digest("hex").slice(0, 16);
}

const VISUAL_INPUTS = ["e2e/visual.spec.ts", "e2e/helpers.ts", "playwright.config.ts"].map((f) =>
  join(REPO_ROOT, "apps", "web", f),
);

/**
 * The baseline: production's live release, shot by the visual spec (same viewports, same stable
 * rendering), then compared with the preview's shots, which the e2e run has just written to
 * `folders.preview`. Without a live production, every page is "added".
 *
 * Production's shots are kept beside it (`envs/production/visual-baseline/<version>-<inputs>/`)
 * and reused while it serves the same version and the spec, its config and the browser are
 * unchanged: a preview redeployed on every push then adds no browser run. Not its data: a
 * page whose content changed in production since (the shots mask dates, names and references)
 * shows only after production's next deploy (or once that folder is deleted). The
 * KEPT_SHOT_SETS sets used last are kept (production's current version, and the ones a rollback
 * or an unchanged spec may bring back); older ones are deleted when a new set is kept.
 */
export async function compareWithProduction(options: {
  envDir: string;
  /** Production as the Worker platform lists it, when it is deployed. */
  production: DeployedEnvironment | undefined;
  threshold: number;
  /** Runs the visual spec against `baseUrl`, writing its shots to `visualDir`. */
  shoot: (run: {
    baseUrl: string;
    visualDir: string;
    reportDir: string;
  }) => Promise<{ failed: number }>;
  /** Where production's shots are kept, by version; none: always shoot. */
  baselineCache?: string;
}): Promise<VisualReport | undefined> {
  const folders = visualFolders(options.envDir);
  // The e2e run did not include the visual spec (--e2e-spec): nothing to compare.
  if ((await shots(folders.preview)).size === 0) return undefined;
  const { production } = options;
  let baseline = NO_BASELINE;
  let reused = false;
  if (production?.version) {
    const kept = options.baselineCache
      ? join(options.baselineCache, `${production.version}-${await shotInputsHash()}`)
      : undefined;
    reused = Boolean(kept && (await stat(kept).catch(() => undefined)));
    await rm(folders.production, { recursive: true, force: true });
    if (kept && reused) {
      await cp(kept, folders.production, { recursive: true });
      // Its last use, by which pruneShots keeps it.
      const now = new Date();
      await utimes(kept, now, now).catch(() => {});
    } else {
      const shot = await options.shoot({
        baseUrl: production.urls.web,
        visualDir: folders.production,
        reportDir: join(options.envDir, "e2e", "visual", "production-run"),
      });
      if (shot.failed) {
        throw new Error(
          `the visual spec failed against production (${production.urls.web}): see ${join(options.envDir, "e2e", "visual", "production-run")}`,
        );
      }
      if (kept) {
        await keepShots(folders.production, kept);
        await pruneShots(dirname(kept), kept);
      }
    }
    baseline = production.version;
  }
  const report = await compareShots({
    folders,
    baseline,
    threshold: options.threshold,
    relativeTo: options.envDir,
  });
  return report && reused ? { ...report, reused: true } : report;
}

/**
 * Copies a shoot's shots to `kept`, through a temporary sibling renamed into place: a preview
 * reading the cache sees a whole set or none, and two previews shooting at once both succeed.
 */
async function keepShots(from: string, kept: string): Promise<void> {
  const temp = `${kept}.${process.pid}.${Date.now()}.tmp`;
  await mkdir(dirname(kept), { recursive: true });
  await cp(from, temp, { recursive: true });
  await rename(temp, kept).catch(async () => {
    // Another run kept the same shots first.
    await rm(temp, { recursive: true, force: true });
  });
}

/** How many sets of production's shots the cache keeps (see compareWithProduction). */
export const KEPT_SHOT_SETS = 3;
/** A temporary set older than this was left by a run that died while keeping it. */
const ABANDONED_MS = 60 * 60 * 1000;

/**
 * Deletes the sets of `cache` but the KEPT_SHOT_SETS used last (by mtime; `kept`, just written,
 * always stays), and temporary ones abandoned by a run that died.
 */
export async function pruneShots(cache: string, kept: string): Promise<string[]> {
  const entries = await readdir(cache, { withFileTypes: true }).catch(() => []);
  const sets: { path: string; mtimeMs: number }[] = [];
  const removed: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const path = join(cache, entry.name);
    const info = await stat(path).catch(() => undefined);
    if (!info) continue;
    if (entry.name.endsWith(".tmp")) {
      if (Date.now() - info.mtimeMs > ABANDONED_MS) removed.push(path);
      continue;
    }
    if (path !== kept) sets.push({ path, mtimeMs: info.mtimeMs });
  }
  sets.sort((a, b) => b.mtimeMs - a.mtimeMs);
  removed.push(...sets.slice(KEPT_SHOT_SETS - 1).map((set) => set.path));
  await Promise.all(removed.map((path) => rm(path, { recursive: true, force: true })));
  return removed;
}

/** One line for the step and the console: "1 changed, 21 unchanged (against v3, threshold 0.1%)". */
export function visualVerdict(report: VisualReport | undefined): string {
  if (!report) return "no preview shots (the visual spec did not run)";
  const counts = (["changed", "added", "removed", "unchanged"] as const)
    .map((status) => [status, report.pages.filter((p) => p.status === status).length] as const)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status}`);
  const against =
    report.baseline === NO_BASELINE
      ? "no production yet"
      : `against production ${report.baseline}${report.reused ? ", its shots reused" : ""}`;
  return `${counts.join(", ") || "no pages"} (${against}, threshold ${formatRatio(report.threshold)})`;
}

/**
 * The comparison as the commands run it: production as `workers` lists it, shot by the visual spec
 * through the same Playwright set-up as the suite (its output on `io`).
 */
export async function compareWithLiveProduction(options: {
  envDir: string;
  workers: WorkerPlatform;
  threshold?: number;
  io: CommandIO;
}): Promise<VisualReport | undefined> {
  const production = (await options.workers.list()).find((e) => e.name === "production");
  return compareWithProduction({
    envDir: options.envDir,
    production,
    threshold: options.threshold ?? DEFAULT_VISUAL_THRESHOLD,
    // Beside production's own folder (envs/production), whichever environment asks.
    baselineCache: join(dirname(options.envDir), "production", "visual-baseline"),
    shoot: (run) =>
      runPlaywright(
        { ...run, environment: "production", spec: "visual", shotsOnly: true },
        options.io,
      ),
  });
}
