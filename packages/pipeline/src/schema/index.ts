/**
 * The schema checks of a deploy, one progress step each: which migrations main lacks, the linter
 * on those files, the diff of the real schema (main against a migrated copy of it), and the
 * destructive-change gate. preview-deploy shows the verdict; production-deploy enforces it
 * before main is touched.
 */
import { readFile } from "node:fs/promises";
import type { Progress } from "../progress";
import type { SchemaReport, Summary } from "../core/summary";
import { diffSchemas, introspect } from "./diff";
import { decide, parseApprovals, refusal, type ParsedApprovals } from "./gate";
import { lintMigrations } from "./lint";
import { pendingMigrations } from "./pending";

export interface CheckSchemaOptions {
  /** main as production uses it now (a direct connection). */
  mainUrl: string;
  /** main with the pending migrations applied: the preview's branch, or a scratch copy of main. */
  migratedUrl: string;
  /** production-deploy: a refused gate throws. preview-deploy: the verdict is only shown. */
  enforce: boolean;
  /** Gets `schema` as soon as the report exists, before a refusal is thrown. */
  summary: Summary;
}

export async function checkSchema(
  progress: Progress,
  options: CheckSchemaOptions,
): Promise<SchemaReport> {
  const pending = await progress.step(
    "find the migrations main lacks",
    () => pendingMigrations(options.mainUrl),
    (p) => (p.length ? `${p.length} pending: ${p.map((m) => m.tag).join(", ")}` : "none pending"),
  );
  const lint = pending.length
    ? await progress.step(
        "lint the pending migrations (squawk)",
        () => lintMigrations(pending),
        (findings) => {
          const destructive = findings.filter((f) => f.destructive).length;
          return findings.length
            ? `${findings.length} finding(s), ${destructive} destructive`
            : "no findings";
        },
      )
    : (progress.skip("lint the pending migrations (squawk)", "none pending"), []);
  const diff = await progress.step(
    "diff the schema against main",
    async () => {
      const [before, after] = await Promise.all([
        introspect(options.mainUrl),
        introspect(options.migratedUrl),
      ]);
      return diffSchemas(before, after);
    },
    (changes) => {
      const destructive = changes.filter((c) => c.destructive).length;
      return changes.length
        ? `${changes.length} change(s), ${destructive} destructive`
        : "no schema change";
    },
  );
  const report = await progress.step(
    "destructive-change gate",
    async () => {
      const approvals: ParsedApprovals = { approvals: [], problems: [] };
      for (const m of pending) {
        const parsed = parseApprovals(m.file, await readFile(m.path, "utf8"));
        approvals.approvals.push(...parsed.approvals);
        approvals.problems.push(...parsed.problems);
      }
      const tags = pending.map((m) => m.tag);
      const { check, blocking, approveAs } = decide(lint, diff, approvals, tags);
      const result: SchemaReport = { pending: tags, lint, diff, gate: check };
      options.summary.schema = { ...options.summary.schema, ...result };
      if (options.enforce && check.status === "refused") throw refusal(blocking, approveAs);
      return result;
    },
    (r) => `${r.gate.status}: ${r.gate.detail}`,
  );
  return report;
}
