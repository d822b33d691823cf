import { expect, test } from "@playwright/test";

test.describe("the app in the browser", () => {
  // Server-rendered pages and forms work without JavaScript, so the rest of the suite passes
  // even when no script loads. An environment serving another's static files did exactly that:
  // its HTML named scripts that answered 500, and the app never started.
  test("its scripts load, and it takes over navigation", async ({ page }) => {
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("requestfailed", (request) => {
      const why = request.failure()?.errorText ?? "unknown";
      // The page itself cancels requests it no longer needs: SvelteKit preloads a link's data on
      // hover and drops that request when the click asks again. A server's failure answers >= 400.
      if (why === "net::ERR_ABORTED") return;
      problems.push(`${request.url()} failed: ${why}`);
    });
    page.on("response", (response) => {
      if (response.status() >= 400)
        problems.push(`${response.url()} answered ${response.status()}`);
    });
    await page.goto("/", { waitUntil: "networkidle" });
    expect(problems).toEqual([]);

    // Only a started SvelteKit router turns a link click into a fetch of the next page's data
    // instead of loading a new document.
    const documents: string[] = [];
    page.on("request", (request) => {
      if (request.isNavigationRequest()) documents.push(request.url());
    });
    const data = page.waitForRequest((request) => request.url().includes("/pricing/__data.json"));
    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "Pricing" })
      .click();
    await data;
    await expect(page).toHaveURL(/\/pricing$/);
    expect(documents).toEqual([]);
    expect(problems).toEqual([]);
  });
});
