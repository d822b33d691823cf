/**
 * What the errors of a failed database query carry that must not reach a log line: the query's
 * parameters (an email, a password hash, a session token's hash), and the row data PostgreSQL
 * writes back. The SQL text stays: queries are parameterized, so it holds no user data, and it
 * is what tells which query failed.
 *
 * Written against drizzle-orm 0.45.4 and postgres.js 3.4.9, the drivers the Workers use:
 * - drizzle-orm (errors.js, pg-core/session.js) wraps every driver error in a
 *   `DrizzleQueryError` with `query`, `params`, the driver's error as `cause`, and the message
 *   `Failed query: ${query}\nparams: ${params}`, which the stack repeats;
 * - postgres.js (src/connection.js, `queryError`) defines `query`, `parameters`, `args` and
 *   `types` on the error of a failed query: not enumerable, unless the `debug` option is set;
 * - PostgreSQL's error fields, which postgres.js copies onto its `PostgresError`
 *   (src/errors.js), can repeat a parameter in the message (`invalid input syntax for type
 *   uuid: "…"`) and describe the offending row in `detail` (`Key (email)=(…) already exists.`,
 *   `Failing row contains (…)`), each value there cut to 64 bytes, so that a long value shows
 *   only its beginning and cannot be found by its whole text.
 */

/** An error's own fields that hold a query's parameters. */
export const QUERY_PARAMETER_FIELDS: ReadonlySet<string> = new Set([
  "params",
  "parameters",
  "args",
]);

/** PostgreSQL error fields that describe the data in question, for some SQLSTATE classes. */
const ROW_DATA_FIELDS: ReadonlySet<string> = new Set(["detail", "where"]);

// SQLSTATE class 22 (data exception) describes the input that could not be read, and class 23
// (integrity constraint violation) the key or the row that broke the constraint.
const ROW_DATA_SQLSTATE = /^2[23][0-9A-Z]{3}$/;

/** The failed queries found in an error and the errors it wraps. */
export interface QueryParameters {
  /** The SQL texts, kept whole wherever they appear. */
  readonly sql: readonly string[];
  /** drizzle's "params:" lines, each replaced whole. */
  readonly lines: readonly string[];
  /** The string parameters, longest first, so that one holding another is replaced whole. */
  readonly values: readonly string[];
  /** Matches any of `sql`, in a capturing group; compiled once per set of queries. */
  readonly sqlPattern?: RegExp;
  /** Matches any of `values` standing whole. */
  readonly valuePattern?: RegExp;
}

export const NO_QUERY_PARAMETERS: QueryParameters = { sql: [], lines: [], values: [] };

/**
 * `inherited` plus the failed queries of `error` and of the errors it wraps (`cause`,
 * `errors`): a caller's wrapper can repeat their messages. Only string parameters are taken:
 * numbers and booleans cannot be told apart from the other digits of a message, and are not
 * what identifies a person.
 */
export function queryParametersOf(error: object, inherited: QueryParameters): QueryParameters {
  const found = {
    sql: new Set(inherited.sql),
    lines: new Set(inherited.lines),
    values: new Set(inherited.values),
  };
  collect(error, new Set(), found);
  if (
    found.sql.size === inherited.sql.length &&
    found.lines.size === inherited.lines.length &&
    found.values.size === inherited.values.length
  ) {
    return inherited;
  }
  const longestFirst = (texts: Set<string>) => [...texts].sort((a, b) => b.length - a.length);
  const sql = longestFirst(found.sql);
  const values = longestFirst(found.values);
  return {
    sql,
    lines: [...found.lines],
    values,
    ...(sql.length > 0 && { sqlPattern: new RegExp(`(${sql.map(escapeRegExp).join("|")})`, "u") }),
    ...(values.length > 0 && { valuePattern: new RegExp(values.map(standalone).join("|"), "gu") }),
  };
}

/**
 * `text` with every parameter in `parameters` replaced by `replacement`, outside the SQL texts.
 * A parameter is replaced only where it stands as a whole (not inside a longer word), so that
 * a short one ("pro", "free") leaves words such as "process" alone.
 */
export function withoutQueryParameters(
  text: string,
  parameters: QueryParameters,
  replacement: string,
): string {
  const { lines, valuePattern, sqlPattern } = parameters;
  if (!valuePattern && lines.length === 0) return text;
  const scrub = (piece: string) => {
    let result = piece;
    for (const line of lines) {
      result = result.replaceAll(`params: ${line}`, `params: ${replacement}`);
    }
    return valuePattern ? result.replace(valuePattern, replacement) : result;
  };
  if (!sqlPattern) return scrub(text);
  // With a capturing group, split keeps each SQL text at the odd indexes.
  const pieces = text.split(sqlPattern);
  return pieces.map((piece, index) => (index % 2 === 1 ? piece : scrub(piece))).join("");
}

/** Whether `field` of `error` describes data (a row, a key, an input) rather than the failure. */
export function isRowDataField(error: object, field: string): boolean {
  if (!ROW_DATA_FIELDS.has(field)) return false;
  const code: unknown = (error as { code?: unknown }).code;
  return typeof code === "string" && ROW_DATA_SQLSTATE.test(code);
}

// Errors nest only a few levels deep in practice; the bound keeps a hostile chain cheap.
const MAX_CHAIN = 16;

function collect(
  value: unknown,
  seen: Set<object>,
  found: { sql: Set<string>; lines: Set<string>; values: Set<string> },
): void {
  if (typeof value !== "object" || value === null || seen.has(value) || seen.size >= MAX_CHAIN) {
    return;
  }
  seen.add(value);
  try {
    const fields = value as Record<string, unknown>;
    let hasParameters = false;
    for (const field of QUERY_PARAMETER_FIELDS) {
      const parameters = fields[field];
      if (!Array.isArray(parameters) || parameters.length === 0) continue;
      hasParameters = true;
      for (const parameter of parameters) {
        if (typeof parameter === "string" && parameter !== "") found.values.add(parameter);
      }
      if (field === "params") found.lines.add(String(parameters));
    }
    if (hasParameters && typeof fields.query === "string" && fields.query !== "") {
      found.sql.add(fields.query);
    }
    collect(fields.cause, seen, found);
    const errors = fields.errors;
    if (Array.isArray(errors)) {
      for (const inner of errors) collect(inner, seen, found);
    }
  } catch {
    // A throwing getter, or a parameter that cannot be turned into text: keep what was found.
  }
}

const WORD = "[\\p{L}\\p{N}_]";

function standalone(value: string): string {
  const before = new RegExp(`^${WORD}`, "u").test(value) ? `(?<!${WORD})` : "";
  const after = new RegExp(`${WORD}$`, "u").test(value) ? `(?!${WORD})` : "";
  return `${before}${escapeRegExp(value)}${after}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
