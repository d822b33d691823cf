import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "./cli";

describe("serve --pr N (what a container runs to offer a preview)", () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await Sandbox.create();
  });
  afterAll(async () => {
    await sandbox?.dispose();
  });

  it("deploys, serves in the foreground, and on SIGTERM stops its host and exits 0", async () => {
    const { child, done, output } = sandbox.start(["serve", "--pr", "5"], {
      ...sandbox.env,
      CODEX_BIND_HOST: "0.0.0.0",
    });
    const deadline = Date.now() + 240_000;
    while (!/serving preview-5 at /.test(output()) && Date.now() < deadline) {
      if (child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(output()).toContain(`serving preview-5 at http://pr-5.localhost:${sandbox.port}`);
    // Tests are skipped: serve is for looking at a preview, not for gating it.
    expect(output()).toMatch(/run the platform tests.*--skip-tests|skipped/);
    const page = await sandbox.http("pr-5.localhost", "/");
    expect(page.status).toBe(200);
    expect(page.body).toContain("preview-5");
    // Still in the foreground after the deploy.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(child.exitCode).toBeNull();

    child.kill("SIGTERM");
    const result = await done;
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/stopped$/m);
    expect((await sandbox.status()).host.running).toBe(false);
  });
});
