import { defineConfig, devices } from "@playwright/test";
import { fileURLToPath } from "node:url";

// The report folder: html/ (Playwright's report), screenshots/ (full pages of the key screens,
// linked from the pipeline's summary) and artifacts/ (traces of failures).
const REPORT_DIR = (process.env.E2E_REPORT_DIR ??= fileURLToPath(
  new URL("../../reports/e2e", import.meta.url),
));

/**
 * The Playwright suite. It runs against E2E_BASE_URL when that is set (a preview environment);
 * otherwise the global setup serves the built stack on a fresh embedded database.
 * Browsers are Debian's Chromium (CHROMIUM_PATH, /usr/bin/chromium by default): Playwright's own
 * browser download cannot work on these machines.
 */
/**
 * E2E_SHOTS_ONLY=1: a run that only takes the visual spec's shots of an environment it does not
 * change (production's, the visual diff's baseline): the two viewports in parallel, no traces,
 * no HTML report. What it runs writes nothing but sessions, so two workers cannot collide.
 */
const SHOTS_ONLY = process.env.E2E_SHOTS_ONLY === "1";

export default defineConfig({
  testDir: "./e2e",
  globalSetup: "./e2e/global-setup.ts",
  // Two cores: one browser at a time keeps timings honest (a shots-only run: one per viewport).
  workers: SHOTS_ONLY ? 2 : 1,
  fullyParallel: false,
  forbidOnly: Boolean(process.env.CI),
  retries: 0,
  timeout: 30_000,
  expect: { timeout: 10_000 },
  reporter: [
    ["list"],
    ...(SHOTS_ONLY
      ? []
      : [["html", { outputFolder: `${REPORT_DIR}/html`, open: "never" }] as const]),
    // Read by the pipeline's e2e command for its summary.
    ["json", { outputFile: `${REPORT_DIR}/results.json` }],
  ],
  outputDir: `${REPORT_DIR}/artifacts`,
  use: {
    baseURL: process.env.E2E_BASE_URL,
    trace: SHOTS_ONLY ? "off" : "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      // This machine's network is closed: keep Chromium from calling home at every start.
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  projects: [
    { name: "desktop", use: { ...devices["Desktop Chrome"], channel: undefined } },
    {
      name: "phone",
      // 390 CSS pixels wide, as the most common phones (iPhone 12 to 15) and the width the
      // layout bug was reported at; the Pixel 7 alone is 412.
      use: {
        ...devices["Pixel 7"],
        viewport: { width: 390, height: 844 },
        screen: { width: 390, height: 844 },
        channel: undefined,
      },
      testMatch: /(layout|visual)\.spec\.ts/,
    },
  ],
});
