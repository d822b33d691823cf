/**
 * The migration linter: squawk (npm `squawk-cli`, a Rust binary built on Postgres's own parser,
 * shipped per platform as an optional npm package, so installing it needs only the npm
 * registry). It runs on the pending migrations only; its JSON findings become `LintFinding`s,
 * each with a one-line fix that this pipeline can actually carry out, and whether it destroys or
 * rewrites data (what the production gate refuses unless approved).
 *
 * Rules: https://squawkhq.com/docs/rules (one page per rule, https://squawkhq.com/docs/<rule>).
 * CLI: `squawk --help` (2.66.0): `--reporter json` prints one array of
 * `{file, line, column, line_end, column_end, level, message, help, rule_name}` with 0-based
 * lines, exits 0 without findings and 1 with some.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { PipelineError } from "../errors";
import { lastLines, run } from "../exec";
import { REPO_ROOT } from "../state";
import type { LintFinding } from "../core/summary";
import type { PendingMigration } from "./pending";

interface Rule {
  /** One line: what to do instead, within what this pipeline can run. */
  fix: string;
  /** It destroys or rewrites data, or breaks the code that production runs now. */
  destructive: boolean;
}

// drizzle runs every pending migration in ONE transaction (drizzle-orm's pg migrator), where
// Postgres refuses CREATE/DROP INDEX CONCURRENTLY. So the index rules stay findings, with a fix
// that works here, and the rule asking for CONCURRENTLY inside a transaction is the one to obey.
const OUTSIDE_THE_TRANSACTION =
  "drizzle applies migrations in one transaction, where CONCURRENTLY is refused: fine for a small table; for a big one";

export const RULES: Record<string, Rule> = {
  "ban-drop-column": {
    fix: "Expand/contract: stop reading the column in one release, drop it in a later PR (docs/schema-changes.md), or approve it.",
    destructive: true,
  },
  "ban-drop-table": {
    fix: "Expand/contract: stop using the table in one release, drop it in a later PR, or approve it.",
    destructive: true,
  },
  "ban-drop-database": { fix: "Never drop a database from a migration.", destructive: true },
  "ban-truncate-cascade": {
    fix: "Name exactly the tables to truncate, without CASCADE, and approve it.",
    destructive: true,
  },
  "renaming-column": {
    fix: "Add the new column, write both, backfill, switch reads, drop the old one in a later PR.",
    destructive: true,
  },
  "renaming-table": {
    fix: "Create the new table (or a view with the old name), switch the code, drop the old one later.",
    destructive: true,
  },
  "changing-column-type": {
    fix: "Add a column of the new type, backfill it, switch the code, drop the old column in a later PR.",
    destructive: true,
  },
  "adding-required-field": {
    fix: "Add the column nullable (or with a constant DEFAULT), backfill, then SET NOT NULL in a later PR.",
    destructive: true,
  },
  "adding-not-nullable-field": {
    fix: "Backfill first; add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it in a later PR, then SET NOT NULL.",
    destructive: true,
  },
  "require-concurrent-index-creation": {
    fix: `${OUTSIDE_THE_TRANSACTION}, run CREATE INDEX CONCURRENTLY IF NOT EXISTS on main first and use IF NOT EXISTS here.`,
    destructive: false,
  },
  "require-concurrent-index-deletion": {
    fix: `${OUTSIDE_THE_TRANSACTION}, run DROP INDEX CONCURRENTLY IF EXISTS on main first and use IF EXISTS here.`,
    destructive: false,
  },
  "ban-concurrent-index-creation-in-transaction": {
    fix: "Remove CONCURRENTLY: drizzle applies migrations in one transaction, where Postgres refuses it.",
    destructive: false,
  },
  "require-lock-timeout": {
    fix: "Start the migration with SET LOCAL lock_timeout = '5s'; (it lasts for drizzle's transaction).",
    destructive: false,
  },
  "require-statement-timeout": {
    fix: "Start the migration with SET LOCAL statement_timeout = '60s'; (it lasts for drizzle's transaction).",
    destructive: false,
  },
  "constraint-missing-not-valid": {
    fix: "Add the constraint NOT VALID here and VALIDATE CONSTRAINT it in a later migration.",
    destructive: false,
  },
  "adding-foreign-key-constraint": {
    fix: "Add the foreign key NOT VALID here and VALIDATE CONSTRAINT it in a later migration.",
    destructive: false,
  },
  "disallowed-unique-constraint": {
    fix: "Create a unique index first, then ADD CONSTRAINT ... UNIQUE USING INDEX.",
    destructive: false,
  },
  "adding-field-with-default": {
    fix: "Add the column nullable without a volatile DEFAULT, backfill it in batches, then set the default.",
    destructive: false,
  },
  "adding-serial-primary-key-field": {
    fix: "Build a unique index first, then ADD PRIMARY KEY USING INDEX.",
    destructive: false,
  },
  "ban-drop-not-null": {
    fix: "Make sure the code production runs now reads NULL in this column safely.",
    destructive: false,
  },
  "prefer-text-field": { fix: "Use text with a CHECK (length(col) <= n).", destructive: false },
  "prefer-bigint-over-int": { fix: "Use bigint.", destructive: false },
  "prefer-bigint-over-smallint": { fix: "Use bigint.", destructive: false },
  "prefer-identity": {
    fix: "Use bigint GENERATED BY DEFAULT AS IDENTITY instead of serial.",
    destructive: false,
  },
  "prefer-timestamptz": { fix: "Use timestamp with time zone.", destructive: false },
  "require-enum-value-ordering": {
    fix: "Say where the value goes: ADD VALUE ... BEFORE or AFTER an existing one.",
    destructive: false,
  },
  "syntax-error": {
    fix: "Fix the SQL: squawk, which parses like Postgres, cannot read it.",
    destructive: false,
  },
};

