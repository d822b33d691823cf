/**
 * A recording stub of the Neon API (v2) on node:http, close enough to the real protocol for
 * `@neondatabase/api-client` to talk to it unchanged: bearer auth, Neon's JSON shapes (branches
 * with `br-` IDs, endpoints, operations, connection URIs with a password), `{code, message}`
 * error bodies, 423 while an operation is still running, and 422 BRANCHES_LIMIT_EXCEEDED
 * when the project is full. It records every request and can be told to fail the next ones.
 *
 * Only what the pipeline uses is modelled; anything else answers 404.
 */
import { stubContract, type ContractViolation } from "./contract";
import { listenOnLoopback } from "./listen";
import { randomBytes, randomInt, randomUUID } from "node:crypto";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import {
  EndpointPoolerMode,
  EndpointState,
  EndpointType,
  OperationAction,
  OperationStatus,
  type Branch,
  type Endpoint,
  type Operation,
} from "@neondatabase/api-client";

// Built by concatenation so that no scanner mistakes the fixture for a real credential.
export const NEON_STUB_API_KEY = "napi_" + "stubkey0123456789abcdef";
export const NEON_STUB_PROJECT_ID = "stub-project-12345678";

const MAX_TTL_MS = 30 * 86_400_000;
const REGION = "aws-us-east-2";
const PROXY_HOST = "us-east-2.aws.neon.tech";

export interface RecordedRequest {
  method: string;
  /** The path below the API base (`/api/v2` stripped), for example `/projects/p/branches`. */
  path: string;
  query: Record<string, string>;
  /** As received, `authorization` included (see `redact`). */
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, or undefined when there was none. */
  body: unknown;
}

export interface NeonStubOptions {
  apiKey?: string;
  projectId?: string;
  defaultBranchName?: string;
  databaseName?: string;
  roleName?: string;
  /** Branches the project may hold, the default branch included (Free plan: 10). */
  branchLimit?: number;
  /** GETs of an operation before it reports `finished` (0: operations finish at once). */
  operationPolls?: number;
  /**
   * Real Postgres behind the branches: each branch's data lives in a database of its own that
   * the hooks copy, drop and re-copy, and connection URIs point at it. Without a backend, the
   * URIs point at made-up Neon hosts that nothing answers.
   */
  backend?: NeonStubBackend;
}

export interface NeonStubBackend {
  /** A branch named `name` was made from `parent`: copy the parent's data. */
  created(name: string, parent: string): Promise<void>;
  deleted(name: string): Promise<void>;
  /** The branch was reset to its parent's data. */
  restored(name: string, parent: string): Promise<void>;
  /**
   * The connection URI of the branch's database, naming `host`: the branch's compute, or its
   * pooler (`ep-…-pooler.…`) when the client asked for a pooled URI.
   */
  uri(name: string, host: string, pooled: boolean): string;
}

export type NeonStubFault = number | "reset" | "hang";

export interface NeonStubState {
  projectId: string;
  databaseName: string;
  roleName: string;
  /** The role's password, as it appears in every connection URI. */
  password: string;
  branchLimit: number;
  branches: Branch[];
  endpoints: Endpoint[];
  operations: Operation[];
}

export interface NeonStub {
  /** The API base URL, `/api/v2` included: pass it as NEON_API_HOST. */
  url: string;
  apiKey: string;
  projectId: string;
  requests: RecordedRequest[];
  /** Requests Neon's API document refuses, and answers it does not document (contract.ts). */
  violations: ContractViolation[];
  state: NeonStubState;
  /** The default branch. */
  main(): Branch;
  /** The branch named `name`, if any. */
  branch(name: string): Branch | undefined;
  /**
   * Makes the next `times` requests fail: with an HTTP `status` (and `body`, `headers`, such
   * as `{"retry-after": "2"}`), by resetting the connection ("reset"), or by never answering
   * ("hang"). Faults queue up in order.
   */
  failNext(
    status: NeonStubFault,
    times?: number,
    body?: unknown,
    headers?: Record<string, string>,
  ): void;
  /**
   * Like `failNext`, but only for requests that match: `failWhen({ method: "PATCH" }, 400)`
   * fails the next PATCH, whatever comes before it.
   */
  failWhen(
    match: { method?: string; path?: RegExp },
    status: NeonStubFault,
    times?: number,
    body?: unknown,
    headers?: Record<string, string>,
  ): void;
  setBranchLimit(limit: number): void;
  close(): Promise<void>;
}

