/**
 * Rollback: each Worker of an environment goes back to the version a release recorded, or, on a
 * machine that recorded nothing, to the one Cloudflare's deployments list served before.
 * Per Cloudflare's docs, `wrangler rollback` rolls back neither bindings nor data.
 */
import type { WorkerKind } from "../../../core/derive";
import type { Environment } from "../../../core/environments";
import { PipelineError, userError } from "../../../errors";
import { releaseId, type StateFile } from "./state";
import {
  NOT_FOUND_CODES,
  WRANGLER_FAILED,
  describeExit,
  listNames,
  stripAnsi,
  tail,
  workerNames,
  type Wrangler,
} from "./wrangler";

/** What a rollback works with: the state file and wrangler of one account. */
interface Platform {
  state: StateFile;
  wrangler: Wrangler;
}

/** Fails, as the rollback would, when `env` cannot be rolled back to `to`. */
export async function checkRollback(
  platform: Platform,
  env: Environment,
  to?: string,
): Promise<void> {
  if (!(await recordedRollback(platform, env, to))) parseReleaseId(env, to);
}

/**
 * The rollback this machine's record allows, or undefined when it recorded nothing for the
 * environment (a fresh runner, where Cloudflare's deployments decide).
 */
async function recordedRollback(platform: Platform, env: Environment, to: string | undefined) {
  const state = await platform.state.read();
  const releases = state.releases.filter((r) => r.environment === env.name);
  const currentId = state.current[env.name];
  const current = releases.find((r) => r.id === currentId);
  if (!current) return undefined;
  // What each Worker runs now: after a deploy that stopped halfway, not the current release.
  const live = new Map<WorkerKind, string>();
  for (const r of state.records) if (r.environment === env.name) live.set(r.kind, r.versionId);
  const intact = current.workers.every((w) => live.get(w.kind) === w.versionId);
  const target = to
    ? releases.find((r) => r.id === to)
    : intact
      ? releases[releases.indexOf(current) - 1]
      : current;
  if (!target) {
    throw userError(
      "NO_PREVIOUS_VERSION",
      to
        ? `${env.name} has no version ${to} (kept: ${releases.map((r) => r.id).join(", ")})`
        : `${env.name} has no version before ${current.id}`,
    );
  }
  const from = intact
    ? current.id
    : releaseId(current.workers.map((w) => ({ versionId: live.get(w.kind) ?? "--------" })));
  return { target, from, live };
}

/** `--to` as deploys print it: one version prefix per Worker, joined by dots. */
function parseReleaseId(env: Environment, to: string | undefined): string[] | undefined {
  const count = workerNames(env).length;
  const wanted = to?.split(".");
  if (wanted && (wanted.length !== count || wanted.some((w) => !/^[0-9a-f-]{1,36}$/i.test(w)))) {
    throw userError(
      "INVALID_ARGUMENT",
      `--to must be ${count} version prefixes joined by dots, as deploys print them (got "${to}")`,
    );
  }
  return wanted;
}

/** Rolls `env` back to release `to`, or to the one before what it serves. */
export async function rollback(
  platform: Platform,
  env: Environment,
  to?: string,
): Promise<{ from: string; to: string }> {
  const recorded = await recordedRollback(platform, env, to);
  // Nothing recorded on this machine (a fresh CI runner): Cloudflare's deployments say it all.
  if (!recorded) return rollbackFromDeployments(platform, env, to);
  const { target, from, live } = recorded;

  await rollbackWorkers(
    platform,
    env,
    target.id,
    target.workers.map((w) => ({ ...w, skip: live.get(w.kind) === w.versionId })),
    "Run the rollback again: Workers already at the target version are skipped.",
    (w) =>
      platform.state.update((s) => {
        s.records.push({
          environment: env.name,
          worker: w.worker,
          kind: w.kind,
          versionId: w.versionId,
          at: new Date().toISOString(),
          action: "rollback",
        });
      }),
  );
  await platform.state.update((s) => {
    s.current[env.name] = target.id;
  });
  return { from, to: target.id };
}

