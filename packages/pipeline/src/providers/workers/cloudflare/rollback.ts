/**
 * Rollback: each Worker of an environment goes back to the version a release recorded here, or,
 * on a machine that recorded nothing (a fresh CI runner), to a release Cloudflare itself names:
 * every deploy tags its versions with one release tag (state.ts), and the versions list says
 * which version has which. A rollback makes no version, so going by release skips rollbacks:
 * after v1, v2 and a rollback to v1, the next rollback goes to the release before v1, never to v2.
 *
 * A version holds its own secrets, and `wrangler rollback` brings them back (in CI it confirms
 * Cloudflare's "secrets have changed" prompt by itself): a rotated SESSION_SECRET or a deleted
 * Stripe endpoint's signing secret would return. So each Worker rolled back gets the current
 * secrets again at once (index.ts). Per Cloudflare's docs, a rollback restores neither data nor
 * the resources that bindings point at.
 * (https://developers.cloudflare.com/workers/configuration/versions-and-deployments/rollbacks/)
 */
import type { WorkerKind } from "../../../core/derive";
import type { Environment } from "../../../core/environments";
import { PipelineError, userError } from "../../../errors";
import { listVersions, type ApiOptions, type ApiVersion } from "./api";
import { RELEASE_TAG, releaseId, type StateFile } from "./state";
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