/** A copy of `request` whose Authorization header is masked, safe to print. */
export function redact(request: RecordedRequest): RecordedRequest {
  const headers = { ...request.headers };
  if (headers.authorization !== undefined) {
    headers.authorization = headers.authorization.replace(/^(\S+\s+).*$/, "$1[REDACTED]");
  }
  return { ...request, headers };
}

interface Fault {
  match?: { method?: string; path?: RegExp };
  status: NeonStubFault;
  body?: unknown;
  headers?: Record<string, string>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code = "",
  ) {
    super(message);
  }
}

const ADJECTIVES = ["autumn", "bold", "calm", "damp", "eager", "frosty", "gentle", "hidden"];
const NOUNS = ["band", "cloud", "dawn", "field", "grass", "hill", "lake", "moon"];

function neonId(prefix: "br" | "ep"): string {
  const pick = (list: string[]) => list[randomInt(list.length)];
  return `${prefix}-${pick(ADJECTIVES)}-${pick(NOUNS)}-${randomBytes(4).toString("hex")}`;
}

const now = () => new Date().toISOString();

export async function startNeonStub(options: NeonStubOptions = {}): Promise<NeonStub> {
  const apiKey = options.apiKey ?? NEON_STUB_API_KEY;
  const operationPolls = options.operationPolls ?? 1;
  const state: NeonStubState = {
    projectId: options.projectId ?? NEON_STUB_PROJECT_ID,
    databaseName: options.databaseName ?? "neondb",
    roleName: options.roleName ?? "neondb_owner",
    password: `npg_${randomBytes(8).toString("hex")}`,
    branchLimit: options.branchLimit ?? 10,
    branches: [],
    endpoints: [],
    operations: [],
  };
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const polls = new Map<string, number>();
  // Backend work a request started, awaited before the request is answered.
  const pending: Promise<void>[] = [];
  const backend = options.backend;
  const contract = stubContract("neon");

  function makeBranch(name: string, parent: Branch | undefined, expiresAt?: string): Branch {
    const at = now();
    const branch: Branch = {
      id: neonId("br"),
      project_id: state.projectId,
      ...(parent ? { parent_id: parent.id, parent_lsn: "0/1FA3B28", parent_timestamp: at } : {}),
      name,
      current_state: "ready",
      state_changed_at: at,
      logical_size: 30_000_000,
      creation_source: "console",
      primary: !parent,
      default: !parent,
      protected: false,
      cpu_used_sec: 0,
      compute_time_seconds: 0,
      active_time_seconds: 0,
      written_data_bytes: 0,
      data_transfer_bytes: 0,
      created_at: at,
      updated_at: at,
      ...(expiresAt
        ? {
            expires_at: expiresAt,
            ttl_interval_seconds: Math.round((Date.parse(expiresAt) - Date.now()) / 1000),
          }
        : {}),
      init_source: "parent-data",
    };
    state.branches.push(branch);
    return branch;
  }

  function makeEndpoint(branch: Branch, type: EndpointType): Endpoint {
    const at = now();
    const id = neonId("ep");
    const endpoint: Endpoint = {
      host: `${id}.${PROXY_HOST}`,
      id,
      project_id: state.projectId,
      branch_id: branch.id,
      autoscaling_limit_min_cu: 0.25,
      autoscaling_limit_max_cu: 2,
      region_id: REGION,
      type,
      current_state: EndpointState.Idle,
      settings: {},
      pooler_enabled: false,
      pooler_mode: EndpointPoolerMode.Transaction,
      disabled: false,
      passwordless_access: true,
      creation_source: "console",
      created_at: at,
      updated_at: at,
      proxy_host: PROXY_HOST,
      suspend_timeout_seconds: 0,
      provisioner: "k8s-neonvm",
    };
    state.endpoints.push(endpoint);
    return endpoint;
  }

  function operation(branch: Branch, action: OperationAction, endpoint?: Endpoint): Operation {
    const at = now();
    const op: Operation = {
      id: randomUUID(),
      project_id: state.projectId,
      branch_id: branch.id,
      ...(endpoint ? { endpoint_id: endpoint.id } : {}),
      action,
      status: operationPolls > 0 ? OperationStatus.Running : OperationStatus.Finished,
      failures_count: 0,
      created_at: at,
      updated_at: at,
      total_duration_ms: 0,
    };
    state.operations.push(op);
    return op;
  }

  const main = makeBranch(options.defaultBranchName ?? "main", undefined);
  makeEndpoint(main, EndpointType.ReadWrite);

  const defaultBranch = (): Branch => {
    const branch = state.branches.find((b) => b.default);
    if (!branch) throw new HttpError(500, "the stub project has no default branch");
    return branch;
  };

  const findBranch = (id: string): Branch => {
    const branch = state.branches.find((b) => b.id === id);
    if (!branch) throw new HttpError(404, `branch not found`);
    return branch;
  };

  function refuseWhileBusy(): void {
    if (
      state.operations.some(
        (op) => op.status === OperationStatus.Running || op.status === OperationStatus.Scheduling,
      )
    ) {
      throw new HttpError(
        423,
        "project already has running conflicting operations, scheduling of new ones is prohibited",
      );
    }
  }

  function checkExpiry(value: unknown): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (
      typeof value !== "string" ||
      !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:Z|[+-]\d\d:\d\d)$/.test(value)
    ) {
      throw new HttpError(
        400,
        "expires_at must be an RFC 3339 timestamp with precision up to seconds",
        "BAD_REQUEST",
      );
    }
    const at = Date.parse(value);
    if (at <= Date.now())
      throw new HttpError(400, "expires_at must be in the future", "BAD_REQUEST");
    if (at > Date.now() + MAX_TTL_MS) {
      throw new HttpError(400, "expires_at must be at most 30 days from now", "BAD_REQUEST");
    }
    return value;
  }

  function listBranches(query: Record<string, string>) {
    let branches = [...state.branches];
    const search = query.search;
    if (search) branches = branches.filter((b) => b.name.includes(search) || b.id.includes(search));
    const sortBy = (query.sort_by ?? "updated_at") as "name" | "created_at" | "updated_at";
    const direction = query.sort_order === "asc" ? 1 : -1;
    branches.sort((a, b) =>
      a[sortBy] < b[sortBy] ? -direction : a[sortBy] > b[sortBy] ? direction : 0,
    );
    if (query.limit === undefined) return { branches, annotations: {} };
    const limit = Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new HttpError(400, "limit must be an integer between 1 and 10000", "BAD_REQUEST");
    }
    const offset = query.cursor ? Number(Buffer.from(query.cursor, "base64url").toString()) : 0;
    const page = branches.slice(offset, offset + limit);
    const next = Buffer.from(String(offset + page.length)).toString("base64url");
    return {
      branches: page,
      annotations: {},
      pagination: { next, sort_by: sortBy, sort_order: direction === 1 ? "ASC" : "DESC" },
    };
  }

  function createBranch(body: unknown) {
    const request = (body ?? {}) as {
      branch?: { name?: unknown; parent_id?: unknown; expires_at?: unknown };
      endpoints?: { type?: unknown }[];
    };
    refuseWhileBusy();
    const name = request.branch?.name;
    if (name !== undefined && (typeof name !== "string" || name === "" || name.length > 256)) {
      throw new HttpError(400, "branch name must be 1 to 256 characters", "BAD_REQUEST");
    }
    // Branch names are unique in a project: Neon answers 409 Conflict, "branch already exists"
    // (neonctl's handling of that 409, neondatabase/neon-pkgs#307; the API's message as
    // neonctl prints it, `branch already exists; branch_name:"…"`, in
    // neondatabase/create-branch-action#67). The vendored OpenAPI lists only 201 and `default`
    // for createProjectBranch, and no error code for it, so the body's code is left empty.
    if (typeof name === "string" && state.branches.some((b) => b.name === name)) {
      throw new HttpError(409, `branch already exists; branch_name:${JSON.stringify(name)}`);
    }
    if (state.branches.length >= state.branchLimit) {
      throw new HttpError(
        422,
        `branches limit exceeded: the project can have at most ${state.branchLimit} branches`,
        "BRANCHES_LIMIT_EXCEEDED",
      );
    }
    const parentId = request.branch?.parent_id;
    const parent = parentId === undefined ? defaultBranch() : findBranch(String(parentId));
    const expiresAt = checkExpiry(request.branch?.expires_at);
    const endpoints = request.endpoints ?? [];
    if (endpoints.filter((e) => e.type === EndpointType.ReadWrite).length > 1) {
      throw new HttpError(400, "a branch can have only one read_write endpoint", "BAD_REQUEST");
    }
    const types = endpoints.map((e) => {
      if (e.type === EndpointType.ReadWrite || e.type === EndpointType.ReadOnly) return e.type;
      throw new HttpError(400, `unknown endpoint type "${String(e.type)}"`, "BAD_REQUEST");
    });
    const branch = makeBranch(
      typeof name === "string" ? name : `br-${randomBytes(3).toString("hex")}`,
      parent,
      expiresAt,
    );
    const made = types.map((type) => makeEndpoint(branch, type));
    if (backend) pending.push(backend.created(branch.name, parent.name));
    const operations = [
      operation(branch, OperationAction.CreateBranch),
      ...made.map((endpoint) => operation(branch, OperationAction.StartCompute, endpoint)),
    ];
    const at = branch.created_at;
    return {
      branch,
      endpoints: made,
      operations,
      roles: [
        {
          branch_id: branch.id,
          name: state.roleName,
          protected: false,
          created_at: at,
          updated_at: at,
        },
      ],
      databases: [
        {
          id: 1,
          branch_id: branch.id,
          name: state.databaseName,
          owner_name: state.roleName,
          created_at: at,
          updated_at: at,
        },
      ],
      connection_uris: made
        .filter((e) => e.type === EndpointType.ReadWrite)
        .map((e) => ({
          connection_uri: backend ? backend.uri(branch.name, e.host, false) : uri(e.host),
          connection_parameters: {
            database: state.databaseName,
            password: state.password,
            role: state.roleName,
            host: e.host,
            pooler_host: poolerHost(e.host),
          },
        })),
    };
  }

  function updateBranch(branch: Branch, body: unknown) {
    const request = (body ?? {}) as { branch?: { name?: unknown; expires_at?: unknown } };
    if (!request.branch) throw new HttpError(400, "branch is required", "BAD_REQUEST");
    refuseWhileBusy();
    const expiresAt = checkExpiry(request.branch.expires_at);
    if (expiresAt) {
      branch.expires_at = expiresAt;
      branch.ttl_interval_seconds = Math.round((Date.parse(expiresAt) - Date.now()) / 1000);
    } else if (request.branch.expires_at === null) {
      delete branch.expires_at;
      delete branch.ttl_interval_seconds;
    }
    if (typeof request.branch.name === "string") branch.name = request.branch.name;
    branch.updated_at = now();
    return { branch, operations: [] };
  }

  function deleteBranch(branch: Branch) {
    if (branch.default)
      throw new HttpError(400, "cannot delete the project's default branch", "BAD_REQUEST");
    if (state.branches.some((b) => b.parent_id === branch.id)) {
      throw new HttpError(400, "cannot delete a branch that has children", "BAD_REQUEST");
    }
    refuseWhileBusy();
    const endpoints = state.endpoints.filter((e) => e.branch_id === branch.id);
    const operations = [
      ...endpoints.map((endpoint) => operation(branch, OperationAction.SuspendCompute, endpoint)),
      operation(branch, OperationAction.DeleteTimeline),
    ];
    state.endpoints = state.endpoints.filter((e) => e.branch_id !== branch.id);
    state.branches = state.branches.filter((b) => b.id !== branch.id);
    if (backend) pending.push(backend.deleted(branch.name));
    return { branch, operations };
  }

  function restoreBranch(branch: Branch, body: unknown) {
    const request = (body ?? {}) as {
      source_branch_id?: unknown;
      source_lsn?: unknown;
      source_timestamp?: unknown;
      preserve_under_name?: unknown;
    };
    if (typeof request.source_branch_id !== "string") {
      throw new HttpError(400, "source_branch_id is required", "BAD_REQUEST");
    }
    const source = findBranch(request.source_branch_id);
    if (
      request.source_branch_id === branch.id &&
      !request.source_lsn &&
      !request.source_timestamp
    ) {
      throw new HttpError(
        400,
        "restoring a branch from itself needs source_lsn or source_timestamp",
        "BAD_REQUEST",
      );
    }
    const hasChildren = state.branches.some((b) => b.parent_id === branch.id);
    if (hasChildren && !request.preserve_under_name) {
      throw new HttpError(
        400,
        "the branch has children: preserve_under_name is required",
        "BAD_REQUEST",
      );
    }
    refuseWhileBusy();
    if (backend) pending.push(backend.restored(branch.name, source.name));
    const at = now();
    branch.last_reset_at = at;
    branch.updated_at = at;
    if (branch.ttl_interval_seconds !== undefined) {
      // Neon re-applies the branch's TTL on reset.
      branch.expires_at = new Date(Date.now() + branch.ttl_interval_seconds * 1000)
        .toISOString()
        .replace(/\.\d{3}Z$/, "Z");
    }
    const endpoint = state.endpoints.find(
      (e) => e.branch_id === branch.id && e.type === EndpointType.ReadWrite,
    );
    return {
      branch,
      operations: [
        operation(branch, OperationAction.CreateTimeline),
        ...(endpoint ? [operation(branch, OperationAction.ApplyConfig, endpoint)] : []),
      ],
    };
  }

  // Neon's URIs: `postgresql://<role>:<password>@<endpoint host>/<database>?sslmode=require&channel_binding=require`,
  // the pooled one with `-pooler` after the endpoint ID (getConnectionURI's `pooled`: "Adds the
  // `-pooler` option to the connection URI"; https://neon.com/docs/connect/connection-pooling).
  const poolerHost = (host: string) => host.replace(/^([^.]+)\./, "$1-pooler.");
  const uri = (host: string) =>
    `postgresql://${state.roleName}:${state.password}@${host}/${state.databaseName}?sslmode=require&channel_binding=require`;

  function connectionUri(query: Record<string, string>) {
    if (!query.database_name || !query.role_name) {
      throw new HttpError(400, "database_name and role_name are required", "BAD_REQUEST");
    }
    const branch = query.branch_id ? findBranch(query.branch_id) : defaultBranch();
    const endpoint = state.endpoints.find(
      (e) =>
        e.branch_id === branch.id &&
        (query.endpoint_id ? e.id === query.endpoint_id : e.type === EndpointType.ReadWrite),
    );
    if (!endpoint) throw new HttpError(404, "read_write endpoint not found for the branch");
    if (query.database_name !== state.databaseName) throw new HttpError(404, "database not found");
    if (query.role_name !== state.roleName) throw new HttpError(404, "role not found");
    const pooled = query.pooled === "true";
    const host = pooled ? poolerHost(endpoint.host) : endpoint.host;
    return { uri: backend ? backend.uri(branch.name, host, pooled) : uri(host) };
  }

  function getOperation(id: string) {
    const op = state.operations.find((o) => o.id === id);
    if (!op) throw new HttpError(404, "operation not found");
    const count = (polls.get(id) ?? 0) + 1;
    polls.set(id, count);
    if (op.status === OperationStatus.Running && count >= operationPolls) {
      op.status = OperationStatus.Finished;
      op.updated_at = now();
    }
    return { operation: op };
  }

  function route(
    method: string,
    path: string,
    query: Record<string, string>,
    body: unknown,
  ): [number, unknown] {
    const match = /^\/projects\/([^/]+)(?:\/(.*))?$/.exec(path);
    if (!match) throw new HttpError(404, "not found");
    const [, projectId, rest = ""] = match;
    if (projectId !== state.projectId) throw new HttpError(404, "project not found");
    const parts = rest === "" ? [] : rest.split("/");
    const [resource, id, sub] = parts;
    if (parts.length === 0 && method === "GET") {
      const at = defaultBranch().created_at;
      return [
        200,
        {
          project: neonProject(state.projectId, "codex", at),
        },
      ];
    }
    if (resource === "branches" && parts.length === 1) {
      if (method === "GET") return [200, listBranches(query)];
      if (method === "POST") return [201, createBranch(body)];
    }
    if (resource === "branches" && id && parts.length === 2) {
      const branch = findBranch(id);
      if (method === "GET") return [200, { branch }];
      if (method === "PATCH") return [200, updateBranch(branch, body)];
      if (method === "DELETE") return [200, deleteBranch(branch)];
    }
    if (resource === "branches" && id && parts.length === 3) {
      const branch = findBranch(id);
      if (sub === "restore" && method === "POST") return [200, restoreBranch(branch, body)];
      if (sub === "endpoints" && method === "GET") {
        return [200, { endpoints: state.endpoints.filter((e) => e.branch_id === branch.id) }];
      }
    }
    if (resource === "endpoints" && parts.length === 1 && method === "GET") {
      return [200, { endpoints: state.endpoints }];
    }
    if (resource === "connection_uri" && parts.length === 1 && method === "GET") {
      return [200, connectionUri(query)];
    }
    if (resource === "operations" && id && parts.length === 2 && method === "GET") {
      return [200, getOperation(id)];
    }
    throw new HttpError(404, "not found");
  }

  function send(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  const errorBody = (message: string, code = "") => ({ request_id: randomUUID(), code, message });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://stub.invalid");
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    let body: unknown;
    let badJson = false;
    try {
      body = raw === "" ? undefined : JSON.parse(raw);
    } catch {
      badJson = true;
      body = raw;
    }
    const path = url.pathname.startsWith("/api/v2/") ? url.pathname.slice(7) : url.pathname;
    const method = req.method ?? "GET";
    requests.push({
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      headers: { ...req.headers },
      body,
    });
    const verdict = contract.check(
      {
        method,
        path,
        query: Object.fromEntries(url.searchParams),
        contentType: req.headers["content-type"],
        body: raw,
      },
      res,
    );

    const index = faults.findIndex(
      ({ match }) =>
        !match ||
        ((match.method === undefined || match.method === method) &&
          (match.path === undefined || match.path.test(path))),
    );
    const [fault] = index === -1 ? [] : faults.splice(index, 1);
    if (fault?.status === "reset") {
      req.socket.destroy();
      return;
    }
    if (fault?.status === "hang") return;
    if (fault) {
      const status = fault.status as number;
      const message =
        status === 429
          ? "rate limit exceeded"
          : status >= 500
            ? "internal server error"
            : `HTTP ${status}`;
      send(res, status, fault.body ?? errorBody(message), fault.headers);
      return;
    }

    if (!url.pathname.startsWith("/api/v2/")) return send(res, 404, errorBody("not found"));
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      return send(
        res,
        401,
        errorBody("authentication failed: the API key is invalid or was revoked"),
      );
    }
    if (badJson)
      return send(res, 400, errorBody("the request body is not valid JSON", "BAD_REQUEST"));
    if (verdict.errors.length > 0) {
      // Neon answers a request its API schema refuses with 400 and its general error body
      // (`GeneralError`: code and message) before doing anything.
      return send(
        res,
        400,
        errorBody(`request validation failed: ${verdict.errors.join("; ")}`, "BAD_REQUEST"),
      );
    }
    try {
      const [status, reply] = route(method, path, Object.fromEntries(url.searchParams), body);
      await Promise.all(pending.splice(0));
      send(res, status, reply);
    } catch (error) {
      if (error instanceof HttpError)
        return send(res, error.status, errorBody(error.message, error.code));
      send(res, 500, errorBody(`stub failure: ${(error as Error).message}`));
    }
  }

  function addFaults(
    match: Fault["match"],
    status: NeonStubFault,
    times: number,
    body: unknown,
    headers: Record<string, string> | undefined,
  ): void {
    for (let i = 0; i < times; i++) {
      faults.push({
        ...(match ? { match } : {}),
        status,
        ...(body === undefined ? {} : { body }),
        ...(headers ? { headers } : {}),
      });
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, errorBody(`stub failure: ${String(error)}`));
    });
  });
  const listening = await listenOnLoopback(server);
  const { port } = listening;

  return {
    url: `http://127.0.0.1:${port}/api/v2`,
    apiKey,
    projectId: state.projectId,
    requests,
    violations: contract.violations,
    state,
    main: () => defaultBranch(),
    branch: (name) => state.branches.find((b) => b.name === name),
    failNext(status, times = 1, body, headers) {
      addFaults(undefined, status, times, body, headers);
    },
    failWhen(match, status, times = 1, body, headers) {
      addFaults(match, status, times, body, headers);
    },
    setBranchLimit(limit) {
      state.branchLimit = limit;
    },
    close: listening.close,
  };
}

/**
 * A project as Neon's getProject answers it: every field its Project schema requires
 * (https://api-docs.neon.tech/reference/getproject), with a fresh project's values.
 */
export function neonProject(id: string, name: string, at: string): Record<string, unknown> {
  return {
    id,
    platform_id: "aws",
    region_id: REGION,
    name,
    provisioner: "k8s-neonvm",
    pg_version: 17,
    proxy_host: `${REGION.replace(/^aws-/, "")}.aws.neon.tech`,
    branch_logical_size_limit: 512,
    branch_logical_size_limit_bytes: 536870912,
    store_passwords: true,
    cpu_used_sec: 0,
    active_time_seconds: 0,
    compute_time_seconds: 0,
    written_data_bytes: 0,
    data_transfer_bytes: 0,
    data_storage_bytes_hour: 0,
    consumption_period_start: at,
    consumption_period_end: "0001-01-01T00:00:00Z",
    creation_source: "console",
    history_retention_seconds: 86400,
    owner_id: "stub-owner",
    created_at: at,
    updated_at: at,
  };
}
