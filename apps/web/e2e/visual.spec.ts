import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { DEMO_PASSWORD, DEMO_USERS } from "@codex/database/seed";
import { stableScreenshot } from "./helpers";

/**
 * The pages compared with production (the pipeline's visual diff), at every viewport (project).
 * Read-only: it signs up nobody and pays for nothing. Pages behind a login are shot as the seeded
 * demo users, whom every environment has (previews copy main, where the seed put them); logging
 * in writes only a session. Each shot goes to E2E_VISUAL_DIR/<viewport>/<page>.png, a name that
 * pairs the same page on two environments.
 */
const VISUAL_DIR =
  process.env.E2E_VISUAL_DIR ?? join(process.env.E2E_REPORT_DIR ?? "reports/e2e", "visual");

const demo = (plan: "free" | "pro") => {
  const user = DEMO_USERS.find((u) => u.plan === plan);
  if (!user) throw new Error(`the seed has no ${plan} demo user`);
  return user;
};

async function logIn(page: Page, email: string): Promise<void> {
  await page.goto("/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(DEMO_PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/account$/);
}

async function shoot(page: Page, viewport: string, name: string, path: string): Promise<void> {
  const response = await page.goto(path);
  expect(response?.status(), `${path} answers`).toBeLessThan(400);
  const body = await stableScreenshot(page);
  await mkdir(join(VISUAL_DIR, viewport), { recursive: true });
  await writeFile(join(VISUAL_DIR, viewport, `${name}.png`), body);
}

const PAGES: { who: "anonymous" | "free" | "pro"; pages: [name: string, path: string][] }[] = [
  {
    who: "anonymous",
    pages: [
      ["home", "/"],
      ["pricing", "/pricing"],
      ["signup", "/signup"],
      ["login", "/login"],
    ],
  },
  {
    who: "free",
    pages: [
      ["home-free", "/"],
      ["account-free", "/account"],
      ["pricing-free", "/pricing"],
    ],
  },
  {
    who: "pro",
    pages: [
      ["home-pro", "/"],
      ["account-pro", "/account"],
      ["members-pro", "/members"],
      ["pricing-pro", "/pricing"],
    ],
  },
];

test.describe("visual", () => {
  for (const { who, pages } of PAGES) {
    test(`pages as ${who === "anonymous" ? "a visitor" : `the ${who} demo user`}`, async ({
      page,
    }, testInfo) => {
      // The suite's 30 s for each page and for the login: full-page shots of a tall phone page
      // take seconds on a busy machine.
      test.setTimeout(30_000 * (pages.length + 1));
      if (who !== "anonymous") await logIn(page, demo(who).email);
      for (const [name, path] of pages) await shoot(page, testInfo.project.name, name, path);
    });
  }
});
