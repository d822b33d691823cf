/**
 * The destructive-change gate: a pending migration that destroys or rewrites data (a destructive
 * lint finding, or a removed or narrowed table or column in the schema diff) stops
 * production-deploy before main is touched, unless the migration itself carries an approval,
 * committed and reviewed with it:
 *
 *     -- codex:approve-destructive <what>: <reason>
 *
 * `<what>` is a linter rule (`ban-drop-column`), a schema object (`users.nickname`, `sessions`)
 * or `*` (everything destructive in this migration); the reason is required. A marker approves
 * the findings of its own file, and the destructive diff changes its approved statements (or its
 * object name, or `*`) account for.
 */
import { PipelineError } from "../errors";
import type { LintFinding, SchemaChange, SchemaCheck } from "../core/summary";

export const MARKER = "codex:approve-destructive";

export interface Approval {
  file: string;
  line: number;
  /** A rule name, a schema object's name, or "*". */
  target: string;
  reason: string;
}

export interface ParsedApprovals {
  approvals: Approval[];
  /** Markers that cannot count, one line each ("…:3: the approval marker has no reason"). */
  problems: string[];
}

/** The marker that approves `target` (a rule or a schema object), as the messages show it. */
const example = (target = "ban-drop-column") => `-- ${MARKER} ${target}: <why this is safe>`;
const EXAMPLE = example();

/** The approval markers of one migration file (SQL comments of their own). */
export function parseApprovals(file: string, text: string): ParsedApprovals {
  const approvals: Approval[] = [];
  const problems: string[] = [];
  text.split("\n").forEach((raw, index) => {
    const at = raw.indexOf(MARKER);
    if (at === -1 || !/^\s*--/.test(raw)) return;
    const line = index + 1;
    const rest = raw.slice(at + MARKER.length).trim();
    const match = /^([^\s:]+)\s*:\s*(.*)$/.exec(rest);
    if (!match) {
      problems.push(
        rest === "" || !rest.includes(":")
          ? `${file}:${line}: the approval marker needs what it approves and a reason: ${EXAMPLE}`
          : `${file}:${line}: the approval marker cannot be read: ${EXAMPLE}`,
      );
      return;
    }
    const [, target = "", reason = ""] = match;
    if (reason.trim() === "") {
      problems.push(
        `${file}:${line}: the approval marker for ${target} has no reason; a reason is required: ${EXAMPLE}`,
      );
      return;
    }
    approvals.push({ file, line, target, reason: reason.trim() });
  });
  return { approvals, problems };
}

/** Whether an approval covers a finding: same file, and its rule (or "*"). */
function approves(approval: Approval, finding: LintFinding): boolean {
  return (
    approval.file === finding.file && (approval.target === "*" || approval.target === finding.rule)
  );
}

/** Whether a statement names the identifier (quoted or not, any case). */
function mentions(statement: string, identifier: string): boolean {
  const escaped = identifier.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[^\\w$])"?${escaped}"?($|[^\\w$])`, "i").test(statement);
}

export interface GateResult {
  check: SchemaCheck;
  /** What refused it, one line each; empty when it passed. */
  blocking: string[];
  /** What the first unapproved finding's marker would name: its rule, or the changed object. */
  approveAs?: string;
}

/**
 * Marks approved findings and changes (setting `approved` to the reason) and gives the verdict.
 * Findings and changes are updated in place, so the summary shows what was approved and why.
 */
export function decide(
  findings: LintFinding[],
  changes: SchemaChange[],
  parsed: ParsedApprovals,
  pending: readonly string[],
): GateResult {
  const { approvals, problems } = parsed;
  for (const finding of findings) {
    if (!finding.destructive) continue;
    const approval = approvals.find((a) => approves(a, finding));
    if (approval) finding.approved = approval.reason;
  }
  for (const change of changes) {
    if (!change.destructive) continue;
    const [table = change.name, column] =
      change.kind === "column" ? splitColumn(change.name) : [change.name];
    const byName = approvals.find((a) => a.target === "*" || a.target === change.name);
    // An approved statement that names the object (DROP COLUMN "nickname" on "users").
    const byStatement = findings.find(
      (f) =>
        f.destructive &&
        f.approved !== undefined &&
        f.statement !== undefined &&
        mentions(f.statement, unqualified(table)) &&
        (column === undefined || mentions(f.statement, column)),
    );
    const reason = byName?.reason ?? byStatement?.approved;
    if (reason !== undefined) change.approved = reason;
  }

  const blocking = [
    ...problems,
    ...findings
      .filter((f) => f.destructive && f.approved === undefined)
      .map(
        (f) =>
          `${f.file}:${f.line} ${f.rule}: ${f.statement ? `${f.statement} — ` : ""}${f.message}`,
      ),
    ...changes
      .filter((c) => c.destructive && c.approved === undefined)
      .map(
        (c) =>
          `${c.kind} ${c.name} ${c.change}${c.before ? ` (was ${c.before}${c.after ? `, now ${c.after}` : ""})` : c.after ? ` (${c.after})` : ""}: ${c.change === "removed" ? "its data would be lost" : "narrowed: existing data or the code production runs now may not fit"}`,
      ),
  ];
  const approveAs =
    findings.find((f) => f.destructive && f.approved === undefined)?.rule ??
    changes.find((c) => c.destructive && c.approved === undefined)?.name;
  const destructive =
    findings.filter((f) => f.destructive).length + changes.filter((c) => c.destructive).length;
  const approved =
    findings.filter((f) => f.approved !== undefined).length +
    changes.filter((c) => c.approved !== undefined).length;

  let check: SchemaCheck;
  if (blocking.length > 0) {
    check = {
      status: "refused",
      detail: `${blocking.length} destructive change(s) without a valid approval (${MARKER}): production-deploy refuses them`,
    };
  } else if (pending.length === 0 && changes.length === 0) {
    check = { status: "passed", detail: "No schema change." };
  } else if (destructive > 0) {
    check = {
      status: "passed",
      detail: `${approved} destructive change(s), all approved in the migration`,
    };
  } else {
    check = { status: "passed", detail: "nothing destructive" };
  }
  return { check, blocking, ...(approveAs ? { approveAs } : {}) };
}

/**
 * The refusal production-deploy exits with: a user error (exit 2), naming each statement, rule
 * and object, and the two ways forward.
 */
export function refusal(blocking: readonly string[], approveAs?: string): PipelineError {
  return new PipelineError(
    "DESTRUCTIVE_CHANGE",
    [
      "a pending migration destroys or rewrites data, so production-deploy stopped before touching main:",
      ...blocking.map((line) => `  ${line}`),
    ].join("\n"),
    {
      kind: "user",
      hint:
        `If it is intended, approve it in the migration file with a reviewed comment such as ` +
        `"${example(approveAs)}" and commit it; or split it into expand/contract steps across releases ` +
        `(docs/schema-changes.md). Production still serves the previous version.`,
    },
  );
}

function splitColumn(name: string): [string, string] {
  const dot = name.lastIndexOf(".");
  return [name.slice(0, dot), name.slice(dot + 1)];
}

function unqualified(name: string): string {
  return name.slice(name.lastIndexOf(".") + 1);
}
