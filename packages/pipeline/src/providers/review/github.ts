/**
 * The GitHub review channel: one sticky comment per pull request, found again by its hidden
 * first line ({@link SUMMARY_MARKER}) and edited in place, so a PR gets one status comment however
 * often its preview is deployed. The body is the same Markdown as the local `summary.md`, except
 * that files only the runner has (screenshots, the Playwright report) point at the workflow run's
 * artifacts instead. Each deploy, production's too, is also reported as a GitHub deployment
 * (github-deployments.ts): the PR's "View deployment" button and the Environments page.
 *
 * Commenting is a courtesy, not part of the deploy: every failure to publish (a read-only token
 * on a fork's PR, a revoked token, GitHub being down) is a warning, and `publish` resolves.
 *
 * Whose comment it is: only a comment by a bot account (`user.type` "Bot") that starts with the
 * marker is the sticky comment, so a person's comment that happens to start with it (pasted, or
 * quoted at the top) is never overwritten. The workflows' GITHUB_TOKEN is an installation token
 * of the GitHub Actions app and comments as `github-actions[bot]`, type "Bot"; it cannot ask who
 * it is (`GET /user` answers 403 "Resource not accessible by integration" to installation
 * tokens, https://docs.github.com/en/rest/users/users#get-the-authenticated-user), and no
 * person's account has type "Bot" (https://docs.github.com/en/rest/issues/comments, `user.type`).
 * The login is not hard-coded, so a GitHub App's own installation token (`<app>[bot]`) works
 * too. A personal access token comments as a "User" and is not supported: each run would add a
 * new comment rather than edit its own.
 */
import { Octokit } from "@octokit/rest";
import { parseEnvironment, showInput, type Environment } from "../../core/environments";
import { PipelineError, userError } from "../../errors";
import { reportDeployment } from "./github-deployments";
import { approveVisual, setVisualStatus, visualApproval, type Approval } from "./github-visual";
import {
  APPROVAL_MARKER,
  approvalLine,
  renderCommentMarkdown,
  withPublishedReport,
} from "./render";
import { createScrubber, scrubDeep } from "../../core/scrub";
import { type StepResult, type Summary } from "../../core/summary";
import { SUMMARY_MARKER, type ReviewChannel } from "./shared";

/** A pull request's state as the stale sweep needs it; "gone" when GitHub no longer has it. */
export type PullRequestState = "open" | "closed" | "gone";

/** The API of github.com; GitHub Enterprise Server and GHE.com have their own (`GITHUB_API_URL`). */
export const DEFAULT_GITHUB_API_URL = "https://api.github.com";

/** GitHub refuses a comment body longer than this many characters. */
export const COMMENT_BODY_MAX = 65_536;

/** The name of the workflow artifact that holds the Playwright report and its screenshots. */
export const E2E_ARTIFACT = "e2e-report";

// The API's largest page: a busy PR's marker comment is found in few requests.
const PER_PAGE = 100;
// Octokit has no timeout of its own; a hung connection must not hold the deploy.
const REQUEST_TIMEOUT_MS = 30_000;
// Longest error text quoted from GitHub in a warning.
const QUOTED_MAX = 300;

// Successive limits on free text, tried until the body fits; most summaries need none.
const TEXT_CAPS: readonly { error: number; detail: number }[] = [
  { error: 16_000, detail: 2_000 },
  { error: 4_000, detail: 300 },
  { error: 1_000, detail: 80 },
  { error: 200, detail: 0 },
];
const CUT_NOTE = `\n\n… [cut here: GitHub limits a comment to ${COMMENT_BODY_MAX.toLocaleString("en-US")} characters]\n`;

export interface GitHubReviewChannelOptions {
  /** A token that may comment on the repository's pull requests (the workflow's GITHUB_TOKEN). */
  token: string;
  /** "owner/name" (GITHUB_REPOSITORY). */
  repository: string;
  /** The REST API's base URL (GITHUB_API_URL); {@link DEFAULT_GITHUB_API_URL} when absent. */
  baseUrl?: string;
  /** The workflow run's page; its artifacts are linked instead of local files when it is known. */
  runUrl?: string;
  /** Secret values to scrub from the comment and from warnings, asked for at every publish. */
  secrets?: () => readonly string[];
  /** Where a failure to publish is reported, one line each; `console.warn` by default. */
  warn?: (line: string) => void;
  /** A ready client (for tests, or other plugins); built from `token` and `baseUrl` otherwise. */
  octokit?: Octokit;
}

