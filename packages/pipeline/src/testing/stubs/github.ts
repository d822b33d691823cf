/**
 * A recording stub of the part of GitHub's REST API that the review channel uses: listing,
 * creating and editing issue (pull request) comments. It runs on node:http at 127.0.0.1 on a free
 * port, so Octokit talks to it over real HTTP exactly as it would to api.github.com.
 *
 * It also answers "Get a pull request" (GET /repos/{owner}/{repo}/pulls/{pull_number},
 * https://docs.github.com/rest/pulls/pulls#get-a-pull-request) for the pull requests a test
 * seeds, with their `state` ("open" or "closed"), and 404 for any other number, as GitHub does
 * for a pull request that was deleted or never existed.
 *
 * It follows the real API where a client could notice: token auth with GitHub's JSON errors,
 * `per_page`/`page` pagination with a `Link` header whose URLs use `/repositories/{id}/...` (as
 * GitHub's do, so a client must follow them rather than rebuild them), global comment ids, the
 * 65,536-character body limit, and the response fields a client reads.
 *
 * It also keeps commit statuses (https://docs.github.com/en/rest/commits/statuses): create one
 * (`state` error|failure|pending|success, `context` "default" when absent, `description` at most
 * 140 characters) and get a ref's combined status (the latest status per context, and the
 * combined state); and answers "Get repository permissions for a user"
 * (https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user)
 * from permissions a test sets, mapping roles onto the legacy `permission` as documented
 * (maintain → write, triage → read).
 *
 * It also keeps Deployments and their statuses (https://docs.github.com/en/rest/deployments/deployments,
 * https://docs.github.com/en/rest/deployments/statuses): create, list (filtered, newest first),
 * and statuses, with the documented answers a client must be ready for (see `createDeployment`).
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { stubContract, type ContractViolation } from "./contract";

/** The token the stub accepts unless told otherwise. Built by concatenation: not a real token. */
export const STUB_TOKEN = "ghs_" + "StubInstallationToken0123456789abcd";

/** GitHub's limit on a comment body, in characters. */
export const BODY_MAX = 65_536;

export interface RecordedRequest {
  method: string;
  /** The path without the query string, e.g. "/repos/acme/app/issues/7/comments". */
  path: string;
  query: Record<string, string>;
  /** Lower-case names, as node:http gives them. */
  headers: Record<string, string>;
  /** The parsed JSON body, or the raw text when it is not JSON; undefined when empty. */
  body: unknown;
}

export interface StubUser {
  login: string;
  id: number;
  type: "User" | "Bot";
}

export interface StubComment {
  id: number;
  node_id: string;
  url: string;
  html_url: string;
  issue_url: string;
  body: string;
  user: StubUser;
  created_at: string;
  updated_at: string;
  author_association: string;
}

export interface StubDeploymentStatus {
  id: number;
  node_id: string;
  url: string;
  state: DeploymentState;
  creator: StubUser;
  description: string;
  environment: string;
  target_url: string;
  log_url: string;
  environment_url: string;
  created_at: string;
  updated_at: string;
  deployment_url: string;
  repository_url: string;
}

export interface StubDeployment {
  id: number;
  node_id: string;
  url: string;
  sha: string;
  ref: string;
  task: string;
  payload: unknown;
  original_environment: string;
  environment: string;
  description: string | null;
  creator: StubUser;
  created_at: string;
  updated_at: string;
  statuses_url: string;
  repository_url: string;
  transient_environment: boolean;
  production_environment: boolean;
}

/** A commit status, as "Create a commit status" answers it. */
export interface StubCommitStatus {
  url: string;
  avatar_url: string | null;
  id: number;
  node_id: string;
  state: CommitState;
  description: string | null;
  target_url: string | null;
  context: string;
  created_at: string;
  updated_at: string;
  creator: ReturnType<typeof simpleUser>;
}

/** The states of a commit status (https://docs.github.com/en/rest/commits/statuses#create-a-commit-status). */
export const COMMIT_STATES = ["error", "failure", "pending", "success"] as const;
export type CommitState = (typeof COMMIT_STATES)[number];

/** A collaborator's role, the `role_name` of "Get repository permissions for a user". */
export type CollaboratorRole = "admin" | "maintain" | "write" | "triage" | "read";

/** The states a deployment status can have, per the REST reference. */
export const DEPLOYMENT_STATES = [
  "error",
  "failure",
  "inactive",
  "in_progress",
  "queued",
  "pending",
  "success",
] as const;
export type DeploymentState = (typeof DEPLOYMENT_STATES)[number];

