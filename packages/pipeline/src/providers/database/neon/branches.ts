/**
 * Branch operations on Neon: list, create, restore, extend, delete, connection strings, and
 * waiting for the operations a change starts. Every request goes through ./api.ts.
 */
import type { Branch as NeonBranch, EndpointType, Operation } from "@neondatabase/api-client";
import { PipelineError } from "../../../errors";
import type { NeonApi } from "./api";

const OPERATION_POLL_MS = 1_000;
const OPERATION_MAX_POLLS = 300;
const PAGE_SIZE = 100;
const MAX_PAGES = 100;

export class NeonBranches {
  constructor(
    private readonly api: NeonApi,
    private readonly databaseName: string,
    private readonly roleName: string,
  ) {}

  /** Every branch of the project, following Neon's cursor pagination. */
  async all(): Promise<NeonBranch[]> {
    const all: NeonBranch[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const data = await this.api.call(
        "listing branches",
        (client) =>
          client.listProjectBranches({
            projectId: this.api.projectId,
            limit: PAGE_SIZE,
            ...(cursor ? { cursor } : {}),
          }),
        { projectScoped: true },
      );
      const branches = Array.isArray(data.branches) ? data.branches : [];
      all.push(...branches);
      const next = data.pagination?.next;
      if (!next || next === cursor || branches.length < PAGE_SIZE) break;
      cursor = next;
    }
    return all;
  }

  async create(
    name: string,
    parent: NeonBranch,
    expiresAt: string | undefined,
  ): Promise<{ branch: NeonBranch; created: boolean }> {
    this.api.log(
      `neon: creating branch ${name} from ${parent.name}${expiresAt ? ` (expires ${expiresAt})` : ""}`,
    );
    const data = await this.api.call(
      `creating branch "${name}"`,
      (client) =>
        client.createProjectBranch(this.api.projectId, {
          branch: {
            name,
            parent_id: parent.id,
            ...(expiresAt ? { expires_at: expiresAt } : {}),
          },
          // EndpointType.ReadWrite, without loading the client library for its enum (api.ts).
          endpoints: [{ type: "read_write" as EndpointType }],
        }),
      // 409: a concurrent run (or our own retried POST) made it first; use that one.
      { projectScoped: true, onConflict: () => undefined },
    );
    if (!data) {
      const existing = (await this.all()).find((b) => b.name === name);
      if (!existing) {
        throw new PipelineError(
          "DATABASE_FAILED",
          `Neon answered 409 (conflict) to creating branch "${name}", yet lists no branch of that name`,
        );
      }
      this.api.log(`neon: branch ${name} already existed; reusing it`);
      return { branch: existing, created: false };
    }
    await this.#settle(data.operations, `creating branch "${name}"`);
    return { branch: data.branch, created: true };
  }

  async restore(branch: NeonBranch, main: NeonBranch): Promise<NeonBranch> {
    const source = branch.parent_id ?? main.id;
    this.api.log(`neon: resetting branch ${branch.name} from its parent`);
    // Restoring in place keeps the branch's ID, endpoint and URL (and Neon re-applies its TTL);
    // delete and create would hand out a new host and burn a branch slot meanwhile.
    const data = await this.api.call(`resetting branch "${branch.name}"`, (client) =>
      client.restoreProjectBranch(this.api.projectId, branch.id, { source_branch_id: source }),
    );
    await this.#settle(data.operations, `resetting branch "${branch.name}"`);
    return data.branch ?? branch;
  }

  async extend(branch: NeonBranch, expiresAt: string): Promise<NeonBranch> {
    this.api.log(`neon: reusing branch ${branch.name}; it now expires ${expiresAt}`);
    try {
      const data = await this.api.call(
        `extending the expiry of branch "${branch.name}"`,
        (client) =>
          client.updateProjectBranch(this.api.projectId, branch.id, {
            branch: { expires_at: expiresAt },
          }),
      );
      await this.#settle(data.operations, `updating branch "${branch.name}"`);
      return data.branch ?? branch;
    } catch (error) {
      // The branch works as it is: a refused extension is worth a line, not a failed deploy.
      // What the user must fix (the key, the project) is rethrown.
      if (!(error instanceof PipelineError) || error.kind === "user") throw error;
      this.api.log(
        `neon: could not extend the expiry of ${branch.name} (${error.message}); ` +
          `it still expires ${branch.expires_at ?? "never"}`,
      );
      return branch;
    }
  }