export class GitHubReviewChannel implements ReviewChannel {
  readonly #token: string;
  readonly #owner: string;
  readonly #repo: string;
  readonly #baseUrl: string;
  readonly #runUrl: string | undefined;
  readonly #secrets: () => readonly string[];
  readonly #warn: (line: string) => void;
  readonly #octokit: Octokit;
  // Publishes to one environment run one after the other: two in flight would each create a
  // comment (or a deployment).
  readonly #inFlight = new Map<string, Promise<unknown>>();
  // The deployment this process made per environment and commit (github-deployments.ts).
  readonly #deployments = new Map<string, number>();

  constructor(options: GitHubReviewChannelOptions) {
    const token = options.token.trim();
    if (token === "") {
      throw userError(
        "INVALID_ARGUMENT",
        "the GitHub review channel needs a token (GITHUB_TOKEN), and it is empty",
        "Pass the workflow's GITHUB_TOKEN, with permission to write pull requests.",
      );
    }
    const repository = /^([A-Za-z0-9-]+)\/([A-Za-z0-9._-]+)$/.exec(options.repository.trim());
    if (!repository) {
      throw userError(
        "INVALID_ARGUMENT",
        `the repository (GITHUB_REPOSITORY) must be "owner/name" (got "${showInput(options.repository)}")`,
        "GitHub Actions sets GITHUB_REPOSITORY; elsewhere set it, for example acme/app.",
      );
    }
    this.#token = token;
    const [, owner = "", repo = ""] = repository;
    this.#owner = owner;
    this.#repo = repo;
    this.#baseUrl = httpUrl(options.baseUrl ?? DEFAULT_GITHUB_API_URL, "GITHUB_API_URL");
    this.#runUrl =
      options.runUrl === undefined ? undefined : httpUrl(options.runUrl, "the workflow run's URL");
    this.#secrets = options.secrets ?? (() => []);
    this.#warn = options.warn ?? ((line) => console.warn(line));
    this.#octokit = options.octokit ?? this.#createOctokit();
  }