export interface GitHubStub {
  /** The API base URL, e.g. "http://127.0.0.1:40123"; give it to Octokit as `baseUrl`. */
  url: string;
  /** The token the stub accepts, as `authorization: token X` or `Bearer X`. */
  token: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Requests GitHub's API document refuses, and answers it does not document (contract.ts). */
  violations: ContractViolation[];
  /** A copy of the comments of `repo` ("owner/name") on issue `issue`, oldest first. */
  comments(repo: string, issue: number): StubComment[];
  /**
   * From now on, answer with `status` and GitHub's JSON for it (401 "Bad credentials", 403
   * "Resource not accessible by integration", 404 "Not Found", 5xx...). `methods` limits it to
   * those methods (e.g. ["POST", "PATCH"]: a read-only token). `null` restores normal service.
   */
  forbid(status: number | null, methods?: readonly string[]): void;
  /**
   * Adds comments to `repo`'s issue `issue`, oldest first, and returns them: by a person
   * ({@link PERSON}, "octocat") unless `author` says otherwise (e.g. {@link ACTIONS_BOT}, as an
   * earlier run's comment).
   */
  seedComments(
    repo: string,
    issue: number,
    bodies: readonly string[],
    author?: StubUser,
  ): StubComment[];
  /** Removes a comment, as if someone deleted it. */
  deleteComment(id: number): void;
  /** `repo`'s deployments, oldest first, each with its statuses (oldest first). */
  deployments(repo: string): (StubDeployment & { statuses: StubDeploymentStatus[] })[];
  /**
   * Makes pull request `pr` of `repo` exist with `state`, or (null) vanish: then GET answers 404.
   * `head` is its head commit's SHA (a new push); a fixed SHA per pull request by default.
   */
  setPullRequest(repo: string, pr: number, state: "open" | "closed" | null, head?: string): void;
  /** The commit statuses of `sha` in `repo`, oldest first. */
  commitStatuses(repo: string, sha: string): StubCommitStatus[];
  /** Gives `login` a role on `repo` (admin, maintain, write, triage, read); others have none. */
  setPermission(repo: string, login: string, role: CollaboratorRole): void;
  close(): Promise<void>;
}

const DOCS = "https://docs.github.com/rest";
/**
 * Who a comment made with the stub's token is by: a workflow's GITHUB_TOKEN comments as the
 * GitHub Actions app's bot, whose `user.type` is "Bot"
 * (https://docs.github.com/en/rest/issues/comments#create-an-issue-comment, `user`).
 */
export const ACTIONS_BOT: StubUser = { login: "github-actions[bot]", id: 41898282, type: "Bot" };
/** A person: `user.type` "User". */
export const PERSON: StubUser = { login: "octocat", id: 583231, type: "User" };
const BOT = ACTIONS_BOT;
const OCTOCAT = PERSON;

const ERROR_MESSAGES: Record<number, string> = {
  401: "Bad credentials",
  403: "Resource not accessible by integration",
  404: "Not Found",
  500: "Internal Server Error",
  502: "Server Error",
  503: "Service Unavailable",
};

interface StoredComment extends StubComment {
  repo: string;
  issue: number;
}

interface StoredDeployment extends StubDeployment {
  repo: string;
  statuses: StubDeploymentStatus[];
}

/** GitHub's limit on a deployment's or a deployment status's description, in characters. */
export const DEPLOYMENT_DESCRIPTION_MAX = 140;

