/**
 * The conformance suite every ReviewChannel runs: the local one against real files, the GitHub
 * one against a stub server that records the comments it is sent. A test file calls
 * `describeReviewChannel` with a harness; the suite itself knows nothing of either.
 */
import { describe, expect, it } from "vitest";
import { type Summary } from "../../../src/core/summary";
import { SUMMARY_MARKER, type ReviewChannel } from "../../../src/providers/review/shared";

export interface ReviewChannelHarness {
  /** A channel configured to scrub `secrets`. */
  channel: ReviewChannel;
  /** The secret values the channel was given. */
  secrets: readonly string[];
  /** Every Markdown summary currently published for the environment (one file, one comment). */
  published(environment: string): Promise<string[]>;
}

/** A small valid summary; `overrides` replace whole fields. */
export function sampleSummary(overrides: Partial<Summary> = {}): Summary {
  return {
    environment: "preview-7",
    target: "local",
    status: "deployed",
    urls: {
      web: "http://pr-7.localhost:8787",
      auth: "http://auth-pr-7.localhost:8787",
      webhook: "http://stripe-webhook-pr-7.localhost:8787",
    },
    database: { branch: "pr-7", migrationsApplied: ["0001_init"], migrationsTotal: 1 },
    version: "v1",
    steps: [{ name: "deploy", status: "ok", durationMs: 1500 }],
    tests: { passed: 3, failed: 0, skipped: 0, durationMs: 2000 },
    updatedAt: "2025-05-01T12:00:00.000Z",
    ...overrides,
  };
}

export function describeReviewChannel(
  name: string,
  setup: () => Promise<ReviewChannelHarness>,
): void {
  describe(`ReviewChannel conformance: ${name}`, () => {
    it("publishes one Markdown summary that starts with the environment's marker", async () => {
      const { channel, published } = await setup();
      const { location } = await channel.publish(sampleSummary());
      expect(location).not.toBe("");
      const bodies = await published("preview-7");
      expect(bodies).toHaveLength(1);
      expect(bodies[0]?.split("\n")[0]).toBe(SUMMARY_MARKER("preview-7"));
      expect(bodies[0]).toContain("Preview preview-7 — deployed");
    });

    it("replaces the summary in place when publishing again", async () => {
      const { channel, published } = await setup();
      const first = await channel.publish(sampleSummary({ status: "in-progress" }));
      const second = await channel.publish(
        sampleSummary({ status: "failed", error: "Smoke check failed." }),
      );
      expect(second.location).toBe(first.location);
      const bodies = await published("preview-7");
      expect(bodies).toHaveLength(1);
      expect(bodies[0]).toContain("Preview preview-7 — failed");
      expect(bodies[0]).toContain("Smoke check failed.");
      expect(bodies[0]).not.toContain("in progress");
    });

    it("keeps environments apart", async () => {
      const { channel, published } = await setup();
      await channel.publish(sampleSummary());
      await channel.publish(
        sampleSummary({ environment: "preview-8", status: "deleted", urls: null, database: null }),
      );
      expect(await published("preview-7")).toEqual([
        expect.stringContaining("Preview preview-7 — deployed"),
      ]);
      expect(await published("preview-8")).toEqual([
        expect.stringContaining("Preview preview-8 — deleted"),
      ]);
    });

    it("never publishes a secret it was given, nor credentials in a URL", async () => {
      const { channel, published, secrets } = await setup();
      expect(secrets.length).toBeGreaterThan(0);
      const all = secrets.join(" ");
      await channel.publish(
        sampleSummary({
          status: "failed",
          steps: [{ name: "migrate", status: "failed", durationMs: 10, detail: all }],
          error: `postgres://app:pw-in-url@db.internal/main refused: ${all}`,
        }),
      );
      const [body] = await published("preview-7");
      for (const secret of secrets) expect(body).not.toContain(secret);
      expect(body).not.toContain("pw-in-url");
      expect(body).toContain("postgres://[REDACTED]@db.internal/main");
    });
  });
}