  /**
   * Reports the deploy as a GitHub deployment (github-deployments.ts), then creates or updates
   * the PR's sticky comment and returns its URL. Production and staging have no pull request:
   * they get the deployment only, and an empty location. An invalid environment name throws;
   * any failure to reach or write GitHub is a warning and an empty location.
   */
  async publish(summary: Summary): Promise<{ location: string }> {
    const environment = parseEnvironment(summary.environment);
    const name = environment.name;
    const run = async () => {
      await this.#reportDeployment(environment, summary);
      // Only a preview belongs to a pull request; production's and staging's status is the run log.
      if (environment.kind !== "preview" || environment.pr === undefined) return { location: "" };
      const approved = await this.#withApproval(summary);
      const published = await this.#publishToPr(environment.pr, name, approved);
      await this.#setVisualStatus(approved, published.location);
      return published;
    };
    const previous = this.#inFlight.get(name);
    const current = previous ? previous.then(run, run) : run();
    this.#inFlight.set(name, current);
    const forget = () => {
      if (this.#inFlight.get(name) === current) this.#inFlight.delete(name);
    };
    current.then(forget, forget);
    return current;
  }

  /** Never rejects: a deployment GitHub refuses is a warning, as a comment is. */
  async #reportDeployment(environment: Environment, summary: Summary): Promise<void> {
    const target = {
      octokit: this.#octokit,
      owner: this.#owner,
      repo: this.#repo,
      runUrl: this.#runUrl,
    };
    try {
      await reportDeployment(target, summary, environment, this.#deployments);
    } catch (error) {
      const status = httpStatus(error);
      const why =
        status === 403 || status === 404
          ? `the token may not write deployments of ${this.#owner}/${this.#repo} (HTTP ${status}: ${quote(error)}). Give the workflow "permissions: deployments: write".`
          : this.#explain(error, environment.pr ?? 0);
      const line =
        `warning: the GitHub deployment of ${environment.name} was not reported: ${why} ` +
        `The deploy itself is not affected.`;
      this.#warn(createScrubber(this.#secretValues())(line));
    }
  }

  /** Never rejects: every failure becomes a warning. */
  async #publishToPr(
    pr: number,
    environment: string,
    given: Summary,
  ): Promise<{ location: string }> {
    const secrets = this.#secretValues();
    const summary = given;
    try {
      const body = commentBody(summary, {
        secrets,
        runUrl: this.#runUrl,
        checksUrl: `${webUrl(this.#baseUrl)}/${this.#owner}/${this.#repo}/pull/${pr}/checks`,
      });
      const existing = (await this.#findComment(pr, SUMMARY_MARKER(environment)))?.id;
      const repo = { owner: this.#owner, repo: this.#repo };
      if (existing !== undefined) {
        try {
          const { data } = await this.#octokit.rest.issues.updateComment({
            ...repo,
            comment_id: existing,
            body,
          });
          return { location: data.html_url };
        } catch (error) {
          // The comment was deleted since it was listed: post a new one below.
          if (httpStatus(error) !== 404) throw error;
        }
      }
      const { data } = await this.#octokit.rest.issues.createComment({
        ...repo,
        issue_number: pr,
        body,
      });
      return { location: data.html_url };
    } catch (error) {
      const line =
        `warning: the GitHub comment for ${environment} was not published: ` +
        `${this.#explain(error, pr)} The deploy itself is not affected.`;
      this.#warn(createScrubber(secrets)(line));
      return { location: "" };
    }
  }

  /**
   * The summary with its visual report's approval (github-visual.ts) as the deployed commit's
   * `codex/visual` status says; as it is when there is no visual report, no commit, or the
   * deploy did not finish. A failure to ask is a warning: the comment then shows no approval.
   */
  async #withApproval(summary: Summary): Promise<Summary> {
    const { visual, commit } = summary;
    if (!visual || !commit || summary.status !== "deployed") return summary;
    try {
      const approval = await visualApproval(this.#target(), commit, visual);
      return { ...summary, visual: { ...visual, approval } };
    } catch (error) {
      this.#warnStatus(summary, error);
      return summary;
    }
  }

  /** Sets the deployed commit's `codex/visual` status; never rejects (a warning instead). */
  async #setVisualStatus(summary: Summary, commentUrl: string): Promise<void> {
    const { visual, commit } = summary;
    if (!visual || !commit || summary.status !== "deployed") return;
    try {
      const targetUrl = commentUrl || summary.reportUrl;
      await setVisualStatus(this.#target(), commit, visual, targetUrl);
    } catch (error) {
      this.#warnStatus(summary, error);
    }
  }

  #warnStatus(summary: Summary, error: unknown): void {
    const status = httpStatus(error);
    const why =
      status === 403 || status === 404
        ? `the token may not write commit statuses of ${this.#owner}/${this.#repo} (HTTP ${status}: ${quote(error)}). Give the workflow "permissions: statuses: write".`
        : `GitHub answered ${quote(error)}.`;
    this.#warn(
      createScrubber(this.#secretValues())(
        `warning: the ${"codex/visual"} status of ${summary.environment} was not set: ${why} The deploy itself is not affected.`,
      ),
    );
  }

  /**
   * approve-visual: approves the visual changes of pull request `pr`'s head commit (see
   * github-visual.ts), then shows the approval on the sticky comment. Unlike `publish`, a refusal
   * or a failure throws: the command must say why nothing was approved.
   */
  async approveVisual(pr: number, options: { commentId?: number } = {}): Promise<Approval> {
    let approval: Approval;
    try {
      approval = await approveVisual(this.#target(), pr, options);
    } catch (error) {
      if (error instanceof PipelineError) throw error;
      const status = httpStatus(error);
      throw new PipelineError(
        "CLOUD_FAILED",
        createScrubber(this.#secretValues())(
          `could not approve the visual changes of pull request #${pr}: ${this.#explain(error, pr)}`,
        ),
        {
          kind: status === 401 || status === 403 ? "user" : "system",
          hint: 'The approve-visual workflow needs "permissions: statuses: write" and "pull-requests: read".',
        },
      );
    }
    const marker = SUMMARY_MARKER(`preview-${pr}`);
    try {
      const comment = await this.#findComment(pr, marker);
      if (comment !== undefined) {
        const line = approvalLine({ state: "approved", by: approval.by }, 1);
        const pattern = new RegExp(`^.*${APPROVAL_MARKER}$`, "m");
        const body = comment.body;
        if (pattern.test(body)) {
          await this.#octokit.rest.issues.updateComment({
            owner: this.#owner,
            repo: this.#repo,
            comment_id: comment.id,
            body: body.replace(pattern, () => line),
          });
        }
      }
    } catch (error) {
      this.#warn(
        createScrubber(this.#secretValues())(
          `warning: the approval is set, but the comment of pull request #${pr} was not updated: ${this.#explain(error, pr)}`,
        ),
      );
    }
    return approval;
  }

  #target() {
    return { octokit: this.#octokit, owner: this.#owner, repo: this.#repo };
  }

  /**
   * The id of the first comment by a bot account whose body starts with `marker`. Pages are read
   * in order until it is found; a comment that merely quotes the marker further in does not
   * count, nor does a person's comment that starts with it.
   */
  async #findComment(
    pr: number,
    marker: string,
  ): Promise<{ id: number; body: string } | undefined> {
    const pages = this.#octokit.paginate.iterator(this.#octokit.rest.issues.listComments, {
      owner: this.#owner,
      repo: this.#repo,
      issue_number: pr,
      per_page: PER_PAGE,
    });
    for await (const { data } of pages) {
      const found = data.find(
        (comment) => comment.user?.type === "Bot" && (comment.body ?? "").startsWith(marker),
      );
      if (found) return { id: found.id, body: found.body ?? "" };
    }
    return undefined;
  }

  /** What went wrong and what to do about it, in one or two sentences, without the token. */
  #explain(error: unknown, pr: number): string {
    const where = `pull request #${pr} of ${this.#owner}/${this.#repo}`;
    const status = httpStatus(error);
    const quoted = quote(error);
    if (status !== undefined && hasResponse(error)) {
      if (status === 401) {
        return `GITHUB_TOKEN was refused (HTTP 401: ${quoted}). Check that the workflow passes a valid, unexpired token.`;
      }
      if ((status === 403 || status === 429) && isRateLimited(error)) {
        return `GitHub's rate limit was reached (HTTP ${status}: ${quoted}). The next run updates the comment.`;
      }
      if (status === 403) {
        return (
          `the token may not comment on ${where} (HTTP 403: ${quoted}). Give the workflow ` +
          `"permissions: pull-requests: write"; pull requests from forks only get a read-only token.`
        );
      }
      if (status === 404) {
        return (
          `${where} was not found, or the token cannot see it (HTTP 404: ${quoted}). ` +
          `Check GITHUB_REPOSITORY and the token's access to the repository.`
        );
      }
      return `GitHub answered HTTP ${status} (${quoted}).`;
    }
    if (status !== undefined) {
      return `GitHub could not be reached at ${this.#baseUrl} (${quoted}).`;
    }
    return `unexpected error (${quoted}).`;
  }

  /**
   * Pull request `pr`'s state, for the stale sweep: "open", "closed" (merged or not), or "gone"
   * when GitHub answers 404 (deleted, or never there: https://docs.github.com/rest/pulls/pulls#get-a-pull-request).
   * Unlike `publish`, a failure throws: the sweep must not guess that an open PR is closed.
   */
  async pullRequestState(pr: number): Promise<PullRequestState> {
    try {
      const { data } = await this.#octokit.rest.pulls.get({
        owner: this.#owner,
        repo: this.#repo,
        pull_number: pr,
      });
      return data.state === "open" ? "open" : "closed";
    } catch (error) {
      const status = httpStatus(error);
      if (status === 404) return "gone";
      const why = createScrubber(this.#secretValues())(quote(error));
      throw new PipelineError(
        "CLOUD_FAILED",
        `could not ask GitHub whether pull request #${pr} of ${this.#owner}/${this.#repo} is open: ${why}`,
        {
          kind: status === 401 || status === 403 ? "user" : "system",
          hint:
            status === 401 || status === 403
              ? "The token (GITHUB_TOKEN) needs the pull-requests: read permission; nothing was swept."
              : "Run the sweep again; nothing was swept.",
        },
      );
    }
  }

  #secretValues(): string[] {
    try {
      return [this.#token, ...this.#secrets()];
    } catch {
      return [this.#token];
    }
  }

  #createOctokit(): Octokit {
    const scrubToken = createScrubber([this.#token]);
    const octokit = new Octokit({
      auth: this.#token,
      baseUrl: this.#baseUrl,
      userAgent: "codex-pipeline",
      // Failed requests are reported once, by publish; Octokit's own error lines would repeat them.
      log: {
        debug: () => {},
        info: () => {},
        warn: (message: string) => this.#warn(scrubToken(`warning: ${message}`)),
        error: () => {},
      },
    });
    octokit.hook.before("request", (options) => {
      options.request = {
        ...options.request,
        signal: options.request?.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      };
    });
    return octokit;
  }
}

/**
 * The channel configured from a GitHub Actions environment: GITHUB_TOKEN, GITHUB_REPOSITORY,
 * GITHUB_API_URL (optional), and GITHUB_SERVER_URL + GITHUB_RUN_ID for the link to the run.
 */
export function githubFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  options: Pick<GitHubReviewChannelOptions, "secrets" | "warn" | "octokit"> = {},
): GitHubReviewChannel {
  const token = env.GITHUB_TOKEN?.trim();
  if (!token) {
    throw userError(
      "INVALID_ARGUMENT",
      "GITHUB_TOKEN is not set: the GitHub review channel needs it to comment on the pull request",
      'In the workflow, pass "GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}" to the step.',
    );
  }
  const repository = env.GITHUB_REPOSITORY?.trim();
  if (!repository) {
    throw userError(
      "INVALID_ARGUMENT",
      "GITHUB_REPOSITORY is not set: the GitHub review channel needs the repository's owner/name",
      "GitHub Actions sets it; elsewhere set GITHUB_REPOSITORY=owner/name.",
    );
  }
  const baseUrl = env.GITHUB_API_URL?.trim();
  const server = env.GITHUB_SERVER_URL?.trim().replace(/\/+$/, "");
  const runId = env.GITHUB_RUN_ID?.trim();
  const runUrl =
    server && /^https?:\/\//i.test(server) && runId && /^\d+$/.test(runId)
      ? `${server}/${repository}/actions/runs/${runId}`
      : undefined;
  return new GitHubReviewChannel({
    token,
    repository,
    ...(baseUrl ? { baseUrl } : {}),
    ...(runUrl ? { runUrl } : {}),
    ...options,
  });
}