export async function startGitHubStub(options: { token?: string } = {}): Promise<GitHubStub> {
  const token = options.token ?? STUB_TOKEN;
  const requests: RecordedRequest[] = [];
  const comments: StoredComment[] = [];
  const deployments: StoredDeployment[] = [];
  let nextDeploymentId = 2_000_001;
  const repositoryIds = new Map<string, number>();
  /** Pull request states by "owner/name#number" (lower case). */
  const pulls = new Map<
    string,
    { state: "open" | "closed"; created_at: string; updated_at: string; head?: string }
  >();
  /** Commit statuses by "owner/name@sha" (lower case), oldest first. */
  const commitStatuses = new Map<string, StubCommitStatus[]>();
  /** Roles by "owner/name:login" (lower case). */
  const roles = new Map<string, CollaboratorRole>();
  let nextCommentId = 1_000_001;
  // A fixed clock that ticks a second per change: deterministic, and created_at orders comments.
  let clock = Date.parse("2025-05-01T12:00:00Z");
  let failure: { status: number; methods: ReadonlySet<string> | null } | null = null;
  let url = "";
  const contract = stubContract("github");

  const now = () => new Date((clock += 1000)).toISOString().replace(/\.\d{3}Z$/, "Z");

  const repositoryId = (repo: string) => {
    let id = repositoryIds.get(repo.toLowerCase());
    if (id === undefined) {
      id = 100_000 + repositoryIds.size;
      repositoryIds.set(repo.toLowerCase(), id);
    }
    return id;
  };

  const addComment = (repo: string, issue: number, body: string, user: StubUser) => {
    const id = nextCommentId++;
    const time = now();
    const stored: StoredComment = {
      repo,
      issue,
      id,
      node_id: `IC_kwDO${Buffer.from(String(id)).toString("base64url")}`,
      url: `${url}/repos/${repo}/issues/comments/${id}`,
      html_url: `https://github.com/${repo}/pull/${issue}#issuecomment-${id}`,
      issue_url: `${url}/repos/${repo}/issues/${issue}`,
      body,
      user: { ...user },
      created_at: time,
      updated_at: time,
      author_association: user.type === "Bot" ? "NONE" : "MEMBER",
    };
    comments.push(stored);
    return stored;
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      send(res, 500, { message: `stub error: ${String(error)}`, documentation_url: DOCS });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parsed = new URL(req.url ?? "/", "http://stub");
    const text = await readBody(req);
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([name, value]) => [
        name,
        Array.isArray(value) ? value.join(", ") : (value ?? ""),
      ]),
    );
    let body: unknown;
    if (text !== "") {
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        body = text;
      }
    }
    const method = req.method ?? "GET";
    requests.push({
      method,
      path: parsed.pathname,
      query: Object.fromEntries(parsed.searchParams),
      headers,
      body,
    });
    const verdict = contract.check(
      {
        method,
        path: parsed.pathname,
        query: Object.fromEntries(parsed.searchParams),
        contentType: headers["content-type"],
        body: text,
      },
      res,
    );

    const presented = /^(?:token|bearer)\s+(\S+)$/i.exec(headers.authorization ?? "")?.[1];
    if (presented === undefined) {
      return send(res, 401, { message: "Requires authentication", documentation_url: DOCS });
    }
    if (presented !== token) return sendError(res, 401);
    if (failure && (failure.methods === null || failure.methods.has(method))) {
      return sendError(res, failure.status);
    }

    if (verdict.errors.length > 0) {
      // GitHub answers a body it cannot parse with 400, one that breaks the operation's schema
      // with 422 (https://docs.github.com/rest/using-the-rest-api/troubleshooting-the-rest-api).
      const unparsable = verdict.errors.includes("the body is not valid JSON");
      return send(res, unparsable ? 400 : 422, {
        message: unparsable
          ? "Problems parsing JSON"
          : `Invalid request.\n\n${verdict.errors.join("\n")}`,
        documentation_url: DOCS,
        status: unparsable ? "400" : "422",
      });
    }
    const route = resolveRoute(parsed.pathname);
    if (!route) return sendError(res, 404);

    if (route.kind === "issue-comments" && method === "GET") {
      const perPage = clampInt(parsed.searchParams.get("per_page"), 30, 1, 100);
      const page = clampInt(parsed.searchParams.get("page"), 1, 1, Number.MAX_SAFE_INTEGER);
      const all = comments.filter((c) => sameRepo(c.repo, route.repo) && c.issue === route.issue);
      const lastPage = Math.max(1, Math.ceil(all.length / perPage));
      const link = linkHeader(route.repo, route.issue, perPage, page, lastPage);
      return send(
        res,
        200,
        all.slice((page - 1) * perPage, page * perPage).map(publicComment),
        link ? { link } : {},
      );
    }
    if (route.kind === "issue-comments" && method === "POST") {
      const commentBody = validBody(res, body);
      if (commentBody === undefined) return;
      const created = addComment(route.repo, route.issue, commentBody, BOT);
      return send(res, 201, publicComment(created), { location: created.url });
    }
    if (route.kind === "pull" && method === "GET") {
      const pull = pulls.get(`${route.repo.toLowerCase()}#${route.pr}`);
      if (!pull) return sendError(res, 404);
      return send(res, 200, pullRequest(url, route.repo, repositoryId(route.repo), route.pr, pull));
    }
    if (route.kind === "comment" && method === "PATCH") {
      const comment = comments.find((c) => c.id === route.id && sameRepo(c.repo, route.repo));
      if (!comment) return sendError(res, 404);
      const commentBody = validBody(res, body);
      if (commentBody === undefined) return;
      comment.body = commentBody;
      comment.updated_at = now();
      return send(res, 200, publicComment(comment));
    }
    if (route.kind === "commit-statuses" && method === "POST") {
      return createCommitStatus(res, route.repo, route.sha, body);
    }
    if (route.kind === "combined-status" && method === "GET") {
      return send(res, 200, combinedStatus(route.repo, route.ref));
    }
    if (route.kind === "permission" && method === "GET") {
      const role = roles.get(`${route.repo.toLowerCase()}:${route.login.toLowerCase()}`);
      // The legacy `permission` GitHub derives from the role, as documented.
      const legacy = {
        admin: "admin",
        maintain: "write",
        write: "write",
        triage: "read",
        read: "read",
      };
      const user = collaborator(route.login, role ?? "read");
      return send(res, 200, {
        permission: role ? legacy[role] : "none",
        role_name: role ?? "none",
        user,
      });
    }
    if (route.kind === "deployments" && method === "POST") {
      return createDeployment(res, route.repo, body);
    }
    if (route.kind === "deployments" && method === "GET") {
      // Filters as documented: sha, ref, task, environment; newest first.
      const filters = ["sha", "ref", "task", "environment"] as const;
      const all = deployments
        .filter((d) => sameRepo(d.repo, route.repo))
        .filter((d) =>
          filters.every((key) => {
            const wanted = parsed.searchParams.get(key);
            return wanted === null || wanted === "none" || d[key] === wanted;
          }),
        )
        .reverse();
      return sendPage(res, parsed, route.repo, "/deployments", all.map(publicDeployment));
    }
    if (route.kind === "deployment-statuses") {
      const deployment = deployments.find((d) => d.id === route.id && sameRepo(d.repo, route.repo));
      if (!deployment) return sendError(res, 404);
      if (method === "GET") {
        const path = `/deployments/${deployment.id}/statuses`;
        return sendPage(res, parsed, route.repo, path, [...deployment.statuses].reverse());
      }
      if (method === "POST") return createDeploymentStatus(res, deployment, body);
    }
    return sendError(res, 404);
  }

  /**
   * POST /repos/{o}/{r}/deployments, as documented
   * (https://docs.github.com/en/rest/deployments/deployments#create-a-deployment):
   * - `ref` is required (422 without it);
   * - `auto_merge` defaults to true: GitHub first merges the default branch into `ref` and, when
   *   it did, answers 202 "Auto-merged ..." with no deployment. A pull request's branch is
   *   usually behind, so the stub always does: a client must send `auto_merge: false`;
   * - `required_contexts` defaults to every status context of the ref, and GitHub answers 409
   *   "Conflict: Commit status checks failed" when one is not successful. The job that deploys is
   *   itself a check still in progress, so the stub answers 409 unless it is `[]`;
   * - `description` at most 140 characters; `environment` defaults to "production",
   *   `transient_environment` to false, `production_environment` to whether it is "production".
   */
  function createDeployment(res: ServerResponse, repo: string, body: unknown): void {
    const input = (body ?? {}) as Record<string, unknown>;
    const docs = `${DOCS}/deployments/deployments#create-a-deployment`;
    const invalid = (message: string) =>
      send(res, 422, { message, documentation_url: docs, status: "422" });
    if (typeof input.ref !== "string" || input.ref.trim() === "") {
      return invalid("Invalid request.\n\nFor 'properties/ref', nil is not a string.");
    }
    const ref = input.ref;
    const environment = input.environment ?? "production";
    if (typeof environment !== "string" || environment === "") {
      return invalid("Invalid request.\n\nFor 'properties/environment', it is not a string.");
    }
    const description = input.description ?? null;
    if (description !== null && typeof description !== "string") {
      return invalid("Invalid request.\n\nFor 'properties/description', it is not a string.");
    }
    if (typeof description === "string" && description.length > DEPLOYMENT_DESCRIPTION_MAX) {
      return invalid(
        `description is too long (maximum is ${DEPLOYMENT_DESCRIPTION_MAX} characters)`,
      );
    }
    if (input.auto_merge !== false) {
      return send(res, 202, { message: `Auto-merged main into ${ref} on deployment.` });
    }
    if (!Array.isArray(input.required_contexts) || input.required_contexts.length > 0) {
      return send(res, 409, {
        message: `Conflict: Commit status checks failed for ${ref}.`,
        documentation_url: docs,
        status: "409",
      });
    }
    const id = nextDeploymentId++;
    const time = now();
    const apiUrl = `${url}/repos/${repo}/deployments/${id}`;
    const stored: StoredDeployment = {
      repo,
      statuses: [],
      id,
      node_id: `DE_kwDO${Buffer.from(String(id)).toString("base64url")}`,
      url: apiUrl,
      sha: /^[0-9a-f]{40}$/i.test(ref)
        ? ref.toLowerCase()
        : createHash("sha1").update(ref).digest("hex"),
      ref,
      task: typeof input.task === "string" ? input.task : "deploy",
      payload: input.payload ?? {},
      original_environment: environment,
      environment,
      description,
      creator: simpleUser(BOT),
      created_at: time,
      updated_at: time,
      statuses_url: `${apiUrl}/statuses`,
      repository_url: `${url}/repos/${repo}`,
      transient_environment: input.transient_environment === true,
      production_environment:
        typeof input.production_environment === "boolean"
          ? input.production_environment
          : environment === "production",
    };
    deployments.push(stored);
    return send(res, 201, publicDeployment(stored), { location: apiUrl });
  }

  /**
   * POST .../deployments/{id}/statuses, as documented
   * (https://docs.github.com/en/rest/deployments/statuses#create-a-deployment-status): `state` one
   * of {@link DEPLOYMENT_STATES} (422 otherwise), `description` at most 140 characters, and
   * `auto_inactive` (default true): a `success` adds an `inactive` status to the prior
   * non-transient, non-production deployments of the same environment whose state was success.
   */
  function createDeploymentStatus(
    res: ServerResponse,
    deployment: StoredDeployment,
    body: unknown,
  ): void {
    const input = (body ?? {}) as Record<string, unknown>;
    const docs = `${DOCS}/deployments/statuses#create-a-deployment-status`;
    const invalid = (message: string) =>
      send(res, 422, { message, documentation_url: docs, status: "422" });
    const state = input.state;
    if (typeof state !== "string" || !(DEPLOYMENT_STATES as readonly string[]).includes(state)) {
      return invalid(
        `Invalid request.\n\nFor 'properties/state', ${JSON.stringify(state ?? null)} is not one of ${DEPLOYMENT_STATES.join(", ")}.`,
      );
    }
    for (const key of ["description", "environment_url", "log_url", "target_url", "environment"]) {
      if (input[key] !== undefined && typeof input[key] !== "string") {
        return invalid(`Invalid request.\n\nFor 'properties/${key}', it is not a string.`);
      }
    }
    const description = (input.description as string | undefined) ?? "";
    if (description.length > DEPLOYMENT_DESCRIPTION_MAX) {
      return invalid(
        `description is too long (maximum is ${DEPLOYMENT_DESCRIPTION_MAX} characters)`,
      );
    }
    if (typeof input.environment === "string") deployment.environment = input.environment;
    const status = addStatus(deployment, state as DeploymentState, {
      description,
      log_url:
        (input.log_url as string | undefined) ?? (input.target_url as string | undefined) ?? "",
      environment_url: (input.environment_url as string | undefined) ?? "",
    });
    if (state === "success" && input.auto_inactive !== false) {
      for (const other of deployments) {
        if (other === deployment || !sameRepo(other.repo, deployment.repo)) continue;
        if (other.environment !== deployment.environment) continue;
        if (other.transient_environment || other.production_environment) continue;
        if (other.statuses.at(-1)?.state === "success") addStatus(other, "inactive", {});
      }
    }
    return send(res, 201, status, { location: status.url });
  }

  function addStatus(
    deployment: StoredDeployment,
    state: DeploymentState,
    fields: { description?: string; log_url?: string; environment_url?: string },
  ): StubDeploymentStatus {
    const id = nextDeploymentId++;
    const time = now();
    const status: StubDeploymentStatus = {
      id,
      node_id: `DES_kwDO${Buffer.from(String(id)).toString("base64url")}`,
      url: `${deployment.url}/statuses/${id}`,
      state,
      creator: simpleUser(BOT),
      description: fields.description ?? "",
      environment: deployment.environment,
      target_url: fields.log_url ?? "",
      log_url: fields.log_url ?? "",
      environment_url: fields.environment_url ?? "",
      created_at: time,
      updated_at: time,
      deployment_url: deployment.url,
      repository_url: deployment.repository_url,
    };
    deployment.statuses.push(status);
    deployment.updated_at = time;
    return status;
  }

  /**
   * POST /repos/{o}/{r}/statuses/{sha}, as documented
   * (https://docs.github.com/en/rest/commits/statuses#create-a-commit-status): `state` is one of
   * {@link COMMIT_STATES} (422 otherwise), `context` defaults to "default", `target_url` and
   * `description` are optional; GitHub refuses a description over 140 characters (422, as for
   * deployment statuses). The SHA must name a commit: the stub takes any 40 hex digits.
   */
  function createCommitStatus(res: ServerResponse, repo: string, sha: string, body: unknown) {
    const input = (body ?? {}) as Record<string, unknown>;
    const docs = `${DOCS}/commits/statuses#create-a-commit-status`;
    const invalid = (message: string) =>
      send(res, 422, { message, documentation_url: docs, status: "422" });
    if (!/^[0-9a-f]{40}$/i.test(sha)) return invalid(`No commit found for SHA: ${sha}`);
    const state = input.state;
    if (typeof state !== "string" || !(COMMIT_STATES as readonly string[]).includes(state)) {
      return invalid(
        `Invalid request.\n\nFor 'properties/state', ${JSON.stringify(state ?? null)} is not one of ${COMMIT_STATES.join(", ")}.`,
      );
    }
    const description = typeof input.description === "string" ? input.description : null;
    if (description !== null && description.length > DEPLOYMENT_DESCRIPTION_MAX) {
      return invalid(
        `description is too long (maximum is ${DEPLOYMENT_DESCRIPTION_MAX} characters)`,
      );
    }
    const id = nextDeploymentId++;
    const time = now();
    const status: StubCommitStatus = {
      url: `${url}/repos/${repo}/statuses/${sha.toLowerCase()}`,
      avatar_url: "https://avatars.githubusercontent.com/in/15368?v=4",
      id,
      node_id: `SC_kwDO${Buffer.from(String(id)).toString("base64url")}`,
      state: state as CommitState,
      description,
      target_url: typeof input.target_url === "string" ? input.target_url : null,
      context: typeof input.context === "string" && input.context ? input.context : "default",
      created_at: time,
      updated_at: time,
      creator: simpleUser(BOT),
    };
    const key = `${repo.toLowerCase()}@${sha.toLowerCase()}`;
    commitStatuses.set(key, [...(commitStatuses.get(key) ?? []), status]);
    return send(res, 201, status, { location: status.url });
  }

  /**
   * GET /repos/{o}/{r}/commits/{ref}/status, as documented
   * (https://docs.github.com/en/rest/commits/statuses#get-the-combined-status-for-a-specific-reference):
   * the latest status of each context, and `state` failure if any is error or failure, pending
   * if there are none or any is pending, success otherwise. `ref` here is a SHA.
   */
  function combinedStatus(repo: string, ref: string) {
    const all = commitStatuses.get(`${repo.toLowerCase()}@${ref.toLowerCase()}`) ?? [];
    const latest = new Map<string, StubCommitStatus>();
    for (const status of all) latest.set(status.context, status);
    const statuses = [...latest.values()].map(({ creator: _creator, ...rest }) => ({
      ...rest,
      description: rest.description,
      target_url: rest.target_url,
    }));
    const states = statuses.map((s) => s.state);
    const state = states.some((s) => s === "error" || s === "failure")
      ? "failure"
      : states.length === 0 || states.includes("pending")
        ? "pending"
        : "success";
    return {
      state,
      statuses,
      sha: ref.toLowerCase(),
      total_count: statuses.length,
      repository: repositoryObject(url, repo, repositoryId(repo)),
      commit_url: `${url}/repos/${repo}/commits/${ref}`,
      url: `${url}/repos/${repo}/commits/${ref}/status`,
    };
  }

  /** One page of `items` as `per_page`/`page` ask, with GitHub's Link header. */
  function sendPage(
    res: ServerResponse,
    parsed: URL,
    repo: string,
    path: string,
    items: unknown[],
  ): void {
    const perPage = clampInt(parsed.searchParams.get("per_page"), 30, 1, 100);
    const page = clampInt(parsed.searchParams.get("page"), 1, 1, Number.MAX_SAFE_INTEGER);
    const lastPage = Math.max(1, Math.ceil(items.length / perPage));
    const rest = [...parsed.searchParams].filter(([key]) => key !== "per_page" && key !== "page");
    const at = (n: number) => {
      const query = new URLSearchParams([
        ...rest,
        ["per_page", String(perPage)],
        ["page", String(n)],
      ]);
      return `<${url}/repositories/${repositoryId(repo)}${path}?${query}>`;
    };
    const links: string[] = [];
    if (page > 1) links.push(`${at(page - 1)}; rel="prev"`);
    if (page < lastPage) links.push(`${at(page + 1)}; rel="next"`, `${at(lastPage)}; rel="last"`);
    if (page > 1) links.push(`${at(1)}; rel="first"`);
    const slice = items.slice((page - 1) * perPage, page * perPage);
    return send(res, 200, slice, links.length ? { link: links.join(", ") } : {});
  }

  /** `/repos/{o}/{r}/...` and the `/repositories/{id}/...` form used in Link headers. */
  function resolveRoute(
    path: string,
  ):
    | { kind: "issue-comments"; repo: string; issue: number }
    | { kind: "comment"; repo: string; id: number }
    | { kind: "deployments"; repo: string }
    | { kind: "deployment-statuses"; repo: string; id: number }
    | { kind: "pull"; repo: string; pr: number }
    | { kind: "commit-statuses"; repo: string; sha: string }
    | { kind: "combined-status"; repo: string; ref: string }
    | { kind: "permission"; repo: string; login: string }
    | null {
    let repo: string | undefined;
    let rest: string;
    const named = /^\/repos\/([^/]+)\/([^/]+)(\/.*)$/.exec(path);
    const numbered = /^\/repositories\/(\d+)(\/.*)$/.exec(path);
    if (named) {
      const [, owner = "", name = "", tail = ""] = named;
      repo = `${decodeURIComponent(owner)}/${decodeURIComponent(name)}`;
      rest = tail;
    } else if (numbered) {
      const [, id = "", tail = ""] = numbered;
      repo = [...repositoryIds].find(([, value]) => value === Number(id))?.[0];
      rest = tail;
    } else {
      return null;
    }
    if (repo === undefined) return null;
    const issueComments = /^\/issues\/([1-9]\d*)\/comments\/?$/.exec(rest);
    if (issueComments) return { kind: "issue-comments", repo, issue: Number(issueComments[1]) };
    const comment = /^\/issues\/comments\/([1-9]\d*)\/?$/.exec(rest);
    if (comment) return { kind: "comment", repo, id: Number(comment[1]) };
    if (/^\/deployments\/?$/.test(rest)) return { kind: "deployments", repo };
    const statuses = /^\/deployments\/([1-9]\d*)\/statuses\/?$/.exec(rest);
    if (statuses) return { kind: "deployment-statuses", repo, id: Number(statuses[1]) };
    const pull = /^\/pulls\/([1-9]\d*)\/?$/.exec(rest);
    if (pull) return { kind: "pull", repo, pr: Number(pull[1]) };
    const statusOf = /^\/statuses\/([^/]+)\/?$/.exec(rest);
    if (statusOf)
      return { kind: "commit-statuses", repo, sha: decodeURIComponent(statusOf[1] ?? "") };
    const combined = /^\/commits\/([^/]+)\/status\/?$/.exec(rest);
    if (combined)
      return { kind: "combined-status", repo, ref: decodeURIComponent(combined[1] ?? "") };
    const permission = /^\/collaborators\/([^/]+)\/permission\/?$/.exec(rest);
    if (permission) {
      return { kind: "permission", repo, login: decodeURIComponent(permission[1] ?? "") };
    }
    return null;
  }

  function linkHeader(
    repo: string,
    issue: number,
    perPage: number,
    page: number,
    lastPage: number,
  ): string | null {
    const at = (n: number) =>
      `<${url}/repositories/${repositoryId(repo)}/issues/${issue}/comments?per_page=${perPage}&page=${n}>`;
    const links: string[] = [];
    if (page > 1) links.push(`${at(page - 1)}; rel="prev"`);
    if (page < lastPage) links.push(`${at(page + 1)}; rel="next"`, `${at(lastPage)}; rel="last"`);
    if (page > 1) links.push(`${at(1)}; rel="first"`);
    return links.length > 0 ? links.join(", ") : null;
  }

  function validBody(res: ServerResponse, body: unknown): string | undefined {
    const value = (body as { body?: unknown } | undefined)?.body;
    if (typeof value !== "string") {
      send(res, 422, {
        message: "Invalid request.\n\nFor 'properties/body', nil is not a string.",
        documentation_url: `${DOCS}/issues/comments#create-an-issue-comment`,
        status: "422",
      });
      return undefined;
    }
    if (value.length > BODY_MAX) {
      send(res, 422, {
        message: "Validation Failed",
        errors: [
          {
            resource: "IssueComment",
            code: "custom",
            field: "body",
            message: `body is too long (maximum is ${BODY_MAX} characters)`,
          },
        ],
        documentation_url: `${DOCS}/issues/comments#create-an-issue-comment`,
        status: "422",
      });
      return undefined;
    }
    return value;
  }

  function sendError(res: ServerResponse, status: number): void {
    send(res, status, {
      message: ERROR_MESSAGES[status] ?? "Error",
      documentation_url: DOCS,
      status: String(status),
    });
  }

  function send(
    res: ServerResponse,
    status: number,
    json: unknown,
    extra: Record<string, string> = {},
  ): void {
    const text = JSON.stringify(json);
    res.writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(text),
      "x-github-api-version-selected": "2022-11-28",
      "x-github-request-id": `STUB:${requests.length}`,
      "x-ratelimit-limit": "5000",
      "x-ratelimit-remaining": "4999",
      "x-ratelimit-resource": "core",
      ...extra,
    });
    res.end(text);
  }

  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    token,
    requests,
    violations: contract.violations,
    comments: (repo, issue) =>
      comments
        .filter((c) => sameRepo(c.repo, repo) && c.issue === issue)
        .map((c) => publicComment(c)),
    forbid(status, methods) {
      failure = status === null ? null : { status, methods: methods ? new Set(methods) : null };
    },
    seedComments: (repo, issue, bodies, author = OCTOCAT) =>
      bodies.map((body) => publicComment(addComment(repo, issue, body, author))),
    setPullRequest(repo, pr, state, head) {
      const key = `${repo.toLowerCase()}#${pr}`;
      if (state === null) {
        pulls.delete(key);
        return;
      }
      const time = now();
      const previous = pulls.get(key);
      const sha = head ?? previous?.head;
      pulls.set(key, {
        state,
        created_at: previous?.created_at ?? time,
        updated_at: time,
        ...(sha ? { head: sha.toLowerCase() } : {}),
      });
    },
    commitStatuses: (repo, sha) =>
      (commitStatuses.get(`${repo.toLowerCase()}@${sha.toLowerCase()}`) ?? []).map((s) => ({
        ...s,
      })),
    setPermission(repo, login, role) {
      roles.set(`${repo.toLowerCase()}:${login.toLowerCase()}`, role);
    },
    deleteComment(id) {
      const index = comments.findIndex((c) => c.id === id);
      if (index >= 0) comments.splice(index, 1);
    },
    deployments: (repo) =>
      deployments
        .filter((d) => sameRepo(d.repo, repo))
        .map((d) => ({ ...publicDeployment(d), statuses: d.statuses.map((x) => ({ ...x })) })),
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

