import { describe, expect, it } from "vitest";
import { PipelineError } from "../errors";
import type { LintFinding, SchemaChange } from "../core/summary";
import { decide, parseApprovals, refusal } from "./gate";

const FILE = "packages/database/drizzle/0001_drop_nickname.sql";

function dropFinding(): LintFinding {
  return {
    file: FILE,
    line: 2,
    rule: "ban-drop-column",
    message: "Dropping a column may break existing clients.",
    fix: "Expand/contract.",
    destructive: true,
    statement: 'ALTER TABLE "users" DROP COLUMN "nickname"',
  };
}

function timeoutFinding(): LintFinding {
  return { ...dropFinding(), rule: "require-lock-timeout", destructive: false, fix: "SET LOCAL" };
}

function removedColumn(): SchemaChange {
  return {
    change: "removed",
    kind: "column",
    name: "users.nickname",
    before: "text NULL",
    destructive: true,
  };
}

describe("parseApprovals", () => {
  it("reads the rule (or object, or *) and the reason of each marker comment", () => {
    const text = [
      "-- codex:approve-destructive ban-drop-column: nickname was never shown to users",
      "--codex:approve-destructive users.nickname:dropped in favour of display_name",
      "-- codex:approve-destructive *: a scratch table",
      'ALTER TABLE "users" DROP COLUMN "nickname";',
    ].join("\n");
    expect(parseApprovals(FILE, text)).toEqual({
      approvals: [
        {
          file: FILE,
          line: 1,
          target: "ban-drop-column",
          reason: "nickname was never shown to users",
        },
        {
          file: FILE,
          line: 2,
          target: "users.nickname",
          reason: "dropped in favour of display_name",
        },
        { file: FILE, line: 3, target: "*", reason: "a scratch table" },
      ],
      problems: [],
    });
  });

  it("refuses a marker without a reason, saying a reason is required", () => {
    const { approvals, problems } = parseApprovals(
      FILE,
      "-- codex:approve-destructive ban-drop-column:   \n",
    );
    expect(approvals).toEqual([]);
    expect(problems).toEqual([
      `${FILE}:1: the approval marker for ban-drop-column has no reason; a reason is required: -- codex:approve-destructive ban-drop-column: <why this is safe>`,
    ]);
  });

  it("refuses a marker that names nothing", () => {
    const { problems } = parseApprovals(FILE, "-- codex:approve-destructive\n");
    expect(problems[0]).toMatch(/:1: the approval marker needs what it approves and a reason/);
  });

  it("ignores the words outside a comment (a string holding them is not a marker)", () => {
    const text = "INSERT INTO notes VALUES ('codex:approve-destructive *: no');";
    expect(parseApprovals(FILE, text)).toEqual({ approvals: [], problems: [] });
  });
});

