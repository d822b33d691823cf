import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, join, relative } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PipelineError } from "../../../src/errors";
import { describeReviewChannel, sampleSummary } from "./suite";
import {
  LocalReviewChannel,
  SUMMARY_HTML_FILE,
  SUMMARY_MARKDOWN_FILE,
} from "../../../src/providers/review/local";
import { renderHtml, renderMarkdown } from "../../../src/providers/review/render";

// Built by concatenation so that no scanner mistakes the fixtures for real credentials.
const SECRET = "sk_" + "test_51LocalReviewSecret";

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "codex-review-"));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const envDir = (environment: string) => join(root, "environments", environment);

async function read(environment: string, file: string): Promise<string> {
  return readFile(join(envDir(environment), file), "utf8");
}

describeReviewChannel("local", async () => ({
  channel: new LocalReviewChannel({ dir: envDir, secrets: () => [SECRET] }),
  secrets: [SECRET],
  async published(environment) {
    try {
      return [await read(environment, SUMMARY_MARKDOWN_FILE)];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
  },
}));

describe("LocalReviewChannel", () => {
  it("writes summary.md and summary.html into a new state folder and returns the HTML's path", async () => {
    const channel = new LocalReviewChannel({ dir: envDir });
    const summary = sampleSummary();
    const { location } = await channel.publish(summary);
    expect(location).toBe(join(envDir("preview-7"), SUMMARY_HTML_FILE));
    expect(isAbsolute(location)).toBe(true);
    expect(await read("preview-7", SUMMARY_MARKDOWN_FILE)).toBe(renderMarkdown(summary));
    expect(await readFile(location, "utf8")).toBe(renderHtml(summary));
    expect((await readdir(envDir("preview-7"))).sort()).toEqual(["summary.html", "summary.md"]);
  });

  it("returns an absolute location even for a relative state folder", async () => {
    const fromCwd = join(relative(process.cwd(), root), "rel");
    expect(isAbsolute(fromCwd)).toBe(false);
    const channel = new LocalReviewChannel({ dir: (environment) => join(fromCwd, environment) });
    const { location } = await channel.publish(sampleSummary());
    expect(isAbsolute(location)).toBe(true);
    expect(location).toBe(join(root, "rel", "preview-7", SUMMARY_HTML_FILE));
  });

  it("asks for the secrets at every publish and scrubs them from both files", async () => {
    const secrets = vi.fn(() => [SECRET]);
    const channel = new LocalReviewChannel({ dir: envDir, secrets });
    const summary = sampleSummary({ status: "failed", error: `Stripe said no to ${SECRET}` });
    await channel.publish(summary);
    await channel.publish(summary);
    expect(secrets).toHaveBeenCalledTimes(2);
    for (const file of [SUMMARY_MARKDOWN_FILE, SUMMARY_HTML_FILE]) {
      const text = await read("preview-7", file);
      expect(text).not.toContain(SECRET);
      expect(text).toContain("Stripe said no to [REDACTED]");
    }
  });

  it("replaces both files by rename on a second publish, leaving no temporary file", async () => {
    const channel = new LocalReviewChannel({ dir: envDir });
    await channel.publish(sampleSummary({ status: "in-progress" }));
    const folder = envDir("preview-7");
    const before = await stat(join(folder, SUMMARY_MARKDOWN_FILE));
    await channel.publish(sampleSummary({ status: "deleted", urls: null, database: null }));
    const after = await stat(join(folder, SUMMARY_MARKDOWN_FILE));
    // A new inode: the file was swapped whole, never rewritten where a reader could see half.
    expect(after.ino).not.toBe(before.ino);
    expect(await read("preview-7", SUMMARY_MARKDOWN_FILE)).toContain("Preview preview-7 — deleted");
    expect(await read("preview-7", SUMMARY_HTML_FILE)).toContain(
      '<span class="status status-deleted">deleted</span>',
    );
    expect((await readdir(folder)).sort()).toEqual(["summary.html", "summary.md"]);
  });

  it("leaves complete files and no temporary ones after concurrent publishes", async () => {
    const channel = new LocalReviewChannel({ dir: envDir });
    const summaries = [1, 2, 3, 4, 5].map((n) =>
      sampleSummary({
        version: `v${n}`,
        steps: [{ name: `step ${n}`, status: "ok", durationMs: n }],
      }),
    );
    await Promise.all(summaries.map((summary) => channel.publish(summary)));
    expect(summaries.map((summary) => renderMarkdown(summary))).toContain(
      await read("preview-7", SUMMARY_MARKDOWN_FILE),
    );
    expect(summaries.map((summary) => renderHtml(summary))).toContain(
      await read("preview-7", SUMMARY_HTML_FILE),
    );
    expect((await readdir(envDir("preview-7"))).sort()).toEqual(["summary.html", "summary.md"]);
  });

  it("removes its temporary files when it cannot replace a summary", async () => {
    const folder = envDir("preview-7");
    // A non-empty folder where summary.html should go: the rename fails.
    await mkdir(join(folder, SUMMARY_HTML_FILE), { recursive: true });
    await writeFile(join(folder, SUMMARY_HTML_FILE, "keep"), "");
    const channel = new LocalReviewChannel({ dir: envDir });
    await expect(channel.publish(sampleSummary())).rejects.toThrow();
    expect((await readdir(folder)).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });

  it("keeps screenshot paths relative to the summary's folder, so the images resolve", async () => {
    const folder = envDir("preview-7");
    await mkdir(join(folder, "e2e", "screenshots"), { recursive: true });
    await writeFile(join(folder, "e2e", "screenshots", "home page.png"), "png");
    const channel = new LocalReviewChannel({ dir: envDir });
    await channel.publish(
      sampleSummary({
        e2e: {
          passed: 1,
          failed: 0,
          skipped: 0,
          durationMs: 4200,
          reportDir: "e2e/report",
          screenshots: ["e2e/screenshots/home page.png"],
        },
      }),
    );
    const html = await read("preview-7", SUMMARY_HTML_FILE);
    const src = /<img src="([^"]+)" alt="home page"/.exec(html)?.[1];
    expect(src).toBe("e2e/screenshots/home%20page.png");
    await expect(readFile(join(folder, decodeURIComponent(src!)), "utf8")).resolves.toBe("png");
    expect(await read("preview-7", SUMMARY_MARKDOWN_FILE)).toContain(
      "![home page](e2e/screenshots/home%20page.png)",
    );
  });

  it.each(["", ".", "..", "../escape", "a/b", "a\\b", "preview-1\0"])(
    "refuses the environment name %j before touching the disk",
    async (environment) => {
      const dir = vi.fn(envDir);
      const channel = new LocalReviewChannel({ dir });
      const error = await channel.publish(sampleSummary({ environment })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PipelineError);
      expect(error).toMatchObject({ code: "INVALID_ENVIRONMENT", kind: "user" });
      expect(dir).not.toHaveBeenCalled();
      await expect(readdir(root)).resolves.toEqual([]);
    },
  );
});
