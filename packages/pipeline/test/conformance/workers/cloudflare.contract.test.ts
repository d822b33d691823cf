/**
 * The WorkerPlatform conformance suite against the Cloudflare platform: the real wrangler,
 * against the recording stub of the Cloudflare API, with a state file of its own. This suite
 * needs remembered state: list()'s version history is what one machine recorded. How a runner
 * with an empty state folder deploys and rolls back is tested in
 * src/providers/workers/cloudflare.contract.test.ts.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCloudflareStub } from "../../../src/testing/stubs/cloudflare";
import { deriveStack, loadStack } from "../../../src/core/derive";
import { databaseName } from "../../../src/core/environments";
import { REPO_ROOT } from "../../../src/state";
import { CloudflareWorkerPlatform, releaseId } from "../../../src/providers/workers/cloudflare";
import { describeWorkerPlatform } from "./suite";

// Built at run time so that no scanner mistakes the fixtures for real credentials.
const token = (prefix: string) => prefix + randomBytes(12).toString("hex");

describeWorkerPlatform(
  "cloudflare (real wrangler, recording stub)",
  {
    reusesUnchangedVersion: false,
  },
  async () => {
    const stub = await startCloudflareStub();
    const dir = await mkdtemp(join(tmpdir(), "codex-cloudflare-conformance-"));
    const stacks = loadStack(REPO_ROOT);
    const password = token("pw");
    return {
      platform: new CloudflareWorkerPlatform({
        apiToken: stub.apiToken,
        accountId: stub.accountId,
        apiBaseUrl: stub.url,
        stateFile: join(dir, "state.json"),
        secrets: { SESSION_SECRET: token("session-"), STRIPE_WEBHOOK_SECRET: token("whsec_") },
      }),
      database: (environment) =>
        `postgres://app:${password}@db.example.test:5432/${databaseName(environment)}`,
      // What the account runs: every Worker of the environment exists, and the version each one's
      // latest deployment serves, combined in deploy order as deploys name their versions. A
      // secret change (a rollback sets the current secrets again) makes a new version of the same
      // code: the version served is the one deployed before it.
      async served(environment) {
        const versions: { versionId: string }[] = [];
        for (const worker of deriveStack(stacks, environment).workers) {
          const script = stub.scripts.get(worker.name);
          if (!script) return undefined;
          const versionId = script.deployments.find(
            (d) => d.annotations["workers/triggered_by"] !== "secret",
          )?.versions[0]?.version_id;
          if (!versionId) return undefined;
          versions.push({ versionId });
        }
        return releaseId(versions);
      },
      async cleanup() {
        await stub.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
);
