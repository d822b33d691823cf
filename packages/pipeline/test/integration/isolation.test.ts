import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { explain, Sandbox } from "./cli";

// Four to six deploys each, minutes on a busy 2-core machine: generous timeouts.
// One environment polled every 50 ms through the host's one port while another is deployed,
// updated and removed, and while the polled one is itself updated: every answer must be a 200.
let box: Sandbox;
beforeAll(async () => {
  box = await Sandbox.create();
});
afterAll(async () => {
  await box?.dispose();
});

const deploy = async (...args: string[]) => {
  const result = await box.run(...args);
  expect(result.code, explain(result)).toBe(0);
};

/** Polls `hostname`'s /health every 50 ms while `during` runs; returns what each poll got. */
async function poll(hostname: string, during: () => Promise<void>) {
  const polls: { at: number; answer: string; ok: boolean }[] = [];
  const started = Date.now();
  let done = false;
  const poller = (async () => {
    while (!done) {
      const at = Date.now() - started;
      try {
        const res = await box.http(hostname, "/health", {
          headers: { accept: "application/json" },
        });
        polls.push({
          at,
          answer: `${res.status} ${res.body.slice(0, 200)}`,
          ok: res.status === 200,
        });
      } catch (error) {
        polls.push({ at, answer: `connection error: ${String(error)}`, ok: false });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    await during();
  } finally {
    done = true;
    await poller;
  }
  return polls;
}

/** Fails naming every failed poll: when it was sent and what came back. */
function expectNoFailure(what: string, polls: Awaited<ReturnType<typeof poll>>) {
  const failed = polls.filter((p) => !p.ok).map((p) => `GET /health at +${p.at} ms: ${p.answer}`);
  expect(failed, `${what}: ${failed.length} of ${polls.length} polls failed`).toEqual([]);
  // A poller that never ran would prove nothing.
  expect(polls.length, what).toBeGreaterThan(5);
}

describe("environments never disturb each other", () => {
  it("pr-1 answers every poll while pr-2 is deployed, updated and removed", async () => {
    await deploy("preview-deploy", "--pr", "1", "--skip-tests");
    const polls = await poll("pr-1.localhost", async () => {
      await deploy("preview-deploy", "--pr", "2", "--skip-tests");
      await deploy("preview-deploy", "--pr", "2", "--skip-tests", "--rebuild");
      await deploy("cleanup", "--pr", "2");
    });
    expectNoFailure("pr-1 while pr-2 came, changed and went", polls);
  }, 900_000);

  it("pr-1 answers every poll while it is itself updated", async () => {
    await deploy("preview-deploy", "--pr", "1", "--skip-tests"); // nothing to do if it is live
    const before = (await box.status()).environments.find((e) => e.name === "preview-1")?.version;
    const polls = await poll("pr-1.localhost", () =>
      deploy("preview-deploy", "--pr", "1", "--skip-tests", "--rebuild"),
    );
    expectNoFailure("pr-1 during its own update", polls);
    const after = (await box.status()).environments.find((e) => e.name === "preview-1")?.version;
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
  }, 900_000);
});
