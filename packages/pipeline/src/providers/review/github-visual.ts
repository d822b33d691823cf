/**
 * The `codex/visual` commit status: the merge gate of the visual comparison with production.
 *
 * GitHub's commit statuses (https://docs.github.com/en/rest/commits/statuses) belong to one
 * commit: each preview-deploy sets the status on the commit it deployed (the pull request's head,
 * `GITHUB_SHA` in the preview workflow), so a new push gets a new SHA with no status until its own
 * deploy sets one, which is how a push resets an approval. A branch protection rule (or ruleset)
 * that requires `codex/visual` then blocks the merge while it is pending.
 *
 * - no page view changed beyond the threshold (nor added, nor removed): `success` at once;
 * - otherwise `pending` ("N page views changed: ..."), linking to the sticky comment, until a
 *   reviewer with write access comments `/codex approve-visual` and the approve-visual command
 *   (run by the approve-visual workflow on that comment) sets `success`, naming the approver;
 * - a re-deploy of a commit already approved keeps its approval: the pixels of one commit are the
 *   same pixels.
 *
 * Who may approve: a collaborator whose legacy permission is `admin` or `write` ("Get repository
 * permissions for a user" maps maintain to write and triage to read,
 * https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user),
 * by a comment made after the pending status was set (so after the images were shown for that
 * commit). Bots' comments never count. The audit trail is GitHub's own: the comment, and the
 * status's description naming its author.
 */
import type { Octokit } from "@octokit/rest";
import { PipelineError, userError } from "../../errors";
import type { VisualReport } from "../../core/summary";
import { APPROVE_COMMAND } from "./render";

/** The commit status's context: the check's name in the pull request and in branch protection. */
export const VISUAL_CONTEXT = "codex/visual";

/** GitHub refuses a status description over this many characters. */
export const STATUS_DESCRIPTION_MAX = 140;

const APPROVED_BY = /^Approved by @?([A-Za-z0-9-]+(?:\[bot\])?)/;
// A comment is an approval when its first line is the command (anything may follow on later lines).
const COMMAND_LINE = new RegExp(`^\\s*${APPROVE_COMMAND.replace(/[/]/g, "\\/")}\\s*$`);

export interface GitHubTarget {
  octokit: Octokit;
  owner: string;
  repo: string;
}

export interface VisualStatus {
  state: string;
  description: string | null;
  target_url: string | null;
  updated_at: string;
}

/** Page views changed, added or removed: what needs an approval. */
export function visualChanges(visual: VisualReport): number {
  return visual.pages.filter((p) => p.status !== "unchanged").length;
}

/** The `codex/visual` status of commit `sha`, from its combined status; undefined when none. */
export async function currentVisualStatus(
  target: GitHubTarget,
  sha: string,
): Promise<VisualStatus | undefined> {
  const { data } = await target.octokit.rest.repos.getCombinedStatusForRef({
    owner: target.owner,
    repo: target.repo,
    ref: sha,
    per_page: 100,
  });
  return data.statuses.find((s) => s.context === VISUAL_CONTEXT);
}

/**
 * The approval the summary shows for `visual` on commit `sha`: not needed without changes,
 * approved when the commit's status already says so (a re-deploy), pending otherwise.
 */
export async function visualApproval(
  target: GitHubTarget,
  sha: string,
  visual: VisualReport,
): Promise<NonNullable<VisualReport["approval"]>> {
  if (visualChanges(visual) === 0) return { state: "not-needed" };
  const current = await currentVisualStatus(target, sha);
  const by = current?.state === "success" ? APPROVED_BY.exec(current.description ?? "")?.[1] : "";
  return by ? { state: "approved", by } : { state: "pending" };
}

/** Sets `codex/visual` on `sha` as `visual.approval` says; an approved commit is left as it is. */
export async function setVisualStatus(
  target: GitHubTarget,
  sha: string,
  visual: VisualReport,
  targetUrl: string | undefined,
): Promise<void> {
  const approval = visual.approval ?? { state: "pending" };
  if (approval.state === "approved") return;
  const changes = visualChanges(visual);
  const pending = approval.state === "pending" && changes > 0;
  const description = pending
    ? `${changes} page view${changes === 1 ? "" : "s"} changed against production: a reviewer with write access comments ${APPROVE_COMMAND}`
    : "No visual change against production";
  await target.octokit.rest.repos.createCommitStatus({
    owner: target.owner,
    repo: target.repo,
    sha,
    state: pending ? "pending" : "success",
    context: VISUAL_CONTEXT,
    description: cut(description),
    ...(targetUrl ? { target_url: targetUrl } : {}),
  });
}