/** A repository as GitHub's `repository` schema has it (every required field). */
function repositoryObject(api: string, repo: string, id: number) {
  const [owner = "", name = ""] = repo.split("/");
  const at = `${api}/repos/${repo}`;
  const templated: Record<string, string> = {};
  for (const [field, tail] of Object.entries({
    archive_url: "{archive_format}{/ref}",
    assignees_url: "assignees{/user}",
    blobs_url: "git/blobs{/sha}",
    branches_url: "branches{/branch}",
    collaborators_url: "collaborators{/collaborator}",
    comments_url: "comments{/number}",
    commits_url: "commits{/sha}",
    compare_url: "compare/{base}...{head}",
    contents_url: "contents/{+path}",
    contributors_url: "contributors",
    deployments_url: "deployments",
    downloads_url: "downloads",
    events_url: "events",
    forks_url: "forks",
    git_commits_url: "git/commits{/sha}",
    git_refs_url: "git/refs{/sha}",
    git_tags_url: "git/tags{/sha}",
    hooks_url: "hooks",
    issue_comment_url: "issues/comments{/number}",
    issue_events_url: "issues/events{/number}",
    issues_url: "issues{/number}",
    keys_url: "keys{/key_id}",
    labels_url: "labels{/name}",
    languages_url: "languages",
    merges_url: "merges",
    milestones_url: "milestones{/number}",
    notifications_url: "notifications{?since,all,participating}",
    pulls_url: "pulls{/number}",
    releases_url: "releases{/id}",
    stargazers_url: "stargazers",
    statuses_url: "statuses/{sha}",
    subscribers_url: "subscribers",
    subscription_url: "subscription",
    tags_url: "tags",
    teams_url: "teams",
    trees_url: "git/trees{/sha}",
  }))
    templated[field] = `${at}/${tail}`;
  return {
    id,
    node_id: `R_kgDO${Buffer.from(String(id)).toString("base64url")}`,
    name,
    full_name: repo,
    owner: simpleUser({ login: owner, id: id + 1, type: "User" }),
    private: false,
    html_url: `https://github.com/${repo}`,
    description: null,
    fork: false,
    url: at,
    ...templated,
    clone_url: `https://github.com/${repo}.git`,
    git_url: `git://github.com/${repo}.git`,
    ssh_url: `git@github.com:${repo}.git`,
    svn_url: `https://github.com/${repo}`,
    mirror_url: null,
    homepage: null,
    language: "TypeScript",
    forks: 0,
    forks_count: 0,
    stargazers_count: 0,
    watchers: 0,
    watchers_count: 0,
    size: 0,
    default_branch: "main",
    open_issues: 0,
    open_issues_count: 0,
    has_issues: true,
    has_projects: true,
    has_wiki: true,
    has_pages: false,
    has_downloads: true,
    archived: false,
    disabled: false,
    license: null,
    pushed_at: "2025-05-01T12:00:00Z",
    created_at: "2025-01-01T12:00:00Z",
    updated_at: "2025-05-01T12:00:00Z",
  };
}

