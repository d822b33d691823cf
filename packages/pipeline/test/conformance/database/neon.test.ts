import { createRequire } from "node:module";
import { inspect } from "node:util";
import postgres from "postgres";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { postgresJsUrl } from "@codex/database/connection-url";
import { migrate } from "@codex/database/migrate";
import {
  NEON_DNS_PRELOAD,
  startNeonOnPostgres,
  type NeonOnPostgres,
} from "../../../src/testing/stubs/neon-postgres";
import {
  redact,
  startNeonStub,
  type NeonStub,
  type NeonStubOptions,
} from "../../../src/testing/stubs/neon";
import { PRODUCTION, STAGING, previewEnvironment } from "../../../src/core/environments";
import { PipelineError } from "../../../src/errors";
import { describeDatabaseBranches } from "./suite";
import {
  NEON_SWEEP_COMMAND,
  NeonDatabaseBranches,
  neonFromEnv,
  type NeonDatabaseBranchesOptions,
} from "../../../src/providers/database/neon";

const DAY_MS = 86_400_000;

/** The provider on `stub`, without sleeping between operation polls. */
const branchesOn = (stub: NeonStub) =>
  new NeonDatabaseBranches({
    apiKey: stub.apiKey,
    projectId: stub.projectId,
    apiHost: stub.url,
    wait: async () => {},
  });

describeDatabaseBranches("neon (recording stub)", async () => {
  const stub = await startNeonStub();
  return {
    branches: branchesOn(stub),
    canConnect: false,
    calls: () => stub.requests.length,
    cleanup: () => stub.close(),
  };
});

// The stub's Neon hosts (ep-….aws.neon.tech) resolve to its Postgres on 127.0.0.1 here.
createRequire(import.meta.url)(NEON_DNS_PRELOAD);

// One Neon stub with a real Postgres behind it, shared by the suite's tests (each harness
// deletes the branches it made): its URIs are Neon's, TLS and channel_binding included.
let onPostgres: Promise<NeonOnPostgres> | undefined;
afterAll(async () => {
  await (await onPostgres)?.stop();
});

describeDatabaseBranches("neon (stub on a real Postgres, Neon's URIs)", async () => {
  const db = await (onPostgres ??= startNeonOnPostgres({ operationPolls: 0 }));
  const stub = db.neon;
  return {
    branches: branchesOn(stub),
    canConnect: true,
    calls: () => stub.requests.length,
    cleanup: async () => {
      for (const branch of stub.state.branches.filter((b) => !b.default)) {
        await fetch(`${stub.url}/projects/${stub.projectId}/branches/${branch.id}`, {
          method: "DELETE",
          headers: { authorization: `Bearer ${stub.apiKey}` },
        });
      }
    },
  };
});

const stubs: NeonStub[] = [];

afterEach(async () => {
  await Promise.all(stubs.splice(0).map((stub) => stub.close()));
});

async function start(options: NeonStubOptions = {}): Promise<NeonStub> {
  const stub = await startNeonStub(options);
  stubs.push(stub);
  return stub;
}

/** A provider on `stub` that records its waits and log lines instead of sleeping. */
function provider(stub: NeonStub, overrides: Partial<NeonDatabaseBranchesOptions> = {}) {
  const waits: number[] = [];
  const logs: string[] = [];
  const branches = new NeonDatabaseBranches({
    apiKey: stub.apiKey,
    projectId: stub.projectId,
    apiHost: stub.url,
    wait: async (ms) => {
      waits.push(ms);
    },
    log: (line) => logs.push(line),
    ...overrides,
  });
  return { branches, waits, logs };
}

async function failure(promise: Promise<unknown>): Promise<PipelineError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PipelineError);
  return error as PipelineError;
}

/** Everything an error could show a user or a log, cause included. */
function shown(error: PipelineError): string {
  return [error.message, error.hint, String(error), inspect(error, { depth: 5 })].join("\n");
}

const calls = (stub: NeonStub, method: string, path: RegExp) =>
  stub.requests.filter((r) => r.method === method && path.test(r.path));

