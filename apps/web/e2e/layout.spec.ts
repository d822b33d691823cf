import { expect, test, type Page, type TestInfo } from "@playwright/test";
import { screenshot, signUp, unbreakableEmail, upgradeWithTestCheckout } from "./helpers";

// A real surname twice over: 70 letters and no space, under the auth Worker's 80-character cap.
const LONG_NAME = "Wolfeschlegelsteinhausenbergerdorff".repeat(2);

/**
 * What sticks out of the page, as readable lines; none when it fits. Runs in the browser.
 *
 * A document wider than the screen is only the loudest case: text that runs past its card, or a
 * table cut off by its container (`overflow: hidden`, or a scroll container whose scroll bar a
 * phone hides), leaves the document's width alone. So every box and every run of text must also
 * end before the inner edge of the block that holds it, and before the screen's edge.
 */
function findOverflows(): string[] {
  // Sub-pixel layout rounds differently in different boxes.
  const SLACK = 1;
  const root = document.documentElement;
  const screenRight = root.clientWidth;
  const found: string[] = [];
  if (root.scrollWidth > root.clientWidth) {
    found.push(`the document is ${root.scrollWidth}px wide on a ${root.clientWidth}px screen`);
  }

  const name = (el: Element): string => {
    const testId = el.getAttribute("data-testid");
    const classes = [...el.classList].map((c) => `.${c}`).join("");
    return `<${el.localName}${el.id ? `#${el.id}` : ""}${classes}${testId ? ` ${testId}` : ""}>`;
  };
  // Inline boxes (strong, code, a) wrap with their text and `display: contents` has no box:
  // the edge to stay inside is the nearest block that lays them out.
  const holderOf = (node: Node): Element | null => {
    let el = node.parentElement;
    while (el) {
      const display = getComputedStyle(el).display;
      if (!display.startsWith("inline") && display !== "contents") return el;
      el = el.parentElement;
    }
    return null;
  };
  const innerRight = (el: Element): number =>
    el.getBoundingClientRect().right - parseFloat(getComputedStyle(el).borderRightWidth);
  const check = (right: number, what: string, holder: Element | null): void => {
    if (right > screenRight + SLACK) {
      found.push(`${what} passes the screen's edge by ${Math.round(right - screenRight)}px`);
    } else if (holder && right > innerRight(holder) + SLACK) {
      const by = Math.round(right - innerRight(holder));
      found.push(`${what} passes the edge of ${name(holder)} by ${by}px`);
    }
  };

  // What is for screen readers only (a caption, a reflowed table's header row) is clipped on
  // purpose, by `clip` or `clip-path`, in it or in an ancestor.
  const unseen = (el: Element | null): boolean => {
    for (; el; el = el.parentElement) {
      const style = getComputedStyle(el);
      if (style.clip !== "auto" || style.clipPath !== "none") return true;
    }
    return false;
  };

  for (const el of document.body.querySelectorAll("*")) {
    if (unseen(el)) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    // Taken out of the flow (the skip link, visually hidden captions): only the screen holds it.
    const position = getComputedStyle(el).position;
    const outOfFlow = position === "absolute" || position === "fixed";
    check(box.right, name(el), outOfFlow ? null : holderOf(el));
  }
  const texts = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let text = texts.nextNode(); text; text = texts.nextNode()) {
    if (!text.textContent?.trim() || unseen(text.parentElement)) continue;
    range.selectNodeContents(text);
    const box = range.getBoundingClientRect();
    if (box.width === 0) continue;
    check(box.right, `the text "${text.textContent.trim().slice(0, 40)}"`, holderOf(text));
  }
  return found;
}

/**
 * The checks every page gets: nothing sticks out, and every input has its label. Soft, so that
 * one run names every page that fails. Phone screenshots are taken first, to show what failed.
 */
async function checkPage(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  if (testInfo.project.name === "phone") await screenshot(page, testInfo, `page-${name}`);
  expect.soft(await page.evaluate(findOverflows), `what sticks out of ${name}`).toEqual([]);
  for (const input of await page.locator("input:not([type=hidden])").all()) {
    const id = await input.getAttribute("id");
    expect.soft(id, "every input has an id").toBeTruthy();
    await expect.soft(page.locator(`label[for="${id}"]`)).toHaveCount(1);
  }
}

test("the layout check finds text past its card and tables cut off by their containers", async ({
  page,
}) => {
  // Narrow enough that nothing passes the screen itself: only the containers' edges can catch it.
  await page.setContent(`
    <div style="width: 100px">
      <div class="card" style="border: 1px solid"><p>${"x".repeat(30)}</p></div>
      <div class="clip" style="overflow: hidden"><table data-testid="clipped"><tr><td>${"y".repeat(30)}</td></tr></table></div>
      <div class="scroll" style="overflow-x: auto"><table data-testid="scrolled"><tr><td>${"z".repeat(30)}</td></tr></table></div>
    </div>`);
  const found = await page.evaluate(findOverflows);
  expect(found).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^the text "x+" passes the edge of <p>/),
      expect.stringMatching(/^<table clipped> passes the edge of <div\.clip>/),
      expect.stringMatching(/^<table scrolled> passes the edge of <div\.scroll>/),
    ]),
  );
  expect(found.join("\n")).not.toContain("the document is");
});

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

  const loggedOut = { home: "/", signup: "/signup", login: "/login", pricing: "/pricing" };
  for (const [name, path] of Object.entries(loggedOut)) {
    test(`${path} fits the screen and labels its inputs`, async ({ page }, testInfo) => {
      await page.goto(path);
      await checkPage(page, testInfo, name);
    });
  }

  test("a page that does not exist fits the screen", async ({ page }, testInfo) => {
    const response = await page.goto("/no-such-page");
    expect(response?.status()).toBe(404);
    await checkPage(page, testInfo, "not-found");
  });

  test("the logged-in pages fit the screen, with a long email and name", async ({
    page,
  }, testInfo) => {
    const email = unbreakableEmail("layout");
    await signUp(page, email, LONG_NAME);
    await expect(page.getByTestId("account-email")).toHaveText(email);
    await checkPage(page, testInfo, "account-free");
    await page.goto("/");
    await checkPage(page, testInfo, "home-free");
    await page.goto("/members");
    await expect(page).toHaveURL(/\/pricing\?reason=members$/);
    await checkPage(page, testInfo, "pricing-free");

    await upgradeWithTestCheckout(page);
    // However it is laid out, the payments stay a table with headers to screen readers, and the
    // labels shown beside each value on a phone are not read into the cells' names.
    const payments = page.getByRole("table", { name: "Your payments, newest first" });
    await expect(payments.getByRole("columnheader")).toHaveText([
      "Date",
      "Amount",
      "Status",
      "Reference",
    ]);
    await expect(payments.getByRole("cell", { name: "$12.00", exact: true })).toBeVisible();
    await checkPage(page, testInfo, "account-pro");
    await page.goto("/members");
    await expect(page.getByTestId("members-welcome")).toContainText(LONG_NAME);
    await checkPage(page, testInfo, "members");
    await page.goto("/pricing");
    await checkPage(page, testInfo, "pricing-pro");
  });

  test("the skip link moves focus to the content", async ({ page }) => {
    await page.goto("/");
    await page.keyboard.press("Tab");
    const skip = page.getByRole("link", { name: "Skip to content" });
    await expect(skip).toBeFocused();
    await page.keyboard.press("Enter");
    await expect(page.locator("#main")).toBeFocused();
  });
});
