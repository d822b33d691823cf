import { describe, expect, it } from "vitest";
import { REDACTED, createScrubber, scrub, scrubDeep } from "./scrub";

// Built by concatenation so that no scanner mistakes the fixtures for real credentials.
const TOKEN = "ghp_" + "Zx9KqT4mW2vB7nR1cY5pL8";

describe("scrub", () => {
  it("replaces every occurrence of every known secret", () => {
    const text = `token ${TOKEN}; again ${TOKEN}; other hunter2!`;
    expect(scrub(text, [TOKEN, "hunter2"])).toBe(
      `token ${REDACTED}; again ${REDACTED}; other ${REDACTED}!`,
    );
  });

  it("replaces the longest secret whole when one contains another", () => {
    expect(scrub("pw=abcdef", ["abc", "abcdef"])).toBe(`pw=${REDACTED}`);
  });

  it("does not rescan its own replacements", () => {
    // "RED" is inside "[REDACTED]"; one pass means the marker comes out intact.
    expect(scrub("xx hunter2 RED", ["hunter2", "RED"])).toBe(`xx ${REDACTED} ${REDACTED}`);
  });

  it("treats regular-expression characters in a secret literally", () => {
    const secret = "a.b*c(d)[e]$^|\\";
    expect(scrub(`x ${secret} aXbbc`, [secret])).toBe(`x ${REDACTED} aXbbc`);
  });

  it("catches a secret percent-encoded, as it appears inside a URL", () => {
    const secret = "p@ss/w:rd";
    const encoded = encodeURIComponent(secret);
    expect(scrub(`https://example.com/?pw=${encoded}`, [secret])).toBe(
      `https://example.com/?pw=${REDACTED}`,
    );
  });

  it("ignores blank secrets, which would match everywhere", () => {
    expect(scrub("a b  c", ["", " ", "\t"])).toBe("a b  c");
  });

  it("does not throw on a secret with a lone surrogate", () => {
    expect(scrub("x \uD800y z", ["\uD800y"])).toBe(`x ${REDACTED} z`);
  });

  it.each([
    ["postgres://app:hunter2@db.internal:5432/main", "postgres://[REDACTED]@db.internal:5432/main"],
    ["redis://:s3cret@cache:6379", "redis://[REDACTED]@cache:6379"],
    ["https://user:pass@example.com/x", "https://[REDACTED]@example.com/x"],
    ["postgres://u:p@ss@host/db", "postgres://[REDACTED]@host/db"],
    ["failed: postgresql://a:b@h/d (timeout)", "failed: postgresql://[REDACTED]@h/d (timeout)"],
  ])("always strips credentials from a URL: %s", (input, expected) => {
    expect(scrub(input, [])).toBe(expected);
  });

  it("leaves URLs without credentials alone, including an @ in the path", () => {
    const text = "see https://www.npmjs.com/package/@codex/pipeline and mail a@b.c";
    expect(scrub(text, [])).toBe(text);
  });

  it("catches a secret URL's password on its own, and secrets known only by their shape", () => {
    expect(scrub("pw hunter2!", ["postgres://app:hunter2@db/main"])).toBe(`pw ${REDACTED}!`);
    expect(createScrubber([], [/\bsk_\w+/g])("key sk_test_abc")).toBe(`key ${REDACTED}`);
  });

  it("is idempotent", () => {
    const once = scrub(`postgres://app:${TOKEN}@db/main ${TOKEN}`, [TOKEN]);
    expect(scrub(once, [TOKEN])).toBe(once);
    expect(once).toBe(`postgres://${REDACTED}@db/main ${REDACTED}`);
  });
});

describe("scrubDeep", () => {
  it("scrubs strings at every depth and leaves other values and the input alone", () => {
    const input = {
      a: `x ${TOKEN}`,
      n: 3,
      flag: true,
      none: null,
      list: [`${TOKEN}`, { deep: [`postgres://u:p@h/d`] }],
    };
    const before = structuredClone(input);
    const output = scrubDeep(input, createScrubber([TOKEN]));
    expect(output).toEqual({
      a: `x ${REDACTED}`,
      n: 3,
      flag: true,
      none: null,
      list: [REDACTED, { deep: [`postgres://${REDACTED}@h/d`] }],
    });
    expect(input).toEqual(before);
  });
});