/**
 * Rollback from Cloudflare's deployment history, for a machine that recorded no deploys: each
 * Worker goes back to the version its deployment before the current one served. `to` is a
 * combined id as deploys print them (the first 8 characters of each Worker's version id, in
 * deploy order), matched against each Worker's recent deployments.
 */
async function rollbackFromDeployments(
  platform: Platform,
  env: Environment,
  to?: string,
): Promise<{ from: string; to: string }> {
  const workers = workerNames(env);
  const wanted = parseReleaseId(env, to);
  const plan: { kind: WorkerKind; worker: string; from: string; to: string }[] = [];
  for (const [index, { kind, name }] of workers.entries()) {
    const result = await platform.wrangler.run(kind, [
      "deployments",
      "list",
      "--name",
      name,
      "--json",
    ]);
    if (result.code !== 0) {
      if (NOT_FOUND_CODES.test(stripAnsi(result.stdout + result.stderr))) {
        throw userError("NOT_FOUND", `${env.name} has no deployed version to roll back from`);
      }
      throw new PipelineError(
        WRANGLER_FAILED,
        `could not read the deployments of ${name}: wrangler ${describeExit(result)}:\n${tail(result, [])}`,
      );
    }
    let deployments: { versions?: { version_id?: string; percentage?: number }[] }[];
    try {
      deployments = JSON.parse(result.stdout) as typeof deployments;
    } catch {
      throw new PipelineError(WRANGLER_FAILED, `wrangler printed no deployments list for ${name}`);
    }
    // Oldest first; each deployment's main version is the one with the most traffic.
    const served = deployments
      .map(
        (d) =>
          [...(d.versions ?? [])].sort((a, b) => (b.percentage ?? 0) - (a.percentage ?? 0))[0]
            ?.version_id,
      )
      .filter((v): v is string => typeof v === "string");
    const live = served.at(-1);
    if (!live)
      throw userError("NOT_FOUND", `${env.name} has no deployed version to roll back from`);
    const prefix = wanted?.[index];
    const target = prefix
      ? [...served].reverse().find((v) => v.startsWith(prefix))
      : [...served].reverse().find((v) => v !== live);
    if (!target) {
      throw userError(
        "NO_PREVIOUS_VERSION",
        prefix
          ? `${name} has no recent deployment of a version starting ${prefix}`
          : `${env.name} has no version before the one it serves (${name} has one deployment)`,
      );
    }
    plan.push({ kind, worker: name, from: live, to: target });
  }
  const targetId = releaseId(plan.map((p) => ({ versionId: p.to })));
  await rollbackWorkers(
    platform,
    env,
    targetId,
    plan.map((p) => ({ kind: p.kind, worker: p.worker, versionId: p.to, skip: p.from === p.to })),
    `Run it again with --to ${targetId}: Workers already there are skipped.`,
  );
  return { from: releaseId(plan.map((p) => ({ versionId: p.from }))), to: targetId };
}

/**
 * `wrangler rollback` of each Worker to its version, in order, skipping those already there.
 * A failure names the Workers rolled back, the one that failed and those not attempted.
 */
async function rollbackWorkers(
  platform: Platform,
  env: Environment,
  targetId: string,
  steps: { kind: WorkerKind; worker: string; versionId: string; skip: boolean }[],
  hint: string,
  after?: (step: { kind: WorkerKind; worker: string; versionId: string }) => Promise<void>,
): Promise<void> {
  const done: string[] = [];
  for (const [index, step] of steps.entries()) {
    if (step.skip) continue;
    const result = await platform.wrangler.run(step.kind, [
      "rollback",
      step.versionId,
      "--name",
      step.worker,
      "--message",
      "codex rollback",
      "--yes",
    ]);
    if (result.code !== 0) {
      const rest = steps.slice(index + 1).map((s) => s.worker);
      throw new PipelineError(
        WRANGLER_FAILED,
        `rolling back ${env.name} to ${targetId} stopped at ${step.worker}: rolled back ${listNames(done)}; ` +
          `failed ${step.worker}; not attempted ${listNames(rest)}.\n` +
          `wrangler rollback ${describeExit(result)}:\n${tail(result, [])}`,
        { hint },
      );
    }
    done.push(step.worker);
    await after?.(step);
  }
}
