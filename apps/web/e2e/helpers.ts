import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect, type Page, type TestInfo } from "@playwright/test";

export const PASSWORD = "correct horse battery staple";

export function uniqueEmail(label: string): string {
  return `e2e-${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}@example.com`;
}

/**
 * A unique email of about 90 characters with no place a browser may break a line (underscores
 * instead of hyphens, no spaces): the worst an account page has to show.
 */
export function unbreakableEmail(label: string): string {
  return uniqueEmail(label)
    .replaceAll("-", "_")
    .replace("@", `_${"x".repeat(60)}@`);
}

/**
 * What differs per environment or per run, and so is kept out of every screenshot, for two shots
 * of the same page (a preview's and production's) to match pixel for pixel when nothing changed:
 * - hidden (`display: none`, the layout closes up the same on both sides): the environment banner,
 *   and the test checkout, which production never offers (it shows why instead);
 * - invisible (`visibility: hidden`, its room kept): the environment's name in the footer;
 * - masked (a solid box of the text's size): dates, emails, names, payment references.
 * All of it is one style sheet that the screenshot injects: Playwright's `mask` option would
 * instead locate each selector in the page and draw a box over each match, a round trip per
 * selector and shot (0.3 to 0.5 s a shot here).
 */
const MASKED = [
  '[data-testid="account-email"]',
  '.facts dd:not(:has([data-testid="account-plan"]))',
  '[data-testid="members-welcome"]',
  'td[data-label="Date"]',
  'td[data-label="Reference"]',
  ".hero strong",
  "time",
];
const MASK_COLOR = "#888888";
const STABLE_STYLE = `
  [data-testid="env-banner"], .test-checkout, .plan-card.featured > p.muted { display: none !important; }
  .footer code { visibility: hidden !important; }
  *, *::before, *::after { transition: none !important; animation: none !important; caret-color: transparent !important; }
  ${MASKED.join(", ")} { color: transparent !important; background: ${MASK_COLOR} !important; text-shadow: none !important; }
  ${MASKED.map((m) => `${m} *`).join(", ")} { visibility: hidden !important; }
`;

/**
 * A stable full-page screenshot: fonts loaded (document.fonts.ready), animations and transitions
 * off, the caret hidden, and what differs per environment or per run hidden or masked.
 */
export async function stableScreenshot(page: Page): Promise<Buffer> {
  await page.evaluate(() => document.fonts.ready.then(() => undefined));
  return page.screenshot({ fullPage: true, caret: "hide", style: STABLE_STYLE });
}

/**
 * A full-page screenshot (stable: stableScreenshot), attached to the HTML report and also written
 * to <report>/screenshots/<project>-<name>.png, where the pipeline's summary links it.
 */
export async function screenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const body = await stableScreenshot(page);
  await testInfo.attach(name, { body, contentType: "image/png" });
  const dir = join(process.env.E2E_REPORT_DIR ?? "reports/e2e", "screenshots");
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${testInfo.project.name}-${name}.png`), body);
}

export async function signUp(page: Page, email: string, displayName?: string): Promise<void> {
  await page.goto("/signup");
  await page.getByLabel("Email").fill(email);
  if (displayName) await page.getByLabel("Name").fill(displayName);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page).toHaveURL(/\/account$/);
}

/** Upgrades the logged-in user through the test checkout, which lands on their account page. */
export async function upgradeWithTestCheckout(page: Page): Promise<void> {
  await page.goto("/pricing");
  await page.getByRole("button", { name: "Upgrade with test checkout" }).click();
  await expect(page).toHaveURL(/\/account\?upgraded=1$/);
}
