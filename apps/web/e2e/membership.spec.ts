import { expect, test } from "@playwright/test";
import { PASSWORD, screenshot, signUp, uniqueEmail } from "./helpers";

test.describe("membership", () => {
  test("sign up, test checkout, members page, account shows pro and the payment, log out", async ({
    page,
  }, testInfo) => {
    const email = uniqueEmail("flow");

    await page.goto("/");
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(/members club/);
    await screenshot(page, testInfo, "home");

    await page.goto("/signup");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Name").fill("Eve Tester");
    await page.getByLabel("Password").fill(PASSWORD);
    await screenshot(page, testInfo, "signup");
    await page.getByRole("button", { name: "Sign up" }).click();
    await expect(page).toHaveURL(/\/account$/);
    await expect(page.getByTestId("account-plan")).toHaveText("free");
    await expect(page.getByTestId("no-payments")).toBeVisible();

    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "Pricing" })
      .click();
    await expect(page.getByText("Test checkout.")).toBeVisible();
    await screenshot(page, testInfo, "pricing");
    await page.getByRole("button", { name: "Upgrade with test checkout" }).click();

    await expect(page).toHaveURL(/\/account\?upgraded=1$/);
    await expect(page.getByRole("status")).toHaveText(/now on the pro plan/);
    await expect(page.getByTestId("account-plan")).toHaveText("pro");
    const payments = page.getByTestId("payments");
    await expect(payments).toContainText("$12.00");
    await expect(payments).toContainText("succeeded");
    await screenshot(page, testInfo, "account-pro");

    await page.getByRole("link", { name: "Members" }).click();
    await expect(page).toHaveURL(/\/members$/);
    await expect(page.getByTestId("members-welcome")).toContainText("Eve Tester");
    await screenshot(page, testInfo, "members");

    await page.getByRole("button", { name: "Log out" }).click();
    await expect(page).toHaveURL(/\/$/);
    await expect(
      page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Log in" }),
    ).toBeVisible();
    await page.goto("/members");
    await expect(page).toHaveURL(/\/login\?redirectTo=%2Fmembers$/);

    // And back in, straight to where we were going.
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await expect(page).toHaveURL(/\/members$/);
  });

  test("a wrong password shows its message", async ({ page }, testInfo) => {
    const email = uniqueEmail("wrong");
    await signUp(page, email);
    await page.getByRole("button", { name: "Log out" }).click();

    await page.goto("/login");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("definitely not it");
    await page.getByRole("button", { name: "Log in" }).click();
    const alert = page.getByRole("alert");
    await expect(alert).toHaveText("Wrong email or password.");
    await expect(page.getByLabel("Email")).toHaveValue(email);
    await expect(page.getByLabel("Email")).toHaveAttribute("aria-invalid", "true");
    await screenshot(page, testInfo, "login-wrong-password");
  });

  test("a free user is bounced from the members page to pricing", async ({ page }, testInfo) => {
    await signUp(page, uniqueEmail("free"));
    await page.goto("/members");
    await expect(page).toHaveURL(/\/pricing\?reason=members$/);
    await expect(page.getByText("The members area is for pro members.")).toBeVisible();
    await screenshot(page, testInfo, "members-bounced");
  });

  test("a logged-out visitor is sent to log in", async ({ page }) => {
    await page.goto("/account");
    await expect(page).toHaveURL(/\/login\?redirectTo=%2Faccount$/);
  });
});
