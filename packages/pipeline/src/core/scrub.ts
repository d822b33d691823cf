/** What every removed secret is replaced with. */
export const REDACTED = "[REDACTED]";

// Credentials in any URL: postgres://user:pass@host, redis://:pass@host, https://token@host.
// The authority stops at "/", "?", "#" or whitespace, and the greedy match backtracks to its
// last "@", so a raw "@" inside a password is covered too. The scheme is capped at 32
// characters to keep the scan linear. Same rule as @codex/observability's redactString, which
// this package does not depend on.
const URL_CREDENTIALS = /([A-Za-z][A-Za-z0-9+.-]{0,31}:\/\/)[^\s/?#]*@/g;

/**
 * Returns a function that replaces every known secret value in a text with `[REDACTED]`, then
 * every match of `patterns` (secrets known by their shape only), then strips credentials from
 * every URL. A secret is also caught percent-encoded, the way a password sits inside a
 * connection string, and a secret URL's password on its own. Blank values are ignored: they
 * would match everywhere. The one scrubber of the pipeline: every provider uses it.
 */
export function createScrubber(
  secrets: readonly string[],
  patterns: readonly RegExp[] = [],
): (text: string) => string {
  const needles = new Set(secretForms(secrets));
  // Longest first, so a secret that contains another is replaced whole. One alternation means
  // one pass: a short secret cannot match inside a "[REDACTED]" that an earlier one left.
  const pattern =
    needles.size === 0
      ? null
      : new RegExp(
          [...needles]
            .sort((a, b) => b.length - a.length)
            .map(escapeRegExp)
            .join("|"),
          "g",
        );
  return (text) => {
    let out = pattern ? text.replace(pattern, REDACTED) : text;
    for (const shape of patterns) out = out.replace(shape, REDACTED);
    return out.replace(URL_CREDENTIALS, `$1${REDACTED}@`);
  };
}

/**
 * Every form in which a secret can appear and must be found: each value, a URL's password on its
 * own, and both URL-encoded. What the scrubber replaces, and what the report Worker refuses to
 * publish (providers/workers/cloudflare/report.ts).
 */
export function secretForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const secret of [...secrets, ...secrets.map(passwordOf)]) {
    if (secret.trim() === "") continue;
    forms.add(secret);
    forms.add(encodeURIComponentSafe(secret));
  }
  return [...forms];
}

/** One-off form of {@link createScrubber}. */
export function scrub(text: string, secrets: readonly string[]): string {
  return createScrubber(secrets)(text);
}

/**
 * A copy of `value` with every string in it (at any depth, in arrays and plain objects) passed
 * through `scrubber`. Keys are left alone.
 */
export function scrubDeep<T>(value: T, scrubber: (text: string) => string): T {
  return scrubValue(value, scrubber) as T;
}

function scrubValue(value: unknown, scrubber: (text: string) => string): unknown {
  if (typeof value === "string") return scrubber(value);
  if (Array.isArray(value)) return value.map((item: unknown) => scrubValue(item, scrubber));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, scrubValue(item, scrubber)]),
    );
  }
  return value;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The decoded password of a URL (a connection string), or "" when there is none. */
function passwordOf(secret: string): string {
  try {
    return decodeURIComponent(new URL(secret).password);
  } catch {
    return ""; // not a URL, or a password that does not decode
  }
}

// encodeURIComponent throws on a lone surrogate; such a secret is still caught raw.
function encodeURIComponentSafe(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return text;
  }
}