/** A pull request as GitHub's `pull-request` schema has it (every required field). */
function pullRequest(
  api: string,
  repo: string,
  repoId: number,
  pr: number,
  pull: { state: "open" | "closed"; created_at: string; updated_at: string; head?: string },
) {
  const at = `${api}/repos/${repo}`;
  const html = `https://github.com/${repo}/pull/${pr}`;
  const sha = pull.head ?? createHash("sha1").update(`${repo}#${pr}`).digest("hex");
  const branch = (ref: string) => ({
    label: `${repo.split("/")[0]}:${ref}`,
    ref,
    repo: repositoryObject(api, repo, repoId),
    sha,
    user: simpleUser(OCTOCAT),
  });
  const link = (href: string) => ({ href });
  return {
    url: `${at}/pulls/${pr}`,
    id: repoId * 1000 + pr,
    node_id: `PR_kwDO${Buffer.from(`${repoId}:${pr}`).toString("base64url")}`,
    html_url: html,
    diff_url: `${html}.diff`,
    patch_url: `${html}.patch`,
    issue_url: `${at}/issues/${pr}`,
    commits_url: `${at}/pulls/${pr}/commits`,
    review_comments_url: `${at}/pulls/${pr}/comments`,
    review_comment_url: `${at}/pulls/comments{/number}`,
    comments_url: `${at}/issues/${pr}/comments`,
    statuses_url: `${at}/statuses/${sha}`,
    number: pr,
    state: pull.state,
    locked: false,
    title: `Pull request ${pr}`,
    user: simpleUser(OCTOCAT),
    body: null,
    labels: [],
    milestone: null,
    created_at: pull.created_at,
    updated_at: pull.updated_at,
    closed_at: pull.state === "closed" ? pull.updated_at : null,
    merged_at: null,
    merge_commit_sha: null,
    assignee: null,
    head: branch(`pr-${pr}`),
    base: branch("main"),
    _links: {
      self: link(`${at}/pulls/${pr}`),
      html: link(html),
      issue: link(`${at}/issues/${pr}`),
      comments: link(`${at}/issues/${pr}/comments`),
      review_comments: link(`${at}/pulls/${pr}/comments`),
      review_comment: link(`${at}/pulls/comments{/number}`),
      commits: link(`${at}/pulls/${pr}/commits`),
      statuses: link(`${at}/statuses/${sha}`),
    },
    author_association: "MEMBER",
    auto_merge: null,
    merged: false,
    mergeable: pull.state === "open" ? true : null,
    mergeable_state: pull.state === "open" ? "clean" : "unknown",
    merged_by: null,
    comments: 0,
    review_comments: 0,
    maintainer_can_modify: false,
    commits: 1,
    additions: 1,
    deletions: 0,
    changed_files: 1,
  };
}

