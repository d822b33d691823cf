import type { Summary } from "../../core/summary";

/**
 * Where the pipeline publishes an environment's status after each command. Locally that is a
 * summary file pair in the environment's state folder; on GitHub it is one sticky PR comment,
 * found again by {@link SUMMARY_MARKER} and edited in place.
 */
export interface ReviewChannel {
  /** Publishes (or replaces) the environment's summary; `location` is where to look at it. */
  publish(summary: Summary): Promise<{ location: string }>;
}

/**
 * The hidden first line of every Markdown summary, by which a sticky comment is found again.
 * Valid environment names pass through unchanged; any other character is written as %XX (per
 * UTF-16 unit, so it cannot throw on a lone surrogate) and a name can never close the HTML
 * comment early ("-->") or break it across lines.
 */
export const SUMMARY_MARKER = (environment: string) =>
  `<!-- codex-preview:${environment.replace(/[^A-Za-z0-9._-]/g, percentEncodeUnit)} -->`;

function percentEncodeUnit(unit: string): string {
  return `%${unit.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`;
}
