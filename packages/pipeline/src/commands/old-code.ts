/**
 * The old-code check as commands run it (the runtime part is in ../old-code.ts):
 * - production-deploy and preview-deploy: the release production serves now, tried on a
 *   database that has the pending migrations (`checkLiveRelease`);
 * - rollback: the version rolled back to, tried on the schema the environment has now, unless it
 *   was built with as many migrations as the database has (`checkRollbackSchema`).
 */
import { appliedCount } from "@codex/database/migrate";
import { closeDb, createDb } from "@codex/database";
import type { Environment } from "../core/environments";
import { PRODUCTION } from "../core/environments";
import type { Summary } from "../core/summary";
import { PipelineError, userError } from "../errors";
import {
  tryRelease,
  type OldCodeVerdict,
  type ReleaseBundles,
  type ReleaseHandle,
} from "../old-code";
import type { Context } from "./context";

const STEP = "try the release production serves on the migrated schema";

/** How to get past a refusal, in the words of both commands. */
const EXPAND_CONTRACT =
  "Make the change in expand/contract steps: add the new column or table, write both, and drop or rename the old one only in a later release, once no live code reads it.";

/**
 * Serves the release production serves now against `databaseUrl` (a copy of main with the
 * pending migrations applied, or a preview's migrated branch: the checks only read, and roll back
 * what they write) and smoke-checks its schema. Skipped when nothing is pending or nothing is
 * live. A failure throws (refusing the deploy) unless `allow`; the verdict goes into the summary.
 */
export async function checkLiveRelease(
  ctx: Context,
  summary: Summary,
  input: {
    databaseUrl: string;
    pending: string[];
    /** A failure: refuses (production-deploy), goes ahead knowingly, or is only reported (a preview). */
    onFailure: "refuse" | "allow" | "report";
    /** What production serves now, when the command asked already (asked of the platform otherwise). */
    live?: () => Promise<string | undefined>;
  },
): Promise<OldCodeVerdict> {
  const record = (verdict: OldCodeVerdict) => {
    summary.schema = {
      pending: input.pending,
      lint: [],
      diff: [],
      gate: { status: "skipped", detail: "not checked" },
      ...summary.schema,
      oldCode: verdict,
    };
    return verdict;
  };
  if (!input.pending.length) {
    ctx.progress.skip(STEP, "no pending migration");
    return record({ status: "skipped", detail: "no pending migration" });
  }
  const live = input.live ? await input.live() : await ctx.workers.live(PRODUCTION);
  if (!live) {
    ctx.progress.skip(STEP, "nothing live yet");
    return record({ status: "skipped", detail: "nothing live yet" });
  }
  const handle = await ctx.workers.release(PRODUCTION, live);
  if (!handle || handle.unavailable) {
    const why = handle?.unavailable ?? `the ${ctx.target} target does not know release ${live}`;
    ctx.progress.skip(STEP, why);
    return record({ status: "skipped", detail: why, version: live });
  }
  const release = await loadRelease(ctx, handle);
  const verdict = await ctx.progress.step(
    STEP,
    async () => {
      const tried = await tryRelease(release, input.databaseUrl, PRODUCTION.name);
      if (tried.status === "failed" && input.onFailure === "refuse") {
        record({ ...tried, status: "refused" });
        throw new PipelineError(
          "SCHEMA_INCOMPATIBLE",
          `the migrations ${input.pending.join(", ")} break the code production serves now (${release.version}), so main was not touched: ${tried.detail}`,
          {
            kind: "user",
            hint: `${EXPAND_CONTRACT} To go ahead knowingly (production errors on these paths until the new release is live, and a rollback to ${release.version} would be refused), run production-deploy --allow-incompatible.`,
          },
        );
      }
      return tried.status === "failed" && input.onFailure === "allow"
        ? { ...tried, detail: `${tried.detail} (allowed by --allow-incompatible)` }
        : tried;
    },
    (v) => v.detail,
  );
  return record(verdict);
}

/** A release's bundles, as a step of their own: on the cloud target they are built (a minute). */
function loadRelease(ctx: Context, handle: ReleaseHandle): Promise<ReleaseBundles> {
  return ctx.progress.step(
    `get ${handle.version}'s bundles`,
    () => handle.load(),
    () => handle.source,
  );
}

/**
 * Before a rollback to `to`: when that version was built with fewer migrations than the
 * environment's database has (or did not record how many), its code is tried on a copy of the
 * database as it is now (production) or on the branch itself (a preview: the checks only read,
 * and roll back what they write). Refused unless `force`.
 */
export async function checkRollbackSchema(
  ctx: Context,
  environment: Environment,
  to: string | undefined,
  force: boolean,
): Promise<void> {
  const target = await ctx.workers.rollbackTarget(environment, to);
  const step = `check that ${target ?? to ?? "the previous version"} survives the current schema`;
  const handle = target ? await ctx.workers.release(environment, target) : undefined;
  if (!handle || handle.unavailable) {
    ctx.progress.skip(
      step,
      handle?.unavailable ?? `the ${ctx.target} target does not know that release`,
    );
    return;
  }
  const database = await ctx.database();
  const url =
    environment.name === PRODUCTION.name
      ? (await database.ensureMain()).directUrl
      : await database.url(environment);
  const db = createDb(url);
  const applied = await appliedCount(db).finally(() => closeDb(db));
  if (handle.migrations !== undefined && handle.migrations >= applied) {
    ctx.progress.skip(
      step,
      `${handle.version} was built with ${handle.migrations} migrations, the database has ${applied}`,
    );
    return;
  }
  const release = await loadRelease(ctx, handle);
  await ctx.progress.step(
    step,
    async () => {
      const scratch =
        environment.name === PRODUCTION.name ? await database.scratch("rollback_check") : undefined;
      try {
        const verdict = await tryRelease(release, scratch?.url ?? url, environment.name);
        if (verdict.status === "failed" && !force) {
          throw userError(
            "SCHEMA_INCOMPATIBLE",
            `rollback to ${release.version} refused: it was built with ${release.migrations ?? "an unrecorded number of"} migrations, ${environment.name}'s database has ${applied}, and ${verdict.detail}`,
            `Roll forward with a fix instead, or roll back anyway with --force-schema (these paths then fail until the schema matches). ${EXPAND_CONTRACT}`,
          );
        }
        return verdict;
      } finally {
        await scratch?.drop();
      }
    },
    (v) => (v.status === "failed" ? `${v.detail} (allowed by --force-schema)` : v.detail),
  );
}
