/**
 * cloud-rollback: how long `codex-pipeline rollback --target cloud` takes to put production's
 * previous version back, the "rollback in under two minutes" of the mission, on the cloud path.
 *
 * Method. Cloudflare and Neon cannot be reached here, so the real CLI drives the real wrangler
 * 4.86 against the recording Cloudflare stub, and Neon's client against the Neon stub with an
 * embedded Postgres behind it (packages/pipeline/src/testing/stubs/). Two `production-deploy --target
 * cloud` runs make two versions. Then, N times each (default 3; --quick 1), timed from spawn to
 * exit:
 *  (r) rollback on the machine that deployed, which recorded each deploy's versions
 *      (`rollback --to <the other version>`, alternating, so every run moves all three Workers);
 *  (f) rollback on a fresh runner that recorded nothing (a new state folder each run): it reads
 *      each Worker's `wrangler deployments list --json`, then rolls each one back.
 * Each includes the CLI's start-up and the smoke checks of the three /health URLs (answered by
 * the stub from what was deployed). The stubs answer at once, so against Cloudflare add the
 * API's own latency: about 6 wrangler calls for (r) plus 3 for (f), each a few API requests.
 * The CLI's start-up alone (`codex-pipeline --help`) is printed as a baseline.
 *
 * Usage: node --import tsx bench/cloud-rollback.ts [--quick] [--runs N] [--verbose] [--keep]
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { startCloudflareStub } from "../packages/pipeline/src/testing/stubs/cloudflare.ts";
import { startNeonOnPostgres } from "../packages/pipeline/src/testing/stubs/neon-postgres.ts";
import {
  CLI,
  REPO,
  flags,
  intFlag,
  machine,
  median,
  min,
  note,
  onCleanup,
  removeDir,
  runBench,
  seconds,
  table,
  tempDir,
} from "./lib.ts";

const USAGE = `
node --import tsx bench/cloud-rollback.ts [--quick] [--runs N] [--verbose] [--keep]
  Times rollback --target cloud (recorded, and from a fresh runner) against recording stubs.
`;

interface Run {
  code: number;
  ms: number;
  output: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv, verbose: boolean): Promise<Run> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, env, stdio: "pipe" });
    let output = "";
    const collect = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (verbose) process.stderr.write(chunk);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("close", (code) =>
      resolve({ code: code ?? 1, ms: performance.now() - started, output }),
    );
  });
}

async function must(run: Promise<Run>, what: string): Promise<Run> {
  const result = await run;
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}):\n${result.output}`);
  return result;
}

runBench(async () => {
  const values = flags(USAGE, { runs: { type: "string" } });
  const runs = intFlag(values.runs, values.quick ? 1 : 3, "runs");
  const verbose = values.verbose === true;

  note("starting the Cloudflare stub, and the Neon stub on an embedded Postgres…");
  const cf = await startCloudflareStub();
  onCleanup(() => cf.close());
  const db = await startNeonOnPostgres({ operationPolls: 0 });
  onCleanup(() => db.stop());
  const secret = (prefix: string) => prefix + randomBytes(16).toString("hex");
  const base = {
    ...process.env,
    NO_COLOR: "1",
    CLOUDFLARE_API_TOKEN: cf.apiToken,
    CLOUDFLARE_ACCOUNT_ID: cf.accountId,
    CLOUDFLARE_API_BASE_URL: cf.url,
    CLOUDFLARE_WORKERS_SUBDOMAIN: cf.subdomain,
    NEON_API_KEY: db.neon.apiKey,
    NEON_PROJECT_ID: db.neon.projectId,
    NEON_API_HOST: db.neon.url,
    SESSION_SECRET: secret("session-"),
    STRIPE_WEBHOOK_SECRET: secret("whsec_"),
    CODEX_SMOKE_CONNECT_TO: `127.0.0.1:${new URL(cf.url).port}`,
  };
  const deployer = await tempDir("cloud-rollback");
  onCleanup(() => removeDir(deployer));
  const env = (stateDir: string) => ({ ...base, CODEX_STATE_DIR: stateDir });

  const startup = await cli(["--help"], env(deployer), verbose);
  const versions: string[] = [];
  for (const n of [1, 2]) {
    note(`production-deploy --target cloud (${n} of 2)…`);
    const deploy = await must(
      cli(["production-deploy", "--target", "cloud"], env(deployer), verbose),
      "production-deploy",
    );
    const version =
      /build and deploy the Workers, then web.*?([0-9a-f]{8}\.[0-9a-f]{8}\.[0-9a-f]{8})/s.exec(
        deploy.output,
      )?.[1];
    if (!version) throw new Error(`no version in the deploy's output:\n${deploy.output}`);
    versions.push(version);
  }

  const recorded: number[] = [];
  const fresh: number[] = [];
  for (let i = 0; i < runs; i++) {
    // Alternate between the two versions, so that each run moves all three Workers.
    const to = versions[i % 2] as string;
    note(`rollback --to ${to} (recorded), run ${i + 1} of ${runs}…`);
    recorded.push(
      (
        await must(
          cli(["rollback", "--to", to, "--target", "cloud"], env(deployer), verbose),
          "rollback",
        )
      ).ms,
    );
    const runner = await tempDir("cloud-rollback-fresh");
    note(`rollback from a fresh runner, run ${i + 1} of ${runs}…`);
    fresh.push(
      (await must(cli(["rollback", "--target", "cloud"], env(runner), verbose), "fresh rollback"))
        .ms,
    );
    await removeDir(runner);
  }

  console.log(`cloud-rollback: ${machine()}; ${runs} run(s) each, seconds from spawn to exit`);
  console.log("");
  console.log(
    table(
      ["rollback", "min", "median", "runs"],
      [
        [
          "(r) recorded versions",
          seconds(min(recorded)),
          seconds(median(recorded)),
          recorded.map((ms) => seconds(ms, 1)).join(" "),
        ],
        [
          "(f) fresh runner",
          seconds(min(fresh)),
          seconds(median(fresh)),
          fresh.map((ms) => seconds(ms, 1)).join(" "),
        ],
        ["CLI start-up (--help)", seconds(startup.ms), seconds(startup.ms), seconds(startup.ms, 1)],
      ],
    ),
  );
  console.log("");
  console.log(
    `stub requests: ${cf.requests.length} to Cloudflare, ${db.neon.requests.length} to Neon`,
  );
});
