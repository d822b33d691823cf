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
 * A full-page screenshot, attached to the HTML report and also written to
 * <report>/screenshots/<project>-<name>.png, where the pipeline's summary links it.
 */
export async function screenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const body = await page.screenshot({ fullPage: true });
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
