/**
 * The visual diff against production, end to end on the local target, on a copy of this
 * checkout: production deploys the copy as it is; then one line of CSS changes the colour of the
 * one button in the pro plan's card of the pricing page (a visitor's "Log in to upgrade": the
 * only `.button` in that card on any page the visual spec shoots), and the preview deploys with
 * only the visual spec. That page, at both viewports, and no other must be reported changed, with
 * the diff's red pixels on the button; summary.html must show it side by side.
 */
import { appendFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { chromium, devices } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Summary } from "../../src/core/summary";
import { copyCheckout, explain, Sandbox } from "./cli";

const BUTTON = ".plan-card.featured .button";
// The one-line change: a red button where the theme's blue was.
const CSS_CHANGE = `\n${BUTTON} { background: #c2185b; border-color: #c2185b; }\n`;

let parent: string;
let box: Sandbox;
let summary: Summary;
let deployOutput: string;

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), "codex-visual-"));
  const repo = await copyCheckout(parent, { install: true });
  box = await Sandbox.create({ repo });
  const production = await box.run("production-deploy");
  expect(production.code, explain(production)).toBe(0);
  await appendFile(join(repo, "apps", "web", "src", "app.css"), CSS_CHANGE);
  const preview = await box.run(
    "preview-deploy",
    "--pr",
    "1",
    "--e2e",
    "--e2e-spec",
    "visual",
    "--skip-tests",
  );
  deployOutput = explain(preview);
  expect(preview.code, deployOutput).toBe(0);
  summary = JSON.parse(
    await readFile(join(box.stateDir, "envs", "preview-1", "summary.json"), "utf8"),
  ) as Summary;
}, 1_800_000);

afterAll(async () => {
  await box?.dispose();
  if (parent) await rm(parent, { recursive: true, force: true });
}, 120_000);

/** The bounding box of the pure red pixels of a diff image, and how many there are. */
async function redPixels(file: string) {
  const { width, height, data } = PNG.sync.read(await readFile(file));
  const box = { left: width, top: height, right: -1, bottom: -1, count: 0 };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      if (data[i] === 255 && data[i + 1] === 0 && data[i + 2] === 0) {
        box.count++;
        box.left = Math.min(box.left, x);
        box.top = Math.min(box.top, y);
        box.right = Math.max(box.right, x);
        box.bottom = Math.max(box.bottom, y);
      }
    }
  }
  return box;
}

describe("a one-line CSS change, compared with production", () => {
  it("reports that page, and only that page, changed at each viewport; every other page unchanged", () => {
    const visual = summary.visual;
    expect(visual, deployOutput).toBeDefined();
    expect(visual!.baseline).toMatch(/^v\d+/);
    const changed = visual!.pages.filter((p) => p.status === "changed");
    expect(changed.map((p) => `${p.viewport}/${p.page}`).sort()).toEqual([
      "desktop/pricing",
      "phone/pricing",
    ]);
    const others = visual!.pages.filter((p) => p.status !== "changed");
    // Every page the visual spec shoots, both viewports: none added or removed, all unchanged.
    expect(others.length).toBeGreaterThanOrEqual(20);
    expect(
      others.every((p) => p.status === "unchanged"),
      JSON.stringify(others),
    ).toBe(true);
  });

  it("paints the changed pixels on the button, and nowhere else", async () => {
    const envDir = join(box.stateDir, "envs", "preview-1");
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu"],
    });
    try {
      // The visual spec's viewports (apps/web/playwright.config.ts). The button is measured on
      // production, where it sits where the preview's does (same layout, no banner to hide).
      const viewports = {
        desktop: { ...devices["Desktop Chrome"] },
        phone: {
          ...devices["Pixel 7"],
          viewport: { width: 390, height: 844 },
          screen: { width: 390, height: 844 },
        },
      };
      for (const [viewport, device] of Object.entries(viewports)) {
        const context = await browser.newContext(device);
        const page = await context.newPage();
        await page.goto(`http://localhost:${box.port}/pricing`);
        const button = await page.locator(BUTTON).boundingBox();
        await context.close();
        expect(button, `${BUTTON} on ${viewport}`).not.toBeNull();
        const scale = device.deviceScaleFactor ?? 1;
        const diff = summary.visual!.pages.find(
          (p) => p.page === "pricing" && p.viewport === viewport,
        )!.diff!;
        const red = await redPixels(join(envDir, diff));
        expect(red.count, `${viewport}: red pixels`).toBeGreaterThan(0);
        // Inside the button's box (device pixels), give or take a pixel of rounding.
        const edge = {
          left: button!.x,
          top: button!.y,
          right: button!.x + button!.width,
          bottom: button!.y + button!.height,
        };
        expect(red.left, viewport).toBeGreaterThanOrEqual(Math.floor(edge.left * scale) - 1);
        expect(red.top, viewport).toBeGreaterThanOrEqual(Math.floor(edge.top * scale) - 1);
        expect(red.right, viewport).toBeLessThanOrEqual(Math.ceil(edge.right * scale) + 1);
        expect(red.bottom, viewport).toBeLessThanOrEqual(Math.ceil(edge.bottom * scale) + 1);
        // And it covers most of the button: the change is the button's fill.
        const area = button!.width * button!.height * scale * scale;
        expect(red.count / area, viewport).toBeGreaterThan(0.5);
      }
    } finally {
      await browser.close();
    }
  });

  it("shows the page side by side in summary.html and lists it in summary.md", async () => {
    const envDir = join(box.stateDir, "envs", "preview-1");
    const html = await readFile(join(envDir, "summary.html"), "utf8");
    expect(html).toContain('<h2 id="visual-heading">Visual changes</h2>');
    expect(html).toContain('class="visual-view visual-side"');
    expect(html).toContain('src="e2e/visual/diff/desktop/pricing.png"');
    expect(html).toContain('src="e2e/visual/production/desktop/pricing.png"');
    const markdown = await readFile(join(envDir, "summary.md"), "utf8");
    expect(markdown).toMatch(/\| pricing \| desktop \| changed \| [\d.]+% \|/);
    expect(markdown).toContain("**Unchanged:** ");
  });
});
