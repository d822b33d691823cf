import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../state";
import { EXCLUDED_RULES, lintMigrations, parseSquawkJson, RULES, statementAt } from "./lint";
import { committedMigrations, type PendingMigration } from "./pending";

const DROP = `-- drop the nickname\nALTER TABLE "users" DROP COLUMN "nickname";`;

// squawk 2.66.0's --reporter json for DROP above (0-based lines), as it printed it.
const SQUAWK_JSON = JSON.stringify([
  {
    file: "m/0001_drop.sql",
    line: 1,
    column: 20,
    level: "Warning",
    message: "Dropping a column may break existing clients.",
    help: null,
    rule_name: "ban-drop-column",
    column_end: 42,
    line_end: 1,
  },
  {
    file: "m/0001_drop.sql",
    line: 1,
    column: 0,
    level: "Warning",
    message: "Missing `set lock_timeout` before potentially slow ACCESS EXCLUSIVE lock operations",
    help: "Configure a `lock_timeout` before this statement.",
    rule_name: "require-lock-timeout",
    column_end: 44,
    line_end: 1,
  },
  {
    file: "m/0001_drop.sql",
    line: 1,
    column: 0,
    level: "Warning",
    message: "Something new",
    help: "Do the new thing.",
    rule_name: "some-future-rule",
    column_end: 44,
    line_end: 1,
  },
]);

describe("parseSquawkJson", () => {
  it("gives 1-based lines, the statement, a fix, and whether the rule is destructive", () => {
    const findings = parseSquawkJson(SQUAWK_JSON, new Map([["m/0001_drop.sql", DROP]]));
    expect(findings).toEqual([
      {
        file: "m/0001_drop.sql",
        line: 2,
        rule: "ban-drop-column",
        message: "Dropping a column may break existing clients.",
        fix: RULES["ban-drop-column"]!.fix,
        destructive: true,
        statement: 'ALTER TABLE "users" DROP COLUMN "nickname"',
      },
      {
        file: "m/0001_drop.sql",
        line: 2,
        rule: "require-lock-timeout",
        message:
          "Missing `set lock_timeout` before potentially slow ACCESS EXCLUSIVE lock operations",
        fix: RULES["require-lock-timeout"]!.fix,
        destructive: false,
        statement: 'ALTER TABLE "users" DROP COLUMN "nickname"',
      },
      {
        file: "m/0001_drop.sql",
        line: 2,
        rule: "some-future-rule",
        message: "Something new",
        // A rule this table does not know keeps squawk's own help, and is not destructive.
        fix: "Do the new thing.",
        destructive: false,
        statement: 'ALTER TABLE "users" DROP COLUMN "nickname"',
      },
    ]);
  });

  it("refuses a report that is not squawk's JSON array", () => {
    expect(() => parseSquawkJson('{"error": 1}', new Map())).toThrow(/not a JSON array/);
  });
});

describe("the rules", () => {
  it("counts as destructive what drops, renames, narrows or requires, and nothing else", () => {
    const destructive = Object.entries(RULES)
      .filter(([, rule]) => rule.destructive)
      .map(([name]) => name)
      .sort();
    expect(destructive).toEqual([
      "adding-not-nullable-field",
      "adding-required-field",
      "ban-drop-column",
      "ban-drop-database",
      "ban-drop-table",
      "ban-truncate-cascade",
      "changing-column-type",
      "renaming-column",
      "renaming-table",
    ]);
  });

  it("never recommends CONCURRENTLY inside drizzle's transaction", () => {
    for (const [name, rule] of Object.entries(RULES)) {
      if (/CONCURRENTLY/.test(rule.fix))
        expect(rule.fix, name).toMatch(/one transaction|outside|on main first|Remove CONCURRENTLY/);
    }
    expect(RULES["require-concurrent-index-creation"]!.fix).toMatch(/one transaction/);
  });

  it("says why each switched-off rule is off", () => {
    expect(EXCLUDED_RULES["prefer-robust-stmts"]).toMatch(/one transaction/);
  });
});

describe("statementAt", () => {
  const text = [
    "SET LOCAL lock_timeout = '5s';--> statement-breakpoint",
    "-- codex:approve-destructive ban-drop-column: never read",
    'ALTER TABLE "users"',
    '  DROP COLUMN "nickname";--> statement-breakpoint',
    'CREATE INDEX "x" ON "users" ("email");',
  ].join("\n");

  it("spans the whole statement around a position, without comments", () => {
    expect(statementAt(text, 3, 2)).toBe('ALTER TABLE "users" DROP COLUMN "nickname"');
    expect(statementAt(text, 4, 0)).toBe('CREATE INDEX "x" ON "users" ("email")');
    expect(statementAt(text, 0, 0)).toBe("SET LOCAL lock_timeout = '5s'");
  });
});

describe("lintMigrations (the real squawk)", () => {
  let dir: string;
  const migration = async (name: string, sql: string): Promise<PendingMigration> => {
    const path = join(dir, `${name}.sql`);
    await writeFile(path, sql);
    return { tag: name, path, file: relative(REPO_ROOT, path) };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "codex-lint-"));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("finds the DROP COLUMN, on its line, as destructive", async () => {
    const drop = await migration("0001_drop", DROP);
    const findings = await lintMigrations([drop]);
    const rules = findings.map((f) => f.rule);
    expect(rules).toContain("ban-drop-column");
    expect(rules).not.toContain("prefer-robust-stmts");
    const finding = findings.find((f) => f.rule === "ban-drop-column")!;
    expect(finding).toMatchObject({ file: drop.file, line: 2, destructive: true });
    expect(finding.statement).toBe('ALTER TABLE "users" DROP COLUMN "nickname"');
  });

  it("finds nothing destructive in an added nullable column, only the missing timeouts", async () => {
    const add = await migration("0001_add", 'ALTER TABLE "users" ADD COLUMN "nickname" text;');
    const findings = await lintMigrations([add]);
    expect(findings.map((f) => f.rule).sort()).toEqual([
      "require-lock-timeout",
      "require-statement-timeout",
    ]);
    expect(findings.every((f) => !f.destructive)).toBe(true);
  });

  it("finds nothing destructive in the committed initial migration", async () => {
    const initial = committedMigrations().filter((m) => m.tag === "0000_initial");
    expect(initial).toHaveLength(1);
    const findings = await lintMigrations(initial);
    expect(findings.filter((f) => f.destructive)).toEqual([]);
  });

  it("says which migration squawk cannot parse", async () => {
    const bad = await migration("0001_bad", "ALTER TABLE users DRP COLUMN x;");
    const findings = await lintMigrations([bad]);
    expect(findings[0]).toMatchObject({ file: bad.file, line: 1, rule: "syntax-error" });
  });

  it("runs nothing when nothing is pending", async () => {
    expect(await lintMigrations([])).toEqual([]);
  });
});