// ---------------------------------------------------------------------------------------------
// The comment's body (pure)

/**
 * The Markdown of the sticky comment: {@link renderCommentMarkdown} of a summary whose e2e and
 * visual files point at the published report Worker (`reportUrl`) or else at the run's artifacts, cut down to fit {@link COMMENT_BODY_MAX}. `checksUrl` is linked for the
 * report when the run's URL is unknown.
 */
export function commentBody(
  summary: Summary,
  options: { secrets: readonly string[]; runUrl: string | undefined; checksUrl: string },
): string {
  // Scrubbed before anything is cut: half a secret is no longer recognised by the scrubber.
  const scrubbed = scrubDeep(summary, createScrubber(options.secrets));
  // Published (the report Worker): images by URL. Otherwise the run's artifact holds the files.
  const shown = scrubbed.reportUrl
    ? withPublishedReport(scrubbed)
    : withArtifacts(scrubbed, options);
  return fitToLimit(shown, options.secrets);
}

/**
 * A PR comment cannot show the runner's files: the screenshots leave the body (their names go to
 * the e2e step's detail) and a local report folder becomes a link to the run's artifacts. A
 * report that is already an http(s) URL stays as it is.
 */
export function withArtifacts(
  summary: Summary,
  options: { runUrl: string | undefined; checksUrl: string },
): Summary {
  const e2e = summary.e2e;
  if (!e2e) return summary;
  const artifactsUrl = options.runUrl ? `${options.runUrl}#artifacts` : options.checksUrl;
  const reportDir = /^https?:\/\//i.test(e2e.reportDir.trim()) ? e2e.reportDir : artifactsUrl;
  const names = e2e.screenshots.map((path) => path.split(/[\\/]/).pop() || path);
  let steps = summary.steps;
  if (names.length > 0) {
    const list = names.join(", ");
    const note = options.runUrl
      ? `screenshots in the run's ${E2E_ARTIFACT} artifact: ${list}`
      : `${list} (screenshots are in the ${E2E_ARTIFACT} artifact)`;
    const index = steps.findLastIndex((step) => /\be2e\b|end-to-end|playwright/i.test(step.name));
    steps =
      index >= 0
        ? steps.map((step, i) =>
            i === index
              ? { ...step, detail: step.detail ? `${step.detail} · ${note}` : note }
              : step,
          )
        : // Not a step that ran: a non-finite duration renders as "–".
          [
            ...steps,
            { name: "e2e screenshots", status: "ok", durationMs: Number.NaN, detail: note },
          ];
  }
  return { ...summary, steps, e2e: { ...e2e, reportDir, screenshots: [] } };
}

