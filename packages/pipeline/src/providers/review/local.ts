/**
 * The local review channel: `summary.md` and `summary.html` in the environment's state folder.
 * The Markdown is exactly what the GitHub channel posts as the sticky PR comment; the HTML is for
 * opening in a browser. Each file is replaced by a rename, so a reader sees the old summary or the
 * new one, never half of one.
 */
import { randomUUID } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { userError } from "../../errors";
import { renderHtml, renderMarkdown } from "./render";
import type { Summary } from "../../core/summary";
import type { ReviewChannel } from "./shared";

export const SUMMARY_MARKDOWN_FILE = "summary.md";
export const SUMMARY_HTML_FILE = "summary.html";

export interface LocalReviewChannelOptions {
  /** The environment's state folder; it is created when missing. */
  dir: (environment: string) => string;
  /** Secret values to scrub from both files, asked for at every publish. */
  secrets?: () => readonly string[];
}

export class LocalReviewChannel implements ReviewChannel {
  readonly #dir: (environment: string) => string;
  readonly #secrets: () => readonly string[];

  constructor(options: LocalReviewChannelOptions) {
    this.#dir = options.dir;
    this.#secrets = options.secrets ?? (() => []);
  }

  /** Writes both files and returns the absolute path of `summary.html`. */
  async publish(summary: Summary): Promise<{ location: string }> {
    // The name becomes part of a path: refuse what could point outside the state folder.
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(summary.environment)) {
      throw userError(
        "INVALID_ENVIRONMENT",
        `cannot publish a summary for the environment ${JSON.stringify(summary.environment)}`,
        "Use an environment name made of letters, digits, '.', '_' and '-', such as preview-12.",
      );
    }
    const folder = resolve(this.#dir(summary.environment));
    const secrets = this.#secrets();
    const files = [
      { path: join(folder, SUMMARY_MARKDOWN_FILE), text: renderMarkdown(summary, { secrets }) },
      { path: join(folder, SUMMARY_HTML_FILE), text: renderHtml(summary, { secrets }) },
    ];
    await mkdir(folder, { recursive: true });
    await replaceFiles(files);
    return { location: join(folder, SUMMARY_HTML_FILE) };
  }
}

/**
 * Writes every file to a temporary sibling first (same folder, so the rename stays on one file
 * system and is atomic), and renames only once all of them are written: a failed write leaves the
 * previous pair in place. Temporary files never outlive the call.
 */
async function replaceFiles(files: readonly { path: string; text: string }[]): Promise<void> {
  const staged = files.map(({ path, text }) => ({
    path,
    text,
    temp: join(dirname(path), `.${basename(path)}.${process.pid}.${randomUUID()}.tmp`),
  }));
  try {
    await Promise.all(staged.map(({ temp, text }) => writeDurably(temp, text)));
    for (const { temp, path } of staged) {
      await rename(temp, path);
    }
  } finally {
    await Promise.all(staged.map(({ temp }) => rm(temp, { force: true })));
  }
}

// fsync before the rename: otherwise a crash can leave the new name pointing at an empty file.
async function writeDurably(path: string, text: string): Promise<void> {
  const handle = await open(path, "wx", 0o644);
  try {
    await handle.writeFile(text, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
}
