import {
  isRowDataField,
  NO_QUERY_PARAMETERS,
  QUERY_PARAMETER_FIELDS,
  queryParametersOf,
  withoutQueryParameters,
  type QueryParameters,
} from "./query-errors";

/** What every removed secret is replaced with. */
export const REDACTED = "[REDACTED]";

/** Stands in for a reference back to an object that is already being copied. */
export const CIRCULAR = "[Circular]";

// Deeper structures are almost always accidents (a logged ORM row with back-references, a
// framework context); cutting them keeps one log line from growing without bound.
const MAX_DEPTH = 16;

// Compared after lower-casing and dropping "-", "_" and spaces, so "api_key", "apiKey" and
// "API-KEY" are one name.
const SENSITIVE_KEYS = new Set([
  "authorization",
  "cookie",
  "setcookie",
  "stripesignature",
  "proxyauthorization",
  "xapikey",
  "password",
  "passwd",
  "secret",
  "token",
  "apikey",
  "privatekey",
  "sessionsecret",
  "databaseurl",
]);

// "clientSecret", "ADMIN_PASSWORD", "refresh_token", "PREVIEW_DATABASE_URL".
const SENSITIVE_SUFFIXES = ["secret", "password", "token", "databaseurl"];

type Rule = readonly [pattern: RegExp, replacement: string];

