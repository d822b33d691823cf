import { expect, test } from "@playwright/test";
import { screenshot } from "./helpers";

test.describe("every page, on every screen", () => {
  test("the banner names the environment outside production", async ({ page }) => {
    const environment = process.env.E2E_ENVIRONMENT;
    await page.goto("/");
    const banner = page.getByRole("note", { name: "Environment" });
    if (environment === "production") {
      await expect(banner).toHaveCount(0);
    } else {
      await expect(banner).toBeVisible();
      if (environment) await expect(banner).toContainText(environment);
    }
  });

  for (const path of ["/", "/signup", "/login", "/pricing"]) {
    test(`${path} fits the screen and labels its inputs`, async ({ page }, testInfo) => {
      await page.goto(path);
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(overflow).toBeLessThanOrEqual(0);
      for (const input of await page.locator("input:not([type=hidden])").all()) {
        const id = await input.getAttribute("id");
        expect(id, "every input has an id").toBeTruthy();
        await expect(page.locator(`label[for="${id}"]`)).toHaveCount(1);
      }
      if (testInfo.project.name === "phone") {
        await screenshot(
          page,
          testInfo,
          `page${path === "/" ? "-home" : path.replaceAll("/", "-")}`,
        );
      }
    });
  }

  test("the skip link moves focus to the content", async ({ page }) => {
    await page.goto("/");
    await page.keyboard.press("Tab");
    const skip = page.getByRole("link", { name: "Skip to content" });
    await expect(skip).toBeFocused();
    await page.keyboard.press("Enter");
    await expect(page.locator("#main")).toBeFocused();
  });
});