/**
 * Rules switched off, each for a reason that holds for every migration this pipeline runs:
 * drizzle wraps all pending migrations in one transaction, so a failure leaves nothing half
 * applied and re-running is already safe; IF [NOT] EXISTS would only hide a drifted schema.
 */
export const EXCLUDED_RULES: Record<string, string> = {
  "prefer-robust-stmts":
    "drizzle applies the pending migrations in one transaction: a failure leaves nothing half applied",
};

/** The squawk binary from its per-platform npm package, as `squawk-cli`'s own launcher finds it. */
function squawkBinary(): string {
  const require = createRequire(import.meta.url);
  try {
    return (require("squawk-cli/js/index.js") as { getBinaryPath(): string }).getBinaryPath();
  } catch (error) {
    throw new PipelineError(
      "LINT_FAILED",
      `squawk is not installed for ${process.platform}-${process.arch}: ${(error as Error).message}`,
      { cause: error, hint: "Run pnpm install (with optional dependencies) on Linux or macOS." },
    );
  }
}

interface SquawkViolation {
  file: string;
  line: number;
  column: number;
  message: string;
  help: string | null;
  rule_name: string;
}

/** Lints the pending migrations; none pending means nothing to run. */
export async function lintMigrations(
  migrations: readonly PendingMigration[],
): Promise<LintFinding[]> {
  if (migrations.length === 0) return [];
  const args = [
    "--reporter",
    "json",
    // How drizzle runs them: squawk then knows which statements a transaction forbids.
    "--assume-in-transaction",
    ...Object.keys(EXCLUDED_RULES).flatMap((rule) => ["--exclude", rule]),
    ...migrations.map((m) => m.file),
  ];
  const result = await run(squawkBinary(), args, { cwd: REPO_ROOT, timeoutMs: 60_000 });
  // 0: no findings, 1: findings (or a file it could not read, with nothing on stdout).
  if ((result.code !== 0 && result.code !== 1) || !result.stdout.trim().startsWith("[")) {
    throw new PipelineError(
      "LINT_FAILED",
      `squawk failed (exit ${result.code}): ${lastLines(result.output, 5).join(" / ") || "no output"}`,
    );
  }
  const texts = new Map<string, string>();
  for (const m of migrations) texts.set(m.file, await readFile(m.path, "utf8"));
  return parseSquawkJson(result.stdout, texts);
}

/**
 * squawk's JSON report as findings: 1-based lines, the statement each one is about, the fix and
 * whether it is destructive. `texts` holds each file's SQL by the path squawk was given.
 */
export function parseSquawkJson(json: string, texts: ReadonlyMap<string, string>): LintFinding[] {
  const violations = JSON.parse(json) as SquawkViolation[];
  if (!Array.isArray(violations)) throw new Error("squawk's report is not a JSON array");
  return violations.map((v) => {
    const rule = RULES[v.rule_name];
    const text = texts.get(v.file);
    const statement = text === undefined ? undefined : statementAt(text, v.line, v.column);
    return {
      file: v.file,
      line: v.line + 1,
      rule: v.rule_name,
      message: oneLine(v.message),
      fix: rule?.fix ?? oneLine(v.help ?? `See https://squawkhq.com/docs/${v.rule_name}.`),
      destructive: rule?.destructive ?? false,
      ...(statement ? { statement } : {}),
    };
  });
}

/**
 * The statement around a 0-based line and column: from the end of the previous statement (a ";"
 * or drizzle's "--> statement-breakpoint") to its own ";", comments left out, on one line.
 */
export function statementAt(text: string, line: number, column: number): string {
  const lines = text.split("\n");
  let offset = 0;
  for (let i = 0; i < line && i < lines.length; i++) offset += (lines[i]?.length ?? 0) + 1;
  offset = Math.min(offset + column, text.length);
  const uncommented = text.replace(/--[^\n]*/g, (comment) => " ".repeat(comment.length));
  const start = uncommented.lastIndexOf(";", offset - 1) + 1;
  const semicolon = uncommented.indexOf(";", offset);
  const end = semicolon === -1 ? text.length : semicolon;
  const statement = oneLine(uncommented.slice(start, end));
  return statement.length > 200 ? `${statement.slice(0, 199)}…` : statement;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