  async remove(branch: NeonBranch): Promise<boolean> {
    this.api.log(`neon: deleting branch ${branch.name}`);
    const data = await this.api.call(
      `deleting branch "${branch.name}"`,
      (client) =>
        client.deleteProjectBranch({ projectId: this.api.projectId, branchId: branch.id }),
      { onMissing: () => undefined },
    );
    if (!data) return false; // gone meanwhile (Neon's TTL, or a concurrent cleanup)
    await this.#settle(data.operations, `deleting branch "${branch.name}"`);
    return true;
  }

  /**
   * The branch's connection string (it holds a password: never log it): `pooled` asks Neon for
   * the pooler's host (`-pooler`), what the Workers use; without it, the compute's own host,
   * which schema migrations need ("Schema migrations and pg_dump: Direct",
   * https://neon.com/faqs/find-pooled-connection-string-dashboard; PgBouncer runs in transaction
   * mode, https://neon.com/docs/connect/connection-pooling). getConnectionURI's `pooled`
   * parameter: "Adds the `-pooler` option to the connection URI when set to `true`".
   */
  async connectionUri(branch: NeonBranch, pooled: boolean): Promise<string> {
    const data = await this.api.call(
      `getting the ${pooled ? "pooled" : "direct"} connection string of branch "${branch.name}"`,
      (client) =>
        client.getConnectionUri({
          projectId: this.api.projectId,
          branch_id: branch.id,
          database_name: this.databaseName,
          role_name: this.roleName,
          pooled,
        }),
    );
    if (typeof data.uri !== "string" || data.uri === "") {
      throw new PipelineError(
        "DATABASE_FAILED",
        `Neon returned no connection string for branch "${branch.name}"`,
      );
    }
    return data.uri;
  }

  /** Waits until Neon has finished the operations a change started. */
  async #settle(operations: Operation[] | undefined, what: string): Promise<void> {
    let pending = (operations ?? []).filter((op) => !operationDone(op, what));
    for (let polls = 0; pending.length > 0; polls++) {
      if (polls >= OPERATION_MAX_POLLS) {
        throw new PipelineError(
          "DATABASE_FAILED",
          `Neon did not finish ${what} within ${(OPERATION_MAX_POLLS * OPERATION_POLL_MS) / 1000} s ` +
            `(${pending.map((op) => `${op.action}: ${op.status}`).join(", ")})`,
          { hint: "See the project's Operations page in the Neon console, then retry." },
        );
      }
      await this.api.wait(OPERATION_POLL_MS);
      const still: Operation[] = [];
      for (const op of pending) {
        const { operation } = await this.api.call(`checking operation ${op.action}`, (client) =>
          client.getProjectOperation(this.api.projectId, op.id),
        );
        if (!operationDone(operation, what)) still.push(operation);
      }
      pending = still;
    }
  }
}

/** A time `fromNowMs` from now, in RFC 3339 to the second, as Neon asks. */
export function expiry(fromNowMs: number): string {
  return new Date(Date.now() + fromNowMs).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function defaultBranch(branches: NeonBranch[], projectId: string): NeonBranch {
  const main = branches.find((b) => b.default);
  if (!main) {
    throw new PipelineError(
      "DATABASE_FAILED",
      `Neon project "${projectId}" lists no default branch`,
      { hint: "Mark the production branch as default in the Neon console." },
    );
  }
  return main;
}

function operationDone(op: Operation, what: string): boolean {
  const status: string = op.status;
  if (status === "finished" || status === "skipped" || status === "cancelled") return true;
  // "error" with a retry_at is retried by Neon itself; "failed" is final.
  if (status === "failed" || (status === "error" && !op.retry_at)) {
    throw new PipelineError(
      "DATABASE_FAILED",
      `Neon failed ${what}: operation ${op.action} ${status}${op.error ? `: ${op.error}` : ""}`,
      { hint: "See the project's Operations page in the Neon console." },
    );
  }
  return false;
}
