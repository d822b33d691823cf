/**
 * Each environment serves its own static files. Two previews are served at different builds:
 * preview-1 at the checkout's web app, preview-2 updated to a build whose home page carries a
 * marker. The marker is written into apps/web/src for one deploy and taken out again: the web
 * build is shared by the whole checkout, so it must not outlive that deploy.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "./cli";

const HOME_PAGE = fileURLToPath(
  new URL("../../../../apps/web/src/routes/+page.svelte", import.meta.url),
);
const MARKER = `static-files-test-${Date.now().toString(36)}`;

let box: Sandbox;
let homePage: string | undefined;
beforeAll(async () => {
  box = await Sandbox.create();
});
afterAll(async () => {
  // Also when the test was stopped between writing the marker and its own restore.
  if (homePage !== undefined) await writeFile(HOME_PAGE, homePage);
  await box?.dispose();
});

async function deploy(pr: number): Promise<void> {
  const result = await box.run("preview-deploy", "--pr", String(pr), "--skip-tests");
  expect(result.code, result.stdout + result.stderr).toBe(0);
}

/** The /_app/immutable/ files an HTML page loads: module preloads, stylesheets, imports. */
function immutableFiles(html: string): string[] {
  const found = html.match(/(?:\.{1,2}\/)*_app\/immutable\/[^"'\s)]+/g) ?? [];
  return [...new Set(found.map((ref) => `/${ref.slice(ref.indexOf("_app/"))}`))].sort();
}

/** The files an environment's served version was built with. */
async function builtFile(environment: string, file: string): Promise<string> {
  const status = await box.status();
  const version = status.environments.find((e) => e.name === environment)?.version;
  if (!version) throw new Error(`${environment} serves no version`);
  const assets = join(box.stateDir, "envs", environment, "versions", version, "web-assets");
  return readFile(join(assets, file), "utf8");
}

describe("each environment serves its own static files", () => {
  it("two previews at different builds each serve their own version.json and scripts", async () => {
    await Promise.all([deploy(1), deploy(2)]);
    homePage = await readFile(HOME_PAGE, "utf8");
    try {
      await writeFile(HOME_PAGE, `${homePage}\n<p data-testid="build-marker">${MARKER}</p>\n`);
      await deploy(2);
    } finally {
      await writeFile(HOME_PAGE, homePage);
      homePage = undefined;
    }
    const status = await box.status();
    expect(status.environments.map((e) => [e.name, e.version])).toEqual([
      ["preview-1", "v1"],
      ["preview-2", "v2"],
    ]);

    const served: Record<string, string> = {};
    for (const [pr, marked] of [
      [1, false],
      [2, true],
    ] as const) {
      const environment = `preview-${pr}`;
      const host = `pr-${pr}.localhost`;
      const page = await box.http(host, "/");
      expect(page.status).toBe(200);
      expect(page.body.includes(MARKER), `${environment}'s page shows the marker`).toBe(marked);

      const version = await box.http(host, "/_app/version.json");
      expect(version.status).toBe(200);
      expect(version.body).toBe(await builtFile(environment, "_app/version.json"));
      served[environment] = version.body;

      const files = immutableFiles(page.body);
      expect(files.some((f) => /\/_app\/immutable\/entry\/start\.[^/]+\.js$/.test(f))).toBe(true);
      expect(files.some((f) => /\/_app\/immutable\/entry\/app\.[^/]+\.js$/.test(f))).toBe(true);
      for (const file of files) {
        const response = await box.http(host, file);
        expect(response.status, `${environment} ${file}`).toBe(200);
        expect(response.body, `${environment} ${file}`).toBe(await builtFile(environment, file));
      }
    }
    // Different builds: had one environment served the other's files, these would be equal.
    expect(served["preview-1"]).not.toBe(served["preview-2"]);
  });

  it("in Chromium, the updated preview's app starts: its scripts load and it navigates", async () => {
    const result = await box.run("e2e", "--pr", "2");
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/✓ .*its scripts load, and it takes over navigation/);
  });
});