/** What a rollback works with: the state file, wrangler and API of one account. */
export interface Platform {
  state: StateFile;
  wrangler: Wrangler;
  api: ApiOptions;
  /** Gives one Worker, just rolled back, the environment's current secrets again. */
  reapplySecrets(step: { kind: WorkerKind; worker: string }): Promise<void>;
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
 * environment (a fresh runner), or `to` is not a release it recorded: then Cloudflare decides.
 */
async function recordedRollback(platform: Platform, env: Environment, to: string | undefined) {
  const state = await platform.state.read();
  const releases = state.releases.filter((r) => r.environment === env.name);
  const currentId = state.current[env.name];
  const current = releases.find((r) => r.id === currentId);
  if (!current) return undefined;
  if (to && !releases.some((r) => r.id === to)) {
    // Versions this machine did not deploy (or no longer keeps) may still be on Cloudflare.
    if (RELEASE_TAG.test(to) || isVersionList(env, to)) return undefined;
    throw userError(
      "NO_PREVIOUS_VERSION",
      `${env.name} has no version ${to} (kept: ${releases.map((r) => r.id).join(", ")})`,
    );
  }
  // What each Worker runs now: after a deploy that stopped halfway, not the current release.
  const live = new Map<WorkerKind, string>();
  for (const r of state.records) if (r.environment === env.name) live.set(r.kind, r.versionId);
  const intact = current.workers.every((w) => live.get(w.kind) === w.versionId);
  const target = to
    ? releases.find((r) => r.id === to)
    : intact
      ? releases[releases.indexOf(current) - 1]
      : current;
  if (!target) return undefined;
  const from = intact
    ? current.id
    : releaseId(current.workers.map((w) => ({ versionId: live.get(w.kind) ?? "--------" })));
  return { target, from, live };
}

/** True when `to` is one version prefix per Worker of `env`, joined by dots. */
function isVersionList(env: Environment, to: string): boolean {
  const wanted = to.split(".");
  return (
    wanted.length === workerNames(env).length && wanted.every((w) => /^[0-9a-f-]{1,36}$/i.test(w))
  );
}

/**
 * `--to` as deploys print it (one version prefix per Worker, joined by dots), or a release tag;
 * undefined when no `to` is given.
 */
function parseReleaseId(
  env: Environment,
  to: string | undefined,
): { prefixes: string[] } | { tag: string } | undefined {
  if (to === undefined) return undefined;
  if (RELEASE_TAG.test(to)) return { tag: to };
  if (!isVersionList(env, to)) {
    throw userError(
      "INVALID_ARGUMENT",
      `--to must be ${workerNames(env).length} version prefixes joined by dots, as deploys print them, or a release tag (got "${to}")`,
    );
  }
  return { prefixes: to.split(".") };
}

/** Rolls `env` back to release `to`, or to the one before what it serves. */
export async function rollback(
  platform: Platform,
  env: Environment,
  to?: string,
): Promise<{ from: string; to: string }> {
  const recorded = await recordedRollback(platform, env, to);
  // Nothing recorded on this machine (a fresh CI runner): Cloudflare's deployments say it all.
  if (!recorded) return rollbackFromCloudflare(platform, env, to);
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

/** One deployment as `wrangler deployments list --json` prints it. */
interface Deployment {
  versions?: { version_id?: string; percentage?: number }[];
}

/**
 * A Worker's deployments, oldest first, from `wrangler deployments list`; undefined when the
 * Worker does not exist.
 */
async function readDeployments(
  platform: Platform,
  kind: WorkerKind,
  name: string,
): Promise<Deployment[] | undefined> {
  const result = await platform.wrangler.run(kind, [
    "deployments",
    "list",
    "--name",
    name,
    "--json",
  ]);
  if (result.code !== 0) {
    if (NOT_FOUND_CODES.test(stripAnsi(result.stdout + result.stderr))) return undefined;
    throw new PipelineError(
      WRANGLER_FAILED,
      `could not read the deployments of ${name}: wrangler ${describeExit(result)}:\n${tail(result, [])}`,
    );
  }
  try {
    return JSON.parse(result.stdout) as Deployment[];
  } catch {
    throw new PipelineError(WRANGLER_FAILED, `wrangler printed no deployments list for ${name}`);
  }
}

/** The version a deployment serves: the one with the most traffic. */
function served(deployment: Deployment | undefined): string | undefined {
  return [...(deployment?.versions ?? [])].sort(
    (a, b) => (b.percentage ?? 0) - (a.percentage ?? 0),
  )[0]?.version_id;
}

/**
 * What each Worker of `env` serves now, from Cloudflare: one full version id per Worker in
 * deploy order, joined by dots (a `to` that rollback takes); undefined when a Worker has never
 * been deployed.
 */
export async function liveRelease(
  platform: Platform,
  env: Environment,
): Promise<string | undefined> {
  const ids: string[] = [];
  for (const { kind, name } of workerNames(env)) {
    const id = served((await readDeployments(platform, kind, name))?.at(-1));
    if (!id) return undefined;
    ids.push(id);
  }
  return ids.join(".");
}

/** The release tag a codex deploy gave `version`, if any. */
function tagOf(version: ApiVersion | undefined): string | undefined {
  const tag = version?.annotations["workers/tag"];
  return tag && RELEASE_TAG.test(tag) ? tag : undefined;
}

/**
 * Which release each deployment served, oldest first: the tagged version it serves, or, for a
 * secret change (a new untagged version Cloudflare made from the live one), the release served
 * just before it.
 */
function releaseVersions(deployments: Deployment[], versions: ApiVersion[]) {
  const byId = new Map(versions.map((v) => [v.id, v]));
  const bases: (ApiVersion | undefined)[] = [];
  for (const deployment of deployments) {
    const version = byId.get(served(deployment) ?? "");
    const secretChange = version?.annotations["workers/triggered_by"] === "secret";
    bases.push(tagOf(version) ? version : secretChange ? bases.at(-1) : undefined);
  }
  return bases;
}

/** The commit a release tag names: a hash prefix, or undefined for a deploy without one. */
export function commitOfTag(tag: string): string | undefined {
  const commit = /^codex-([0-9a-z]{1,12})-/.exec(tag)?.[1];
  return commit && commit !== "local" ? commit : undefined;
}

/**
 * The version of each Worker of `env` that `version` names (undefined: what each serves now;
 * else version ids or prefixes joined by dots, or a release tag), with the release tag of the
 * deploy that made it: for a version a secret change made (a rollback's re-applied secrets), the
 * tag of the release it was made from. Undefined when a Worker has no such version.
 */
export async function releaseOf(
  platform: Platform,
  env: Environment,
  version?: string,
): Promise<{ kind: WorkerKind; name: string; versionId: string; tag?: string }[] | undefined> {
  const wanted = parseReleaseId(env, version);
  const found = [];
  for (const [index, { kind, name }] of workerNames(env).entries()) {
    const versions = (await listVersions(platform.api, name)) ?? [];
    // Deployments only when needed: wrangler's start-up is most of a call's time.
    let deployments: Deployment[] | undefined;
    const readOnce = async () =>
      (deployments ??= (await readDeployments(platform, kind, name)) ?? []);
    let id: string | undefined;
    if (!wanted) id = served((await readOnce()).at(-1));
    else if ("tag" in wanted) id = versions.findLast((v) => tagOf(v) === wanted.tag)?.id;
    else {
      const prefix = wanted.prefixes[index] ?? "";
      id = versions.findLast((v) => v.id.startsWith(prefix))?.id;
    }
    if (!id) return undefined;
    let tag = tagOf(versions.find((v) => v.id === id));
    if (!tag) {
      const all = await readOnce();
      const at = all.findLastIndex((d) => served(d) === id);
      if (at >= 0) tag = tagOf(releaseVersions(all, versions)[at]);
    }
    found.push({ kind, name, versionId: id, ...(tag ? { tag } : {}) });
  }
  return found;
}

/**
 * What a rollback from Cloudflare would do, for a machine that recorded no deploys (or a `to` it
 * did not record): go to the versions `to` names (version prefixes, or a release tag), or else to
 * the release before the one served now.
 */
async function planFromCloudflare(platform: Platform, env: Environment, to?: string) {
  const wanted = parseReleaseId(env, to);
  const workers: {
    kind: WorkerKind;
    name: string;
    live: string;
    base: ApiVersion | undefined;
    versions: ApiVersion[];
  }[] = [];
  for (const { kind, name } of workerNames(env)) {
    const deployments = await readDeployments(platform, kind, name);
    const live = served(deployments?.at(-1));
    if (!deployments || !live) {
      throw userError("NOT_FOUND", `${env.name} has no deployed version to roll back from`);
    }
    const versions = (await listVersions(platform.api, name)) ?? [];
    const base = releaseVersions(deployments, versions).at(-1);
    workers.push({ kind, name, live, base, versions });
  }

  let tag = wanted && "tag" in wanted ? wanted.tag : undefined;
  if (!wanted) {
    const current = workers.map((w) => tagOf(w.base));
    const unknown = workers.find((w, i) => !current[i]);
    if (unknown) {
      throw userError(
        "NO_PREVIOUS_VERSION",
        `${unknown.name} serves version ${unknown.live.slice(0, 8)}, which no codex deploy tagged ` +
          `(deployed by hand, or before releases were tagged), so the release before it is unknown`,
        "Say which versions to go back to: rollback --to <one version prefix per Worker, joined by dots>.",
      );
    }
    // Releases in the order they were deployed (the first Worker's versions), complete ones only.
    const order = [...new Set(workers[0]?.versions.map(tagOf).filter((t) => t !== undefined))];
    const complete = order.filter((t) =>
      workers.every((w) => w.versions.some((v) => tagOf(v) === t)),
    );
    const positions = current.map((t) => order.indexOf(t as string));
    const uniform = current.every((t) => t === current[0]);
    // All on one release: the one before it. A deploy that stopped halfway: the oldest served.
    const limit = uniform ? (positions[0] ?? 0) - 1 : Math.min(...positions);
    tag = complete.filter((t) => order.indexOf(t) <= limit).at(-1);
    if (!tag) {
      throw userError(
        "NO_PREVIOUS_VERSION",
        `${env.name} has no release before ${current[0]} that every Worker still has`,
      );
    }
  }

  const plan = workers.map((w, index) => {
    const prefix = wanted && "prefixes" in wanted ? wanted.prefixes[index] : undefined;
    const target = prefix
      ? w.versions.findLast((v) => v.id.startsWith(prefix))
      : w.versions.findLast((v) => tagOf(v) === tag);
    if (!target) {
      throw userError(
        "NO_PREVIOUS_VERSION",
        prefix
          ? `${w.name} has no version starting ${prefix} that can still be deployed`
          : `${w.name} has no version of release ${tag}`,
      );
    }
    return { ...w, target: target.id, skip: w.base?.id === target.id || w.live === target.id };
  });
  return { plan, targetId: releaseId(plan.map((p) => ({ versionId: p.target }))) };
}

/** The release `rollback(platform, env, to)` would serve, without rolling anything back. */
export async function rollbackTarget(
  platform: Platform,
  env: Environment,
  to?: string,
): Promise<string> {
  const recorded = await recordedRollback(platform, env, to);
  return recorded ? recorded.target.id : (await planFromCloudflare(platform, env, to)).targetId;
}

/** Rollback from Cloudflare's own record (planFromCloudflare). */
async function rollbackFromCloudflare(
  platform: Platform,
  env: Environment,
  to?: string,
): Promise<{ from: string; to: string }> {
  const { plan, targetId } = await planFromCloudflare(platform, env, to);
  await rollbackWorkers(
    platform,
    env,
    targetId,
    plan.map((p) => ({ kind: p.kind, worker: p.name, versionId: p.target, skip: p.skip })),
    `Run it again with --to ${targetId}: Workers already there are skipped.`,
  );
  // "from" names the release versions served, not the copies a secret change made of them.
  return {
    from: releaseId(plan.map((p) => ({ versionId: p.base?.id ?? p.live }))),
    to: targetId,
  };
}

/**
 * `wrangler rollback` of each Worker to its version, in order, skipping those already there, and
 * the current secrets again on each. A failure names the Workers rolled back, the one that failed
 * and those not attempted.
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
    const rest = () => steps.slice(index + 1).map((s) => s.worker);
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
      throw new PipelineError(
        WRANGLER_FAILED,
        `rolling back ${env.name} to ${targetId} stopped at ${step.worker}: rolled back ${listNames(done)}; ` +
          `failed ${step.worker}; not attempted ${listNames(rest())}.\n` +
          `wrangler rollback ${describeExit(result)}:\n${tail(result, [])}`,
        { hint },
      );
    }
    try {
      await platform.reapplySecrets(step);
    } catch (error) {
      throw new PipelineError(
        WRANGLER_FAILED,
        `rolling back ${env.name} to ${targetId} stopped at ${step.worker}: rolled back ` +
          `${listNames([...done, step.worker])}, but ${step.worker} serves its old version's secrets: ` +
          `re-applying the current ones failed; not attempted ${listNames(rest())}.\n${(error as Error).message}`,
        { hint: `${hint} Then check ${step.worker}'s secrets.`, cause: error },
      );
    }
    done.push(step.worker);
    await after?.(step);
  }
}
