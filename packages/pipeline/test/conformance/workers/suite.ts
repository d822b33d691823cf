/**
 * The conformance suite every WorkerPlatform runs: the local one on a real resident host
 * (Miniflare and embedded Postgres), the Cloudflare one driving the real wrangler against a
 * recording stub of the Cloudflare API. A test file calls `describeWorkerPlatform` with its
 * traits and a harness; the suite knows nothing of either implementation.
 *
 * A deploy costs seconds locally and a minute on the stub (three wrangler runs), so the suite is
 * one story on one backend: its tests run in order, and later ones build on what earlier ones
 * deployed. Each test still asserts its own behaviour, and fails if that behaviour breaks.
 *
 * Where the implementations legitimately differ, the suite asserts only what both promise:
 * - version ids are opaque ("v2" locally, "1a2b3c4d.5e6f7a8b.9c0d1e2f" on Cloudflare), and so
 *   are urls (http://pr-7.localhost:8787 locally, https://<worker>.<subdomain>.workers.dev);
 *   the suite compares them, never parses their shape;
 * - deploying unchanged sources again reuses the current version locally (`built: false`), but
 *   makes a new one on Cloudflare, where every deploy uploads: `reusesUnchangedVersion` says
 *   which, and `rebuild` (meaningless on Cloudflare) is tested only where it changes something;
 * - `deploy`'s `database` is a database name locally and a connection URL on Cloudflare;
 * - Cloudflare learns the account's workers.dev subdomain from the first deploy (unless it is
 *   configured), so `urls()` is asked only after one;
 * - what a backend serves is observed only through the optional `served` hook: the local host's
 *   /status and routing, or the stub's scripts and their active deployments.
 *
 * A bug an implementation is known to have is listed in its `knownBugs`, with what goes wrong;
 * that test then runs as `it.fails`. A test that cannot apply says why when it skips.
 */
import { afterAll, beforeAll, describe, expect, it, type TestFunction } from "vitest";
import { deriveStack, loadStack } from "../../../src/core/derive";
import {
  PRODUCTION,
  STAGING,
  previewEnvironment,
  type Environment,
} from "../../../src/core/environments";
import { PipelineError, type ErrorCode } from "../../../src/errors";
import { REPO_ROOT } from "../../../src/state";
import type {
  DeployResult,
  DeployedEnvironment,
  StackUrls,
  WorkerPlatform,
} from "../../../src/providers/workers/shared";

export interface WorkerPlatformHarness {
  platform: WorkerPlatform;
  /** What `deploy` is given as `database` for the environment. */
  database(environment: Environment): string;
  /**
   * The version the backend itself serves for the environment, or undefined when it serves
   * none; absent when the harness cannot observe the backend.
   */
  served?(environment: Environment): Promise<string | undefined>;
  /** Stops and removes whatever the harness started. */
  cleanup(): Promise<void>;
}

/** The suite's tests, by key: what `knownBugs` names. */
export type WorkerPlatformCase =
  | "deploy"
  | "urls"
  | "rollback-without-history"
  | "redeploy"
  | "rebuild"
  | "rollback"
  | "urls-after-rollback"
  | "delete"
  | "urls-refuse-bad-environments"
  | "rollback-refuses-bad-environments"
  | "deploy-refuses-bad-environments"
  | "delete-refuses-bad-environments";

export interface WorkerPlatformTraits {
  /** True when deploying unchanged sources (without `rebuild`) keeps the current version. */
  reusesUnchangedVersion: boolean;
  /**
   * Tests this implementation is known to fail, each with the bug. They run as `it.fails`, so
   * the run stays green while the bug stands, and turns red once it is fixed: then remove it.
   */
  knownBugs?: Partial<Record<WorkerPlatformCase, string>>;
}

// PR numbers no other suite uses, so that a leftover can be told apart.
const A = previewEnvironment(601);
const B = previewEnvironment(602);
const NEVER_DEPLOYED = previewEnvironment(603);

/**
 * Environments a platform must refuse before it touches anything. The first carries the name of
 * a deployed preview with the wrong kind: accepted, it reaches that preview's state.
 */
function badEnvironments(deployed: Environment): Environment[] {
  return [
    { name: deployed.name, kind: "staging" },
    { name: "preview-0", kind: "preview", pr: 0 },
    { name: "preview-1; drop database main", kind: "preview", pr: 1 },
    { name: "../conformance-escape", kind: "preview", pr: 3 },
    { name: "Production", kind: "production" },
  ];
}

/** The PipelineError `attempt` fails with; the test fails if it resolves or throws anything else. */
async function failure(attempt: () => unknown): Promise<PipelineError> {
  const error = await Promise.resolve()
    .then(attempt)
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(error).toBeInstanceOf(PipelineError);
  return error as PipelineError;
}

