/**
 * Each environment serves its own static files. Two previews are served at different builds of
 * the same code: preview-1 at the first, preview-2 updated to a second. Every vite build stamps
 * its own version into _app/version.json and into a chunk that the entry scripts import, so the
 * two builds name different scripts. The sources are left alone (other suites build from this
 * checkout at the same time); the second build is had by dropping vite's build marker.
 */
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WEB_BUILD_MARKER } from "../../src/build";
import { Sandbox } from "./cli";

let box: Sandbox;
beforeAll(async () => {
  box = await Sandbox.create();
});
afterAll(async () => {
  await box?.dispose();
});

async function deploy(pr: number, ...flags: string[]): Promise<void> {
  const result = await box.run("preview-deploy", "--pr", String(pr), "--skip-tests", ...flags);
  expect(result.code, result.stdout + result.stderr).toBe(0);
}

/** The /_app/immutable/ files an HTML page loads: module preloads, stylesheets, imports. */
function immutableFiles(html: string): string[] {
  const found = html.match(/(?:\.{1,2}\/)*_app\/immutable\/[^"'\s)]+/g) ?? [];
  return [...new Set(found.map((ref) => `/${ref.slice(ref.indexOf("_app/"))}`))].sort();
}

/** A file of the build the environment's current version was deployed with. */
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
    // Any vite run from now on makes a build that differs from preview-1's.
    await rm(WEB_BUILD_MARKER, { force: true });
    await deploy(2, "--rebuild");
    const status = await box.status();
    expect(status.environments.map((e) => [e.name, e.version])).toEqual([
      ["preview-1", "v1"],
      ["preview-2", "v2"],
    ]);

    const served: Record<string, { version: string; entries: string[] }> = {};
    for (const pr of [1, 2]) {
      const environment = `preview-${pr}`;
      const host = `pr-${pr}.localhost`;
      const page = await box.http(host, "/");
      expect(page.status).toBe(200);

      const version = await box.http(host, "/_app/version.json");
      expect(version.status).toBe(200);
      expect(version.body).toBe(await builtFile(environment, "_app/version.json"));

      const files = immutableFiles(page.body);
      const entries = files.filter((f) =>
        /\/_app\/immutable\/entry\/(app|start)\.[^/]+\.js$/.test(f),
      );
      expect(entries, `${environment}'s entry scripts`).toHaveLength(2);
      for (const file of files) {
        const response = await box.http(host, file);
        expect(response.status, `${environment} ${file}`).toBe(200);
        expect(response.body, `${environment} ${file}`).toBe(await builtFile(environment, file));
      }
      served[environment] = { version: version.body, entries };
    }
    // Different builds: had one environment served the other's files, these would be equal.
    expect(served["preview-1"]?.version).not.toBe(served["preview-2"]?.version);
    expect(served["preview-1"]?.entries).not.toEqual(served["preview-2"]?.entries);
  });

  it("in Chromium, the updated preview's app starts: its scripts load and it navigates", async () => {
    // The client spec alone: what this test is about, not the whole suite.
    const result = await box.run("e2e", "--pr", "2", "--e2e-spec", "client");
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/✓ .*its scripts load, and it takes over navigation/);
  });
});
