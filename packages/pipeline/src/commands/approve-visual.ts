import { previewEnvironment } from "../core/environments";
import { userError } from "../errors";
import { githubFromEnv } from "../providers/review/github";
import { VISUAL_CONTEXT } from "../providers/review/github-visual";
import type { CommandIO } from "./context";

export interface ApproveVisualOptions {
  /** The pull request, as `--pr N` gave it. */
  pr: string;
  /** The comment that asked (the approve-visual workflow's `github.event.comment.id`). */
  commentId?: string;
}

/**
 * approve-visual --pr N [--comment-id ID]: sets the `codex/visual` status of pull request N's
 * head commit to success, when a collaborator with write access commented `/codex approve-visual`
 * after the status went pending (providers/review/github-visual.ts). GitHub only: it needs
 * GITHUB_TOKEN (statuses: write, pull-requests: read) and GITHUB_REPOSITORY, nothing else.
 */
export async function approveVisual(options: ApproveVisualOptions, io: CommandIO): Promise<void> {
  const environment = previewEnvironment(options.pr);
  const commentId = options.commentId;
  if (commentId !== undefined && !/^[1-9][0-9]{0,15}$/.test(commentId)) {
    throw userError(
      "INVALID_ARGUMENT",
      `--comment-id must be a comment's numeric id (got "${commentId.slice(0, 40)}")`,
    );
  }
  const github = githubFromEnv(process.env, { warn: (line) => io.err(line) });
  const approval = await github.approveVisual(environment.pr as number, {
    ...(commentId !== undefined ? { commentId: Number(commentId) } : {}),
  });
  const commit = approval.sha.slice(0, 7);
  io.out(
    approval.already
      ? `✓ ${VISUAL_CONTEXT} of ${commit} was approved already${approval.by ? ` (by ${approval.by})` : ""}: nothing to do`
      : `✓ ${VISUAL_CONTEXT} of ${commit} approved by ${approval.by}`,
  );
}