export interface Approval {
  sha: string;
  by: string;
  /** The commit was approved already (by `by`): nothing was changed. */
  already: boolean;
}

/**
 * Approves the visual changes of pull request `pr`'s head commit: refuses (a user error naming
 * why) a closed pull request, a head commit with no `codex/visual` status, and a pull request
 * with no approval comment by a person with write access made after the status was set; else
 * sets the status `success`, naming the approver. `commentId`, when given (the comment that
 * triggered the workflow), is the only comment considered.
 */
export async function approveVisual(
  target: GitHubTarget,
  pr: number,
  options: { commentId?: number } = {},
): Promise<Approval> {
  const where = `pull request #${pr} of ${target.owner}/${target.repo}`;
  const { data: pull } = await target.octokit.rest.pulls
    .get({ owner: target.owner, repo: target.repo, pull_number: pr })
    .catch((error: unknown) => {
      if ((error as { status?: number }).status === 404) {
        throw userError("INVALID_ARGUMENT", `${where} does not exist`);
      }
      throw error;
    });
  if (pull.state !== "open") throw userError("INVALID_ARGUMENT", `${where} is ${pull.state}`);
  const sha = pull.head.sha;
  const short = sha.slice(0, 7);
  const status = await currentVisualStatus(target, sha);
  if (!status) {
    throw userError(
      "INVALID_ARGUMENT",
      `nothing to approve: the head commit ${short} of ${where} has no ${VISUAL_CONTEXT} status yet`,
      "Wait for its preview-deploy to finish (a new push starts a new one), then comment again.",
    );
  }
  if (status.state === "success") {
    const by = APPROVED_BY.exec(status.description ?? "")?.[1];
    return { sha, by: by ?? "", already: true };
  }

  const since = Date.parse(status.updated_at);
  const comments = await target.octokit.paginate(target.octokit.rest.issues.listComments, {
    owner: target.owner,
    repo: target.repo,
    issue_number: pr,
    per_page: 100,
  });
  const candidates = comments
    .filter((c) => options.commentId === undefined || c.id === options.commentId)
    .filter((c) => COMMAND_LINE.test((c.body ?? "").split("\n")[0] ?? ""))
    .filter((c) => c.user && c.user.type !== "Bot");
  const recent = candidates.filter((c) => Date.parse(c.created_at) > since).reverse();
  const refused: string[] = [];
  for (const comment of recent) {
    const login = comment.user?.login ?? "";
    const { data } = await target.octokit.rest.repos.getCollaboratorPermissionLevel({
      owner: target.owner,
      repo: target.repo,
      username: login,
    });
    if (data.permission === "admin" || data.permission === "write") {
      await target.octokit.rest.repos.createCommitStatus({
        owner: target.owner,
        repo: target.repo,
        sha,
        state: "success",
        context: VISUAL_CONTEXT,
        description: cut(`Approved by ${login} (${APPROVE_COMMAND})`),
        target_url: comment.html_url,
      });
      return { sha, by: login, already: false };
    }
    refused.push(`${login} has ${data.permission} access`);
  }
  const why =
    refused.length > 0
      ? `${refused.join("; ")}: approving needs write access`
      : candidates.length > 0
        ? `the ${APPROVE_COMMAND} comment is older than the ${VISUAL_CONTEXT} status of the head commit ${short} (${status.updated_at}): a new push needs a new approval`
        : `no ${APPROVE_COMMAND} comment by a person was found`;
  throw new PipelineError("INVALID_ARGUMENT", `not approved: ${why} (${where})`, {
    kind: "user",
    hint: `A reviewer with write access comments ${APPROVE_COMMAND} on the pull request.`,
  });
}

function cut(text: string): string {
  return text.length <= STATUS_DESCRIPTION_MAX
    ? text
    : `${text.slice(0, STATUS_DESCRIPTION_MAX - 1)}…`;
}
