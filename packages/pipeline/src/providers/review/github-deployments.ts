/**
 * GitHub Deployments for the review channel: each preview and production deploy is reported as a
 * deployment of its commit to a GitHub environment named after ours (`preview-N`, `production`;
 * see core/environments.ts), so the pull request shows "View deployment" and the repository's
 * Environments page lists what is live, as a hosting provider's GitHub app does.
 *
 * - a deploy creates one deployment of the summary's commit (GITHUB_SHA), with `auto_merge:
 *   false` (GitHub would otherwise merge the default branch into the ref first) and
 *   `required_contexts: []` (otherwise GitHub refuses, 409, while any check of the commit is not
 *   green, and the workflow deploying it is one); a preview's is `transient_environment`;
 * - its status follows the summary: in_progress, then success (with `environment_url`, the web
 *   Worker's URL) or failure, each with `log_url`, the workflow run;
 * - cleanup sets each of the preview's deployments `inactive`, which GitHub shows as destroyed
 *   for a transient environment. The deployments and the `preview-N` environment stay as history:
 *   deleting an environment needs the administration permission, which GITHUB_TOKEN does not have.
 *
 * REST reference: https://docs.github.com/en/rest/deployments/deployments and
 * https://docs.github.com/en/rest/deployments/statuses. The token needs `deployments: write`.
 */
import type { Octokit } from "@octokit/rest";
import type { Environment } from "../../core/environments";
import type { Summary } from "../../core/summary";

/** GitHub's limit on a deployment's and a status's description, in characters. */
const DESCRIPTION_MAX = 140;
const PER_PAGE = 100;

type DeploymentState = "in_progress" | "success" | "failure" | "inactive";

const STATE: Record<Exclude<Summary["status"], "deleted">, DeploymentState> = {
  "in-progress": "in_progress",
  deployed: "success",
  failed: "failure",
};

export interface DeploymentsTarget {
  octokit: Octokit;
  owner: string;
  repo: string;
  /** The workflow run's page, linked as each status's log. */
  runUrl: string | undefined;
}

/**
 * Reports one summary of `environment` as GitHub deployments. `created` remembers, per
 * environment and commit, the deployment this process made, so that an in-progress summary and
 * the final one update the same deployment. Returns what was done, for the log; throws
 * Octokit's error when GitHub refuses.
 */
export async function reportDeployment(
  target: DeploymentsTarget,
  summary: Summary,
  environment: Environment,
  created: Map<string, number>,
): Promise<string> {
  if (summary.status === "deleted") return deactivate(target, environment);
  const ref = summary.commit?.trim();
  // Without a commit there is nothing to deploy in GitHub's terms (a run outside a workflow).
  if (!ref) return "no commit (GITHUB_SHA) is known, so no GitHub deployment was reported";
  const { octokit, owner, repo } = target;
  const key = `${environment.name}@${ref}`;
  let id = created.get(key);
  if (id === undefined) {
    const response = await octokit.rest.repos.createDeployment({
      owner,
      repo,
      ref,
      environment: environment.name,
      description: cut(`codex ${environment.kind} deploy of ${ref.slice(0, 12)}`),
      auto_merge: false,
      required_contexts: [],
      transient_environment: environment.kind === "preview",
      production_environment: environment.kind === "production",
    });
    // 202 is GitHub's answer when it merged the default branch instead: not asked for here.
    if (response.status !== 201 || !("id" in response.data)) {
      throw new Error(`GitHub created no deployment (HTTP ${response.status})`);
    }
    id = response.data.id;
    created.set(key, id);
  }
  const state = STATE[summary.status];
  await octokit.rest.repos.createDeploymentStatus({
    owner,
    repo,
    deployment_id: id,
    state,
    description: cut(statusDescription(summary)),
    ...(target.runUrl ? { log_url: target.runUrl } : {}),
    ...(state !== "failure" && summary.urls ? { environment_url: summary.urls.web } : {}),
  });
  return `deployment ${id} of ${environment.name}: ${state}`;
}

/** Marks every deployment of the environment that is not inactive yet as inactive. */
async function deactivate(target: DeploymentsTarget, environment: Environment): Promise<string> {
  const { octokit, owner, repo } = target;
  const deployments = await octokit.paginate(octokit.rest.repos.listDeployments, {
    owner,
    repo,
    environment: environment.name,
    per_page: PER_PAGE,
  });
  let changed = 0;
  for (const deployment of deployments) {
    // Newest first: the first status is the current one.
    const { data: latest } = await octokit.rest.repos.listDeploymentStatuses({
      owner,
      repo,
      deployment_id: deployment.id,
      per_page: 1,
    });
    if (latest[0]?.state === "inactive") continue;
    await octokit.rest.repos.createDeploymentStatus({
      owner,
      repo,
      deployment_id: deployment.id,
      state: "inactive",
      description: "the preview was deleted",
      ...(target.runUrl ? { log_url: target.runUrl } : {}),
    });
    changed += 1;
  }
  return `${changed} deployment(s) of ${environment.name} set inactive`;
}

/** A short, secret-free line: never the error text, which the comment and the run log carry. */
function statusDescription(summary: Summary): string {
  if (summary.status === "deployed") {
    return summary.version ? `deployed version ${summary.version}` : "deployed";
  }
  if (summary.status === "failed") return "the deploy failed: see the workflow run";
  return "deploying";
}

function cut(text: string): string {
  return text.length <= DESCRIPTION_MAX ? text : `${text.slice(0, DESCRIPTION_MAX - 1)}…`;
}