/** The rendered body, with step details and the error shortened (each saying so) until it fits. */
function fitToLimit(summary: Summary, secrets: readonly string[]): string {
  let body = renderCommentMarkdown(summary, { secrets });
  for (const cap of TEXT_CAPS) {
    if (body.length <= COMMENT_BODY_MAX) return body;
    body = renderCommentMarkdown(
      {
        ...summary,
        ...(summary.error === undefined ? {} : { error: shorten(summary.error, cap.error, true) }),
        steps: summary.steps.map((step): StepResult =>
          step.detail === undefined ? step : { ...step, detail: shorten(step.detail, cap.detail) },
        ),
      },
      { secrets },
    );
  }
  if (body.length <= COMMENT_BODY_MAX) return body;
  // Still too long (thousands of steps or migrations): keep the head, marker included.
  return `${cutAt(body, COMMENT_BODY_MAX - CUT_NOTE.length)}${CUT_NOTE}`;
}

function shorten(text: string, max: number, block = false): string {
  if (text.length <= max) return text;
  const kept = cutAt(text, max);
  const cut = (text.length - kept.length).toLocaleString("en-US");
  return block
    ? `${kept}\n… [${cut} more characters cut; the full text is in the workflow run's log]`
    : `${kept}… [${cut} more characters cut]`;
}