// Order matters: "Bearer eyJ…" must be caught whole by the Bearer rule, and every replacement
// must survive a second pass unchanged, so redacting twice is harmless.
const STRING_RULES: readonly Rule[] = [
  // Credentials in any URL: postgres://user:pass@host, redis://:pass@host, https://token@host.
  // The scheme is capped at 32 characters so a long run of letters cannot make the scan
  // quadratic; the greedy authority backtracks to the last "@", so a raw "@" in a password
  // is still covered.
  [/([A-Za-z][A-Za-z0-9+.-]{0,31}:\/\/)[^\s/?#]*@/g, `$1${REDACTED}@`],
  [/\b(Bearer)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`],
  // JWTs: base64url header (a JSON object, so "eyJ"), payload and an optional signature.
  [/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, REDACTED],
  // Stripe secret and restricted keys and webhook signing secrets. Publishable keys (pk_) are
  // public by design.
  [/(?<![A-Za-z0-9])(?:sk|rk)_(?:live|test)_[A-Za-z0-9]+/g, REDACTED],
  [/(?<![A-Za-z0-9])whsec_[A-Za-z0-9]+/g, REDACTED],
  // Neon role passwords.
  [/(?<![A-Za-z0-9])npg_[A-Za-z0-9]+/g, REDACTED],
  // key=value and "key": "value" forms: libpq DSNs ("host=… password=…"), query strings and
  // JSON that was stringified before it reached the logger.
  [
    /((?:password|passwd|pwd|secret|token|api[_-]?key)["']?\s*[=:]\s*["']?)[^\s&;,"']+/gi,
    `$1${REDACTED}`,
  ],
];

/** Replaces credentials, API keys, JWTs and bearer tokens found anywhere in `text`. */
export function redactString(text: string): string {
  let result = text;
  for (const [pattern, replacement] of STRING_RULES) {
    result = result.replace(pattern, replacement);
  }
  return result;
}

/** Whether a field or header with this name holds a secret, whatever its value looks like. */
export function isSensitiveKey(key: string): boolean {
  const normalized = key.toLowerCase().replace(/[-_\s]/g, "");
  return (
    SENSITIVE_KEYS.has(normalized) ||
    SENSITIVE_SUFFIXES.some((suffix) => normalized.endsWith(suffix))
  );
}

/**
 * Returns a deep copy of `value` that is safe to log: values under secret-looking keys become
 * `"[REDACTED]"`, every string is passed through {@link redactString}, and references back to
 * an enclosing object become `"[Circular]"`.
 *
 * Errors of failed database queries lose their parameters, wherever these appear under the
 * error (message, stack, cause, own fields), and PostgreSQL's description of the offending row;
 * their SQL text stays (see `query-errors.ts`).
 *
 * The copy is shaped for `JSON.stringify`, so some types change on the way: an `Error` becomes
 * `{ name, message, stack, cause, ...ownFields }`, `Headers` and `Map` become plain objects,
 * a `Set` becomes an array, and objects with `toJSON` (`Date`, `URL`) are replaced by its
 * result. The return type keeps `T` for convenience; treat it as "the same data, as JSON".
 * It never throws: a value that cannot be read is replaced by `"[Unreadable]"`.
 */
export function redact<T>(value: T): T {
  return copy(value, new Set(), 0, NO_QUERY_PARAMETERS) as T;
}

// `ancestors` holds only the objects on the current path, so a value that is merely shared
// (referenced twice, but not from inside itself) is copied twice instead of being mistaken
// for a cycle. `queries` holds the failed queries of the errors enclosing `value`.
function copy(
  value: unknown,
  ancestors: Set<object>,
  depth: number,
  queries: QueryParameters,
): unknown {
  if (typeof value === "string") {
    // Parameters go first: redactString could change one so that it no longer matches.
    return redactString(withoutQueryParameters(value, queries, REDACTED));
  }
  if (typeof value !== "object" || value === null) {
    return value;
  }
  if (ancestors.has(value)) {
    return CIRCULAR;
  }
  if (depth >= MAX_DEPTH) {
    return "[Truncated]";
  }
  ancestors.add(value);
  try {
    return copyObject(value, ancestors, depth + 1, queries);
  } catch {
    // A throwing getter or a revoked proxy must not take the log line (or the request) down.
    return "[Unreadable]";
  } finally {
    ancestors.delete(value);
  }
}

function copyObject(
  value: object,
  ancestors: Set<object>,
  depth: number,
  queries: QueryParameters,
): unknown {
  if (isError(value)) {
    const inner = queryParametersOf(value, queries);
    return copyError(value, (child) => copy(child, ancestors, depth, inner));
  }
  const next = (child: unknown) => copy(child, ancestors, depth, queries);

  if (Array.isArray(value)) {
    if (isEntryList(value)) {
      return value.map(([name, entry]) => [
        redactString(name),
        isSensitiveKey(name) ? REDACTED : next(entry),
      ]);
    }
    return value.map(next);
  }
  if (typeof Headers !== "undefined" && value instanceof Headers) {
    return copyEntries(value.entries(), next);
  }
  if (value instanceof Map) {
    return copyEntries(value.entries(), next);
  }
  if (value instanceof Set) {
    return Array.from(value, next);
  }
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    return `[binary ${value.byteLength} bytes]`;
  }
  const toJSON: unknown = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") {
    // Mirrors JSON.stringify, which would call it anyway, but lets the result be redacted.
    return next(toJSON.call(value));
  }
  return copyEntries(Object.entries(value), next);
}

function copyEntries(
  entries: Iterable<[unknown, unknown]>,
  next: (child: unknown) => unknown,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [rawKey, entry] of entries) {
    const key = String(rawKey);
    setField(out, redactString(key), isSensitiveKey(key) ? REDACTED : next(entry));
  }
  return out;
}

// `next` copies a child without the parameters of the error's failed queries; `text` is `next`
// for the error's own strings.
function copyError(error: Error, next: (child: unknown) => unknown): Record<string, unknown> {
  const text = (value: string) => next(value) as string;
  const out: Record<string, unknown> = {
    name: text(String(error.name)),
    message: text(String(error.message)),
  };
  // The stack repeats the message, so it needs the same scrubbing. Its frames are code
  // locations: they hold no parameters, and a short parameter must not mangle a path.
  if (typeof error.stack === "string") {
    const frames = error.stack.search(/\n\s+at /);
    out.stack =
      frames === -1
        ? text(error.stack)
        : text(error.stack.slice(0, frames)) + redactString(error.stack.slice(frames));
  }
  if (error.cause !== undefined) {
    out.cause = next(error.cause);
  }
  const errors: unknown = (error as { errors?: unknown }).errors;
  if (Array.isArray(errors)) {
    out.errors = next(errors);
  }
  // Own fields such as `code` or `status`, which libraries attach to their errors.
  for (const [key, entry] of Object.entries(error)) {
    if (!(key in out)) {
      const hidden =
        isSensitiveKey(key) || QUERY_PARAMETER_FIELDS.has(key) || isRowDataField(error, key);
      setField(out, text(key), hidden ? REDACTED : next(entry));
    }
  }
  return out;
}

// Plain assignment of "__proto__" would replace the copy's prototype instead of adding a
// field (such keys do arrive, from JSON.parse of untrusted input).
function setField(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

// Errors from another realm fail `instanceof Error` but keep their brand.
function isError(value: object): value is Error {
  return value instanceof Error || Object.prototype.toString.call(value) === "[object Error]";
}

// `[["authorization", "Bearer …"], ["accept", "*/*"]]`: the shape of `HeadersInit` and of
// `Object.entries`, where the secret is told by the name beside it, not by the value itself.
function isEntryList(value: unknown[]): value is [string, unknown][] {
  return (
    value.length > 0 &&
    value.every((item) => Array.isArray(item) && item.length === 2 && typeof item[0] === "string")
  );
}