function publicComment(stored: StubComment): StubComment {
  return {
    id: stored.id,
    node_id: stored.node_id,
    url: stored.url,
    html_url: stored.html_url,
    issue_url: stored.issue_url,
    body: stored.body,
    user: simpleUser(stored.user),
    created_at: stored.created_at,
    updated_at: stored.updated_at,
    author_association: stored.author_association,
  };
}

function publicDeployment(stored: StoredDeployment): StubDeployment {
  const { repo: _repo, statuses: _statuses, ...deployment } = stored;
  return { ...deployment, creator: { ...deployment.creator } };
}

/**
 * A user as GitHub sends one in a comment: its `simple-user` schema, whose fields are all
 * required (https://docs.github.com/rest/issues/comments#get-an-issue-comment).
 */
function simpleUser(user: StubUser): StubUser {
  const html = `https://github.com/${user.login.replace("[bot]", "")}`;
  const api = `https://api.github.com/users/${encodeURIComponent(user.login)}`;
  return {
    ...user,
    node_id: `${user.type === "Bot" ? "MDM6Qm90" : "MDQ6VXNlcj"}${Buffer.from(String(user.id)).toString("base64url")}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${user.id}?v=4`,
    gravatar_id: "",
    url: api,
    html_url:
      user.type === "Bot" ? `https://github.com/apps/${user.login.replace("[bot]", "")}` : html,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    site_admin: false,
  } as StubUser;
}

// GitHub owner and repository names are case-insensitive.
function sameRepo(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function clampInt(value: string | null, fallback: number, min: number, max: number): number {
  if (value === null || !/^\d+$/.test(value)) return fallback;
  return Math.min(max, Math.max(min, Number(value)));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** A collaborator as "Get repository permissions for a user" has it: a user and its role. */
function collaborator(login: string, role: string) {
  const id =
    1_000 + (createHash("sha1").update(login.toLowerCase()).digest().readUInt32BE(0) % 1e8);
  return { ...simpleUser({ login, id, type: "User" }), role_name: role };
}