/** The first `max` UTF-16 units, without splitting a surrogate pair. */
function cutAt(text: string, max: number): string {
  const head = text.slice(0, Math.max(0, max));
  return /[\uD800-\uDBFF]$/.test(head) ? head.slice(0, -1) : head;
}

// ---------------------------------------------------------------------------------------------
// Helpers

function httpUrl(value: string, what: string): string {
  const trimmed = value.trim().replace(/\/+$/, "");
  let parsed: URL | undefined;
  try {
    parsed = new URL(trimmed);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
    throw userError(
      "INVALID_ARGUMENT",
      `${what} must be an http(s) URL (got "${showInput(value)}")`,
    );
  }
  return trimmed;
}

/**
 * The web address that goes with an API address: api.github.com -> github.com, a GHE.com
 * api.<name>.ghe.com -> <name>.ghe.com, a GitHub Enterprise Server https://host/api/v3 ->
 * https://host. Anything else (a stub) is used as is.
 */
function webUrl(apiUrl: string): string {
  const url = new URL(apiUrl);
  if (url.hostname.startsWith("api.")) url.hostname = url.hostname.slice(4);
  const path = url.pathname.replace(/\/api\/v3\/?$/, "").replace(/\/+$/, "");
  return `${url.origin}${path}`;
}

/** The HTTP status of an Octokit RequestError (500 for a network failure), else undefined. */
function httpStatus(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === "number" ? status : undefined;
}

function hasResponse(error: unknown): boolean {
  return typeof (error as { response?: unknown } | null)?.response === "object";
}

function isRateLimited(error: unknown): boolean {
  const headers = (error as { response?: { headers?: Record<string, unknown> } }).response?.headers;
  return headers?.["x-ratelimit-remaining"] === "0" || /rate limit/i.test(quote(error));
}

/** The error's message on one line, shortened. */
function quote(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // eslint-disable-next-line no-control-regex -- control characters are what is flattened
  const line = message.replace(/[\u0000-\u001f\u007f]+/g, " ").trim() || "no message";
  return line.length > QUOTED_MAX ? `${cutAt(line, QUOTED_MAX)}…` : line;
}