describe("NeonDatabaseBranches", () => {
  it("creates pr-N from the default branch with a read_write endpoint and a 14-day expiry", async () => {
    const stub = await start();
    const { branches } = provider(stub);
    const before = Date.now();
    const branch = await branches.ensure(previewEnvironment(12));
    const p = `/projects/${stub.projectId}`;

    expect(stub.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${p}/branches`,
      `POST ${p}/branches`,
      ...stub.state.operations.map((op) => `GET ${p}/operations/${op.id}`),
      `GET ${p}/connection_uri`,
      `GET ${p}/connection_uri`,
    ]);
    const [list, create] = stub.requests;
    expect(list?.query).toEqual({ limit: "100" });
    expect(create?.headers["content-type"]).toMatch(/^application\/json/);
    const body = create?.body as {
      branch: { name: string; parent_id: string; expires_at: string };
      endpoints: { type: string }[];
    };
    expect(body).toEqual({
      branch: { name: "pr-12", parent_id: stub.main().id, expires_at: expect.any(String) },
      endpoints: [{ type: "read_write" }],
    });
    expect(body.branch.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const expires = Date.parse(body.branch.expires_at);
    expect(expires).toBeGreaterThanOrEqual(before + 14 * DAY_MS - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 14 * DAY_MS);

    const made = stub.branch("pr-12")!;
    const query = { branch_id: made.id, database_name: "neondb", role_name: "neondb_owner" };
    expect(stub.requests.slice(-2).map((r) => r.query)).toEqual([
      { ...query, pooled: "true" },
      { ...query, pooled: "false" },
    ]);
    const endpoint = stub.state.endpoints.find((e) => e.branch_id === made.id)!;
    const [id, ...region] = endpoint.host.split(".");
    expect(branch).toEqual({
      name: "pr-12",
      environment: "preview-12",
      // The Workers' URL goes through Neon's pooler; migrations and tests connect directly.
      url: `postgresql://neondb_owner:${stub.state.password}@${id}-pooler.${region.join(".")}/neondb?sslmode=require&channel_binding=require`,
      directUrl: `postgresql://neondb_owner:${stub.state.password}@${endpoint.host}/neondb?sslmode=require&channel_binding=require`,
      created: true,
    });
  });

  it("migrates over the direct URI, never through the pooler, as Neon asks for schema changes", async () => {
    const db = await (onPostgres ??= startNeonOnPostgres({ operationPolls: 0 }));
    const branches = branchesOn(db.neon);
    const branch = await branches.ensure(previewEnvironment(31));
    try {
      expect(new URL(branch.directUrl).hostname).toMatch(
        /^ep-[a-z0-9-]+\.us-east-2\.aws\.neon\.tech$/,
      );
      expect(new URL(branch.url).hostname).toMatch(/-pooler\.us-east-2\.aws\.neon\.tech$/);
      const through = db.poolerConnections();
      // The real migration code, with the URI as Neon hands it out (TLS, channel_binding).
      expect(await migrate(branch.directUrl)).toMatchObject({ applied: [] });
      expect(db.poolerConnections()).toBe(through);
      // The Workers' pooled URI works too, through the pooler.
      const sql = postgres(postgresJsUrl(branch.url), { max: 1, onnotice: () => {} });
      try {
        const [row] = await sql<
          { ssl: boolean }[]
        >`select ssl from pg_stat_ssl where pid = pg_backend_pid()`;
        expect(row?.ssl).toBe(true);
      } finally {
        await sql.end({ timeout: 5 });
      }
      expect(db.poolerConnections()).toBe(through + 1);
    } finally {
      await branches.delete(previewEnvironment(31));
    }
  });

  it("answers 409 to a branch name that exists, and ensure() reuses that branch", async () => {
    const stub = await start({ operationPolls: 0 });
    const p = `/projects/${stub.projectId}`;
    const post = () =>
      fetch(`${stub.url}${p}/branches`, {
        method: "POST",
        headers: { authorization: `Bearer ${stub.apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ branch: { name: "pr-5" }, endpoints: [{ type: "read_write" }] }),
      });
    expect((await post()).status).toBe(201);
    const conflict = await post();
    expect(conflict.status).toBe(409);
    expect(((await conflict.json()) as { message: string }).message).toMatch(/already exists/);
    // Another run made it between this run's list and its POST: the 409 means "reuse it".
    const { branches, logs } = provider(stub);
    const listed = stub.requests.length;
    stub.failWhen({ method: "GET", path: /\/branches$/ }, 200, 1, {
      branches: [stub.main()],
      annotations: {},
    });
    const branch = await branches.ensure(previewEnvironment(5));
    expect(branch).toMatchObject({ name: "pr-5", created: false });
    expect(calls(stub, "POST", /\/branches$/).slice(-1)[0]).toBeDefined();
    expect(stub.requests.length).toBeGreaterThan(listed);
    expect(logs.join("\n")).toMatch(/pr-5 already existed; reusing it/);
    expect(stub.state.branches.filter((b) => b.name === "pr-5")).toHaveLength(1);
  });

  it("reuses the branch on a re-run: no second POST, the expiry pushed out with a PATCH", async () => {
    const stub = await start();
    const { branches } = provider(stub);
    const first = await branches.ensure(previewEnvironment(12));
    stub.requests.length = 0;
    const second = await branches.ensure(previewEnvironment(12));
    expect(second).toEqual({ ...first, created: false });
    expect(calls(stub, "POST", /./)).toEqual([]);
    const patches = calls(stub, "PATCH", /\/branches\/br-/);
    expect(patches).toHaveLength(1);
    expect(patches[0]?.path).toBe(
      `/projects/${stub.projectId}/branches/${stub.branch("pr-12")!.id}`,
    );
    const expiresAt = (patches[0]?.body as { branch: { expires_at: string } }).branch.expires_at;
    expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now() + 13 * DAY_MS);
    expect(stub.state.branches.filter((b) => b.name === "pr-12")).toHaveLength(1);
  });

  it("resets by restoring from the parent, never by delete and create", async () => {
    const stub = await start();
    const { branches } = provider(stub);
    const first = await branches.ensure(previewEnvironment(12));
    const id = stub.branch("pr-12")!.id;
    stub.requests.length = 0;
    const reset = await branches.ensure(previewEnvironment(12), { reset: true });
    expect(reset).toMatchObject({ name: "pr-12", url: first.url, created: false });
    const restores = calls(stub, "POST", /\/restore$/);
    expect(restores.map((r) => [r.path, r.body])).toEqual([
      [`/projects/${stub.projectId}/branches/${id}/restore`, { source_branch_id: stub.main().id }],
    ]);
    expect(calls(stub, "DELETE", /./)).toEqual([]);
    expect(calls(stub, "POST", /\/branches$/)).toEqual([]);
    expect(stub.branch("pr-12")).toMatchObject({ id, last_reset_at: expect.any(String) });
  });

  it("keeps a reused branch working when Neon refuses to extend its expiry", async () => {
    const stub = await start();
    const { branches, logs } = provider(stub);
    const first = await branches.ensure(previewEnvironment(12));
    stub.failWhen({ method: "PATCH" }, 400, 1, {
      code: "FEATURE_NOT_AVAILABLE",
      message: "branch expiration is not available",
    });
    const second = await branches.ensure(previewEnvironment(12));
    expect(second).toEqual({ ...first, created: false });
    expect(logs.some((line) => line.includes("could not extend the expiry of pr-12"))).toBe(true);
    // A refused key is not shrugged off.
    stub.failWhen({ method: "PATCH" }, 401, 1);
    await expect(branches.ensure(previewEnvironment(12))).rejects.toMatchObject({ kind: "user" });
  });

  it("gives staging no expiry: it is meant to persist", async () => {
    const stub = await start();
    const { branches } = provider(stub);
    await branches.ensure(STAGING);
    const [create] = calls(stub, "POST", /\/branches$/);
    expect(create?.body).toEqual({
      branch: { name: "staging", parent_id: stub.main().id },
      endpoints: [{ type: "read_write" }],
    });
    stub.requests.length = 0;
    await branches.ensure(STAGING);
    expect(calls(stub, "PATCH", /./)).toEqual([]);
  });

  it("maps production to the default branch, whatever it is called, without creating anything", async () => {
    const stub = await start({ defaultBranchName: "production" });
    const { branches } = provider(stub);
    const branch = await branches.ensure(PRODUCTION);
    expect(branch).toMatchObject({ name: "production", environment: "production", created: false });
    expect(calls(stub, "POST", /./)).toEqual([]);
    expect(stub.requests.at(-1)?.query.branch_id).toBe(stub.main().id);
    expect((await branches.ensureMain()).url).toBe(branch.url);
    await expect(branches.ensure(PRODUCTION, { reset: true })).rejects.toMatchObject({
      code: "INVALID_ENVIRONMENT",
      kind: "user",
    });
  });

  it("waits for Neon's operations before handing out a URL", async () => {
    const stub = await start({ operationPolls: 3 });
    const { branches, waits } = provider(stub);
    await branches.ensure(previewEnvironment(12));
    for (const op of stub.state.operations) {
      expect(calls(stub, "GET", new RegExp(`/operations/${op.id}$`))).toHaveLength(3);
      expect(op.status).toBe("finished");
    }
    expect(waits).toEqual([1000, 1000, 1000]);
    // The next change is accepted: nothing is left running (Neon answers 423 otherwise).
    await branches.ensure(previewEnvironment(12), { reset: true });
  });

  it("lists only pr-N and staging branches, with their environments and creation times", async () => {
    // Operations finish at once: the raw POSTs below do not wait for them as the provider does.
    const stub = await start({ operationPolls: 0 });
    const { branches } = provider(stub);
    await branches.ensure(previewEnvironment(3));
    await branches.ensure(STAGING);
    await branches.scratch("migrations");
    for (const name of ["dev-alice", "pr-007", "pr-0", "pr-99999999999", "preview-4"]) {
      const response = await fetch(`${stub.url}/projects/${stub.projectId}/branches`, {
        method: "POST",
        headers: { authorization: `Bearer ${stub.apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ branch: { name } }),
      });
      expect(response.status).toBe(201);
    }
    expect(await branches.list()).toEqual([
      { name: "pr-3", environment: "preview-3", createdAt: stub.branch("pr-3")!.created_at },
      { name: "staging", environment: "staging", createdAt: stub.branch("staging")!.created_at },
    ]);
  });

  it("follows Neon's cursor pagination when listing", async () => {
    const stub = await start({ branchLimit: 500, operationPolls: 0 });
    for (let pr = 1; pr <= 150; pr++) {
      stub.state.branches.push({
        ...stub.main(),
        id: `br-fake-${pr}`,
        name: `pr-${pr}`,
        default: false,
        primary: false,
      });
    }
    const { branches } = provider(stub);
    const listed = await branches.list();
    expect(listed).toHaveLength(150);
    const lists = calls(stub, "GET", /\/branches$/);
    expect(lists).toHaveLength(2);
    expect(lists[1]?.query.cursor).toEqual(expect.any(String));
  });

  it("deletes by ID, and refuses the default branch without calling Neon", async () => {
    const stub = await start();
    const { branches } = provider(stub);
    await branches.ensure(previewEnvironment(12));
    const id = stub.branch("pr-12")!.id;
    expect(await branches.delete(previewEnvironment(12))).toBe(true);
    expect(calls(stub, "DELETE", /./).map((r) => r.path)).toEqual([
      `/projects/${stub.projectId}/branches/${id}`,
    ]);
    const before = stub.requests.length;
    await expect(branches.delete(PRODUCTION)).rejects.toMatchObject({
      code: "INVALID_ENVIRONMENT",
      kind: "user",
    });
    expect(stub.requests).toHaveLength(before);
  });

  it("makes scratch branches that expire within the hour and drop with a DELETE", async () => {
    const stub = await start();
    const { branches } = provider(stub);
    const scratch = await branches.scratch("Try: migrations!");
    const [create] = calls(stub, "POST", /\/branches$/);
    const body = create?.body as {
      branch: { name: string; parent_id: string; expires_at: string };
    };
    expect(body.branch.name).toMatch(/^scratch-try-migrations-[a-z0-9]+$/);
    expect(body.branch.parent_id).toBe(stub.main().id);
    const expires = Date.parse(body.branch.expires_at);
    expect(expires).toBeGreaterThan(Date.now() + 59 * 60_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 60 * 60_000);
    // Only migrations use it: the direct URI, not the pooler's.
    expect(new URL(scratch.url).hostname).toMatch(/^ep-[a-z0-9-]+\.us-east-2\.aws\.neon\.tech$/);
    await scratch.drop();
    expect(stub.branch(body.branch.name)).toBeUndefined();
    expect(calls(stub, "DELETE", /./)).toHaveLength(1);
  });

  it("settles a race for the same branch: one run creates it, the other reuses it", async () => {
    const stub = await start({ operationPolls: 0 });
    const a = provider(stub).branches;
    const b = provider(stub).branches;
    const [one, two] = await Promise.all([
      a.ensure(previewEnvironment(12)),
      b.ensure(previewEnvironment(12)),
    ]);
    expect([one.created, two.created].sort()).toEqual([false, true]);
    expect(one.url).toBe(two.url);
    expect(stub.state.branches.filter((branch) => branch.name === "pr-12")).toHaveLength(1);
  });

  describe("retries", () => {
    it("retries 429 and honours Retry-After", async () => {
      const stub = await start();
      const { branches, waits, logs } = provider(stub);
      stub.failNext(429, 2, undefined, { "retry-after": "3" });
      const main = await branches.ensureMain();
      expect(main.url).toMatch(/^postgresql:/);
      expect(waits).toEqual([3000, 3000]);
      expect(calls(stub, "GET", /\/branches$/)).toHaveLength(3);
      expect(logs.filter((line) => line.includes("retrying"))).toHaveLength(2);
    });

    it("backs off exponentially with jitter when Neon gives no Retry-After", async () => {
      const stub = await start();
      const { branches, waits } = provider(stub, { retry: { baseDelayMs: 100 } });
      stub.failNext(429, 3);
      await branches.ensureMain();
      expect(waits).toHaveLength(3);
      waits.forEach((ms, i) => {
        const ceiling = 100 * 2 ** i;
        expect(ms).toBeGreaterThanOrEqual(ceiling / 2);
        expect(ms).toBeLessThanOrEqual(ceiling);
      });
    });

    it("gives up after 5 attempts of 500 with a clear message", async () => {
      const stub = await start();
      const { branches, waits } = provider(stub);
      stub.failNext(500, 5);
      const error = await failure(branches.ensure(previewEnvironment(12)));
      expect(error).toMatchObject({ code: "DATABASE_FAILED", kind: "system" });
      expect(error.message).toBe(
        "the Neon API failed while listing branches: 500 internal server error (gave up after 5 attempts)",
      );
      expect(error.hint).toMatch(/neonstatus\.com/);
      expect((error.cause as Error).message).toMatch(/500/);
      expect(stub.requests).toHaveLength(5);
      expect(waits).toHaveLength(4);
      expect(calls(stub, "POST", /./)).toEqual([]);
    });

    it("retries a POST answered with 503, and makes one branch", async () => {
      const stub = await start();
      const { branches, waits } = provider(stub);
      stub.failWhen({ method: "POST", path: /\/branches$/ }, 503, 1);
      const branch = await branches.ensure(previewEnvironment(12));
      expect(branch.created).toBe(true);
      expect(calls(stub, "POST", /\/branches$/)).toHaveLength(2);
      expect(stub.state.branches.filter((b) => b.name === "pr-12")).toHaveLength(1);
      expect(waits.length).toBeGreaterThanOrEqual(1);
    });

    it("retries a reset connection and a timed-out request", async () => {
      const stub = await start();
      const { branches, waits } = provider(stub, { timeoutMs: 300 });
      stub.failNext("reset", 1);
      stub.failNext("hang", 1);
      await branches.ensureMain();
      expect(waits).toHaveLength(2);
      expect(calls(stub, "GET", /\/branches$/)).toHaveLength(3);
    });

    it("retries 423 (an operation still running) and says so when it persists", async () => {
      const stub = await start();
      const { branches } = provider(stub, { retry: { attempts: 2 } });
      stub.failNext(423, 2, { code: "", message: "project already has running operations" });
      const error = await failure(branches.ensureMain());
      expect(error).toMatchObject({ code: "LOCKED", kind: "user" });
      expect(stub.requests).toHaveLength(2);
    });

    it("does not retry other client errors", async () => {
      const stub = await start();
      const { branches } = provider(stub);
      stub.failNext(400, 1, { code: "BAD_REQUEST", message: "nope" });
      const error = await failure(branches.ensureMain());
      expect(error.message).toBe("Neon refused listing branches: 400 BAD_REQUEST nope");
      expect(stub.requests).toHaveLength(1);
    });
  });

  describe("errors the user can fix", () => {
    it("401: NEON_API_KEY was refused, once, without retrying", async () => {
      const stub = await start();
      const { branches } = provider(stub, { apiKey: "napi_wrong_key_0000" });
      const error = await failure(branches.ensure(previewEnvironment(12)));
      expect(error).toMatchObject({ code: "INVALID_ARGUMENT", kind: "user" });
      expect(error.message).toMatch(/^NEON_API_KEY was refused by the Neon API \(401\)/);
      expect(error.hint).toMatch(/API key/);
      expect(shown(error)).not.toContain("napi_wrong_key_0000");
      expect(stub.requests).toHaveLength(1);
    });

    it("403 is a refused key too", async () => {
      const stub = await start();
      const { branches } = provider(stub);
      stub.failNext(403, 1, { code: "", message: "forbidden" });
      const error = await failure(branches.list());
      expect(error.message).toMatch(/^NEON_API_KEY was refused by the Neon API \(403\)/);
    });

    it("404 project: names the project and NEON_PROJECT_ID", async () => {
      const stub = await start();
      const { branches } = provider(stub, { projectId: "no-such-project-1" });
      const error = await failure(branches.ensureMain());
      expect(error).toMatchObject({ code: "NOT_FOUND", kind: "user" });
      expect(error.message).toBe(
        'Neon project "no-such-project-1" not found: check NEON_PROJECT_ID',
      );
      expect(stub.requests).toHaveLength(1);
    });

    it("the branch limit: says so, and how to sweep", async () => {
      const stub = await start();
      stub.setBranchLimit(2);
      const { branches } = provider(stub);
      await branches.ensure(previewEnvironment(1));
      const error = await failure(branches.ensure(previewEnvironment(2)));
      expect(error).toMatchObject({ code: "DATABASE_FAILED", kind: "user" });
      expect(error.message).toMatch(/has reached its branches limit/);
      expect(error.hint).toContain(NEON_SWEEP_COMMAND);
      expect(NEON_SWEEP_COMMAND).toBe("pnpm cleanup --stale --target cloud");
      expect(calls(stub, "POST", /\/branches$/)).toHaveLength(2);
    });

    it("the branch limit as a 400 with only a message", async () => {
      const stub = await start();
      const { branches } = provider(stub);
      stub.failNext(400, 1, { code: "", message: "You have reached the limit of 10 branches." });
      const error = await failure(branches.list());
      expect(error.kind).toBe("user");
      expect(error.hint).toContain(NEON_SWEEP_COMMAND);
    });

    it("a URL for a branch that does not exist", async () => {
      const stub = await start();
      const { branches } = provider(stub);
      const error = await failure(branches.url(previewEnvironment(77)));
      expect(error).toMatchObject({ code: "NOT_FOUND", kind: "user" });
      expect(error.message).toMatch(/no branch "pr-77"/);
    });
  });

  describe("the API key", () => {
    it("is sent as a bearer token on every request, and appears in no error or log", async () => {
      const stub = await start();
      const { branches, logs } = provider(stub);
      await branches.ensure(previewEnvironment(12));
      await branches.ensure(previewEnvironment(12), { reset: true });
      await branches.delete(previewEnvironment(12));
      const errors: PipelineError[] = [];
      stub.failNext(500, 5);
      errors.push(await failure(branches.ensureMain()));
      stub.failNext(429, 5, undefined, { "retry-after": "1" });
      errors.push(await failure(branches.list()));
      stub.failNext(400, 1, { code: "", message: `token ${stub.apiKey} is malformed` });
      errors.push(await failure(branches.list()));
      stub.failNext(422, 1, {
        code: "BRANCHES_LIMIT_EXCEEDED",
        message: `limit for ${stub.apiKey}`,
      });
      errors.push(await failure(branches.ensure(previewEnvironment(13))));
      stub.failNext("reset", 5);
      errors.push(await failure(branches.list()));
      errors.push(await failure(provider(stub, { projectId: "missing-project" }).branches.list()));

      expect(stub.requests.length).toBeGreaterThan(20);
      for (const request of stub.requests) {
        expect(request.headers.authorization).toBe(`Bearer ${stub.apiKey}`);
        expect(redact(request).headers.authorization).toBe("Bearer [REDACTED]");
        expect(JSON.stringify(redact(request))).not.toContain(stub.apiKey);
      }
      for (const error of errors) expect(shown(error)).not.toContain(stub.apiKey);
      expect(errors[2]?.message).toContain("token [REDACTED] is malformed");
      expect(logs.length).toBeGreaterThan(0);
      expect(logs.join("\n")).not.toContain(stub.apiKey);
      expect(inspect(branches, { depth: 10, showHidden: true })).not.toContain(stub.apiKey);
      expect(JSON.stringify(branches)).not.toContain(stub.apiKey);
    });

    it("never logs a connection string", async () => {
      const stub = await start();
      const { branches, logs } = provider(stub);
      await branches.ensure(previewEnvironment(12));
      await branches.scratch("x");
      expect(logs.join("\n")).not.toContain(stub.state.password);
    });
  });

  describe("configuration", () => {
    it("neonFromEnv reads NEON_API_KEY, NEON_PROJECT_ID and NEON_API_HOST", async () => {
      const stub = await start();
      const branches = neonFromEnv({
        NEON_API_KEY: stub.apiKey,
        NEON_PROJECT_ID: stub.projectId,
        NEON_API_HOST: stub.url,
      });
      expect(await branches.list()).toEqual([]);
      expect(stub.requests).toHaveLength(1);
    });

    it.each([
      [{ NEON_PROJECT_ID: "p-1" }, "NEON_API_KEY"],
      [{ NEON_API_KEY: " ", NEON_PROJECT_ID: "p-1" }, "NEON_API_KEY"],
      [{ NEON_API_KEY: "napi_x" }, "NEON_PROJECT_ID"],
    ])("neonFromEnv(%j) names the missing %s", (env, variable) => {
      let error: unknown;
      try {
        neonFromEnv(env);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(PipelineError);
      expect(error).toMatchObject({ code: "INVALID_ARGUMENT", kind: "user" });
      expect((error as PipelineError).message).toMatch(new RegExp(`^${variable} is not set`));
    });

    it("refuses an API host that is not an http(s) URL, or that carries credentials", () => {
      for (const apiHost of [
        "not a url",
        "ftp://example.com/api/v2",
        "https://u:p@example.com/api/v2",
      ]) {
        expect(() => new NeonDatabaseBranches({ apiKey: "k", projectId: "p", apiHost })).toThrow(
          /NEON_API_HOST/,
        );
      }
    });

    it("refuses a TTL beyond Neon's 30 days, and accepts 30", async () => {
      const stub = await start();
      expect(() => provider(stub, { ttlDays: 31 })).toThrow(/at most 30 days/);
      expect(() => provider(stub, { ttlDays: 0 })).toThrow(PipelineError);
      const { branches } = provider(stub, { ttlDays: 30 });
      await expect(branches.ensure(previewEnvironment(12))).resolves.toMatchObject({
        created: true,
      });
      const expires = Date.parse(stub.branch("pr-12")!.expires_at!);
      expect(expires).toBeGreaterThan(Date.now() + 29 * DAY_MS);
    });

    it("uses the configured database and role", async () => {
      const stub = await start({ databaseName: "app", roleName: "app_owner" });
      const { branches } = provider(stub, { databaseName: "app", roleName: "app_owner" });
      const { url } = await branches.ensureMain();
      expect(new URL(url)).toMatchObject({ username: "app_owner", pathname: "/app" });
    });

    it("neonFromEnv takes the database and role from NEON_DATABASE_NAME and NEON_ROLE_NAME", async () => {
      const stub = await start({ databaseName: "app", roleName: "app_owner" });
      const env = {
        NEON_API_KEY: stub.apiKey,
        NEON_PROJECT_ID: stub.projectId,
        NEON_API_HOST: stub.url,
      };
      const configured = neonFromEnv({
        ...env,
        NEON_DATABASE_NAME: "app",
        NEON_ROLE_NAME: "app_owner",
      });
      const { url, directUrl } = await configured.ensureMain();
      expect(new URL(url)).toMatchObject({ username: "app_owner", pathname: "/app" });
      expect(new URL(directUrl)).toMatchObject({ username: "app_owner", pathname: "/app" });
      // Neon's defaults, which this project does not have: the error names the settings.
      const error = await failure(neonFromEnv(env).ensureMain());
      expect(error).toMatchObject({ code: "NOT_FOUND", kind: "user" });
      expect(error.hint).toMatch(/NEON_DATABASE_NAME and NEON_ROLE_NAME/);
    });
  });
});