describe("decide", () => {
  it('says "No schema change." when nothing is pending and nothing differs', () => {
    expect(decide([], [], { approvals: [], problems: [] }, []).check).toEqual({
      status: "passed",
      detail: "No schema change.",
    });
  });

  it("passes what is not destructive, findings included", () => {
    const added: SchemaChange = {
      change: "added",
      kind: "column",
      name: "users.nickname",
      after: "text NULL",
      destructive: false,
    };
    const result = decide([timeoutFinding()], [added], { approvals: [], problems: [] }, [
      "0001_add",
    ]);
    expect(result).toEqual({
      check: { status: "passed", detail: "nothing destructive" },
      blocking: [],
    });
  });

  it("refuses a destructive finding and change, naming file:line, rule, statement and object", () => {
    const result = decide(
      [dropFinding(), timeoutFinding()],
      [removedColumn()],
      { approvals: [], problems: [] },
      ["0001_drop_nickname"],
    );
    expect(result.check.status).toBe("refused");
    expect(result.check.detail).toBe(
      "2 destructive change(s) without a valid approval (codex:approve-destructive): production-deploy refuses them",
    );
    expect(result.blocking).toEqual([
      `${FILE}:2 ban-drop-column: ALTER TABLE "users" DROP COLUMN "nickname" — Dropping a column may break existing clients.`,
      "column users.nickname removed (was text NULL): its data would be lost",
    ]);
  });

  it("lets an approved rule cover its finding and the change its statement makes, with the reason", () => {
    const finding = dropFinding();
    const change = removedColumn();
    const approvals = parseApprovals(
      FILE,
      "-- codex:approve-destructive ban-drop-column: never read since v2\n",
    );
    const result = decide([finding], [change], approvals, ["0001_drop_nickname"]);
    expect(result.check).toEqual({
      status: "passed",
      detail: "2 destructive change(s), all approved in the migration",
    });
    expect(finding.approved).toBe("never read since v2");
    expect(change.approved).toBe("never read since v2");
  });

  it("does not let a marker in one migration approve another migration's finding", () => {
    const approvals = parseApprovals(
      "packages/database/drizzle/0002_other.sql",
      "-- codex:approve-destructive ban-drop-column: other\n",
    );
    const result = decide([dropFinding()], [], approvals, ["0001_drop_nickname", "0002_other"]);
    expect(result.check.status).toBe("refused");
  });

  it("approves a change the linter did not see by its object name", () => {
    const narrowed: SchemaChange = {
      change: "changed",
      kind: "column",
      name: "users.email",
      before: "text NOT NULL",
      after: "character varying(20) NOT NULL",
      destructive: true,
    };
    const approvals = parseApprovals(
      FILE,
      "-- codex:approve-destructive users.email: every email is shorter\n",
    );
    const result = decide([], [narrowed], approvals, ["0001"]);
    expect(result.check.status).toBe("passed");
    expect(narrowed.approved).toBe("every email is shorter");
  });

  it("refuses when a marker has no reason, even if nothing else is wrong", () => {
    const approvals = parseApprovals(FILE, "-- codex:approve-destructive ban-drop-column:\n");
    const result = decide([dropFinding()], [], approvals, ["0001"]);
    expect(result.check.status).toBe("refused");
    expect(result.blocking[0]).toMatch(/a reason is required/);
  });
});

describe("refusal", () => {
  it("is a user error naming each problem, the marker and expand/contract", () => {
    const error = refusal(["a.sql:2 ban-drop-column: ALTER TABLE x DROP COLUMN y — Dropping"]);
    expect(error).toBeInstanceOf(PipelineError);
    expect(error).toMatchObject({ code: "DESTRUCTIVE_CHANGE", kind: "user" });
    expect(error.message).toBe(
      "a pending migration destroys or rewrites data, so production-deploy stopped before touching main:\n" +
        "  a.sql:2 ban-drop-column: ALTER TABLE x DROP COLUMN y — Dropping",
    );
    expect(error.hint).toMatch(/-- codex:approve-destructive ban-drop-column: <why this is safe>/);
    expect(error.hint).toMatch(/expand\/contract/);
    expect(error.hint).toMatch(/docs\/schema-changes\.md/);
  });

  it("shows the marker for what refused it: the first unapproved finding's rule, else the object", () => {
    const rename = { ...dropFinding(), rule: "renaming-column" };
    const byRule = decide([rename], [], { approvals: [], problems: [] }, ["0001"]);
    expect(byRule.approveAs).toBe("renaming-column");
    expect(refusal(byRule.blocking, byRule.approveAs).hint).toMatch(
      /"-- codex:approve-destructive renaming-column: <why this is safe>"/,
    );
    const narrowed: SchemaChange = {
      kind: "column",
      name: "users.email",
      change: "changed",
      before: "text NOT NULL",
      after: "varchar(20) NOT NULL",
      destructive: true,
    };
    const byObject = decide([], [narrowed], { approvals: [], problems: [] }, ["0001"]);
    expect(refusal(byObject.blocking, byObject.approveAs).hint).toMatch(
      /"-- codex:approve-destructive users\.email: <why this is safe>"/,
    );
  });
});