function expectUserError(error: PipelineError, code: ErrorCode): void {
  expect({ code: error.code, kind: error.kind }, error.message).toEqual({ code, kind: "user" });
}

const hosts = (urls: StackUrls) => [urls.web, urls.auth, urls.webhook].map((u) => new URL(u).host);

export function describeWorkerPlatform(
  name: string,
  traits: WorkerPlatformTraits,
  setup: () => Promise<WorkerPlatformHarness>,
): void {
  describe(`WorkerPlatform conformance: ${name}`, () => {
    let harness: WorkerPlatformHarness;
    const stacks = loadStack(REPO_ROOT);
    /** A's first deploy. */
    let first: DeployResult;
    /** A's distinct versions, in the order they were made. */
    const history: string[] = [];
    /** B's deploy, which outlives A's deletion. */
    let survivor: DeployResult | undefined;

    beforeAll(async () => {
      harness = await setup();
    });

    afterAll(async () => {
      await harness?.cleanup();
    });

    const test = (key: WorkerPlatformCase, title: string, fn: TestFunction) => {
      const bug = traits.knownBugs?.[key];
      if (bug) it.fails(`${title} [known bug: ${bug}]`, fn);
      else it(title, fn);
    };

    const platform = () => harness.platform;
    const deploy = (environment: Environment, rebuild?: boolean) =>
      platform().deploy(deriveStack(stacks, environment), {
        database: harness.database(environment),
        ...(rebuild ? { rebuild } : {}),
      });

    /** The environment's one entry in list(), or undefined. */
    async function listed(environment: Environment): Promise<DeployedEnvironment | undefined> {
      const entries = (await platform().list()).filter((e) => e.name === environment.name);
      expect(entries.length, `list() entries of ${environment.name}`).toBeLessThanOrEqual(1);
      return entries[0];
    }

    /** The backend serves `version` for the environment (undefined: serves nothing). */
    async function expectServed(environment: Environment, version: string | undefined) {
      if (harness.served) {
        expect(await harness.served(environment), `served ${environment.name}`).toBe(version);
      }
    }

    test(
      "deploy",
      "deploy returns a version and the environment's urls, and list() shows it",
      async () => {
        first = await deploy(A);
        history.push(first.version);

        expect(first.version).toMatch(/\S/);
        expect(first.built).toBe(true);
        for (const url of Object.values(first.urls)) {
          expect(new URL(url).protocol).toMatch(/^https?:$/);
        }
        expect(new Set(hosts(first.urls)).size).toBe(3);
        expect(platform().urls(A)).toEqual(first.urls);

        const entry = await listed(A);
        expect(entry).toMatchObject({ name: A.name, version: first.version, urls: first.urls });
        expect(entry?.versions).toContain(first.version);
        expect(Date.parse(entry?.updatedAt ?? "")).not.toBeNaN();
        await expectServed(A, first.version);
      },
    );

    test("urls", "urls are distinct per environment and Worker, and stable across calls", () => {
      const environments = [A, B, NEVER_DEPLOYED, PRODUCTION, STAGING];
      const all = environments.flatMap((env) => hosts(platform().urls(env)));
      expect(new Set(all).size).toBe(environments.length * 3);
      for (const env of environments) expect(platform().urls(env)).toEqual(platform().urls(env));
      expect(platform().urls(A)).toEqual(first.urls);
    });

    test(
      "rollback-without-history",
      "rollback() fails without an earlier version, or without any, and keeps serving the current one",
      async () => {
        const before = await listed(A);
        expectUserError(await failure(() => platform().rollback(A)), "NO_PREVIOUS_VERSION");
        expect(await listed(A)).toEqual(before);
        await expectServed(A, first.version);

        expectUserError(await failure(() => platform().rollback(NEVER_DEPLOYED)), "NOT_FOUND");
        expect(await listed(NEVER_DEPLOYED)).toBeUndefined();
      },
    );

    test(
      "redeploy",
      "deploying again updates in place: the same environment, one list() entry, the same urls",
      async () => {
        const before = await listed(A);
        const again = await deploy(A);

        expect(again.urls).toEqual(first.urls);
        expect(platform().urls(A)).toEqual(first.urls);
        if (traits.reusesUnchangedVersion) {
          expect(again).toMatchObject({ version: before?.version, built: false });
        } else {
          expect(again.built).toBe(true);
          expect(before?.versions).not.toContain(again.version);
          history.push(again.version);
        }
        const entry = await listed(A);
        expect(entry).toMatchObject({ name: A.name, version: again.version, urls: first.urls });
        expect(entry?.versions).toEqual(
          traits.reusesUnchangedVersion
            ? before?.versions
            : [...(before?.versions ?? []), again.version],
        );
        await expectServed(A, again.version);
      },
    );

    test(
      "rebuild",
      "rebuild makes a new version of unchanged sources, in place",
      async (context) => {
        if (!traits.reusesUnchangedVersion) {
          return context.skip("every deploy makes a new version here; 'redeploy' shows it");
        }
        const before = await listed(A);
        const rebuilt = await deploy(A, true);
        history.push(rebuilt.version);

        expect(rebuilt.built).toBe(true);
        expect(before?.versions).not.toContain(rebuilt.version);
        expect(rebuilt.urls).toEqual(first.urls);
        const entry = await listed(A);
        expect(entry).toMatchObject({ version: rebuilt.version, urls: first.urls });
        expect(entry?.versions).toEqual([...(before?.versions ?? []), rebuilt.version]);
        await expectServed(A, rebuilt.version);
      },
    );

    test(
      "rollback",
      "rollback() serves the previous version again; rollback(to) takes a kept version, and refuses an unknown one",
      async () => {
        const [previous, current] = history.slice(-2);
        expect(previous, "two versions of A from the tests before").toBeDefined();
        expect((await listed(A))?.version).toBe(current);

        expect(await platform().rollback(A)).toEqual({ from: current, to: previous });
        const entry = await listed(A);
        expect(entry?.version).toBe(previous);
        expect(entry?.versions).toContain(current);
        expect(platform().urls(A)).toEqual(first.urls);
        await expectServed(A, previous);

        const unknown = await failure(() => platform().rollback(A, "no-such-version"));
        expectUserError(unknown, "NO_PREVIOUS_VERSION");
        expect(unknown.message).toContain("no-such-version");
        expect((await listed(A))?.version).toBe(previous);
        await expectServed(A, previous);

        expect(await platform().rollback(A, current)).toEqual({ from: previous, to: current });
        expect((await listed(A))?.version).toBe(current);
        await expectServed(A, current);
      },
    );

    test("urls-after-rollback", "list() reports the same urls after a rollback", async () => {
      expect((await listed(A))?.urls).toEqual(first.urls);
    });

    test(
      "delete",
      "delete() removes one preview and leaves another deployed; a second delete() returns false",
      async () => {
        const untouched = await listed(A);
        survivor = await deploy(B);
        expect((await listed(B))?.version).toBe(survivor.version);
        // Deploying one preview leaves another as it was.
        expect(await listed(A)).toEqual(untouched);
        await expectServed(A, history.at(-1));

        expect(await platform().delete(A)).toBe(true);
        expect(await listed(A)).toBeUndefined();
        expect(await listed(B)).toMatchObject({ version: survivor.version, urls: survivor.urls });
        await expectServed(A, undefined);
        await expectServed(B, survivor.version);

        const remaining = await platform().list();
        expect(await platform().delete(A)).toBe(false);
        expect(await platform().list()).toEqual(remaining);
        await expectServed(B, survivor.version);
        // Deleting forgets the history too: there is nothing to roll back to.
        expectUserError(await failure(() => platform().rollback(A)), "NOT_FOUND");
      },
    );

    test(
      "urls-refuse-bad-environments",
      "urls() refuses environments that are not valid",
      async () => {
        for (const env of badEnvironments(B)) {
          expectUserError(await failure(() => platform().urls(env)), "INVALID_ENVIRONMENT");
        }
      },
    );

    test(
      "rollback-refuses-bad-environments",
      "rollback() refuses environments that are not valid, and changes nothing",
      async () => {
        const before = await platform().list();
        for (const env of badEnvironments(B)) {
          expectUserError(await failure(() => platform().rollback(env)), "INVALID_ENVIRONMENT");
        }
        expect(await platform().list()).toEqual(before);
        await expectServed(B, survivor?.version);
      },
    );

    test(
      "deploy-refuses-bad-environments",
      "deploy() refuses a stack whose environment is not valid, before it records anything",
      async () => {
        const stack = deriveStack(stacks, B);
        const before = await platform().list();
        for (const env of badEnvironments(B)) {
          const error = await failure(() =>
            platform().deploy({ ...stack, environment: env }, { database: harness.database(B) }),
          );
          expectUserError(error, "INVALID_ENVIRONMENT");
          expect(await platform().list()).toEqual(before);
        }
        await expectServed(B, survivor?.version);
      },
    );

    // Last: an implementation with this bug deletes B.
    test(
      "delete-refuses-bad-environments",
      "delete() refuses environments that are not valid, and deletes nothing",
      async () => {
        const before = await platform().list();
        for (const env of badEnvironments(B)) {
          expectUserError(await failure(() => platform().delete(env)), "INVALID_ENVIRONMENT");
        }
        expect(await platform().list()).toEqual(before);
        await expectServed(B, survivor?.version);
      },
    );
  });
}
