/**
 * schema-checks: the time the schema checks add to a deploy on the local target, for one pending
 * migration: finding the pending migrations, squawk's lint, the schema diff (both databases read
 * from their catalogs) and the destructive-change gate, beside the time of the rest of the
 * deploy.
 *
 * Method. A copy of the checkout (copyCheckout of the integration tests: the files git would
 * clone, `pnpm install --offline`), so that migrations can be added without touching this
 * checkout, and a throwaway state folder and port (createSandbox). A first production-deploy
 * makes main. Then, per run i: a migration `ALTER TABLE "users" ADD COLUMN "bench_<i>" text`
 * (file and journal entry) is added to the copy, and timed from spawn to exit:
 *  (p) `preview-deploy --pr 1 --skip-tests`: the branch is migrated, and the checks compare it
 *      with main (the preview's first run builds; later ones reuse the bundles);
 *  (m) `production-deploy`: the checks run between the throwaway copy's migration and main's.
 * The checks' share is the sum of their steps as the CLI reports them (its step lines); "rest"
 * is the CLI's wall time minus that. Each is run N times (default 3; --quick 1): min and median.
 *
 * Usage: node --import tsx bench/schema-checks.ts [--quick] [--runs N] [--verbose] [--keep]
 */
import { join } from "node:path";
import { run } from "@codex/pipeline";
import { addMigration, copyCheckout } from "../packages/pipeline/test/integration/cli.ts";
import {
  createSandbox,
  flags,
  intFlag,
  machine,
  median,
  min,
  note,
  onCleanup,
  parseSteps,
  removeDir,
  runBench,
  seconds,
  table,
  tempDir,
  type Sandbox,
  type Step,
} from "./lib.ts";

const USAGE = `
usage: node --import tsx bench/schema-checks.ts [--quick] [--runs N] [--verbose] [--keep]
  --quick    one run of each measurement
  --runs N   runs of each measurement (default 3)
  --verbose  echo the CLI's output to stderr
  --keep     keep the temp folders (the host is still stopped)`;

const opts = flags(USAGE, { runs: { type: "string" } });
const runs = opts.quick ? 1 : intFlag(opts.runs, 3, "runs");

/** The schema checks' steps (packages/pipeline/src/schema/index.ts). */
const CHECKS = [
  "find the migrations main lacks",
  "lint the pending migrations (squawk)",
  "diff the schema against main",
  "destructive-change gate",
];

interface Timed {
  ms: number;
  steps: Step[];
}

/** The copy's own CLI (not this checkout's), in the sandbox's state folder and port. */
async function cli(copy: string, sandbox: Sandbox, args: string[]): Promise<Timed> {
  const started = performance.now();
  const result = await run(
    process.execPath,
    [join(copy, "packages/pipeline/bin/codex-pipeline.js"), ...args],
    {
      cwd: copy,
      env: {
        ...process.env,
        CODEX_STATE_DIR: sandbox.dir,
        CODEX_PORT: String(sandbox.port),
        NO_COLOR: "1",
      },
      ...(opts.verbose ? { onLine: (line: string) => process.stderr.write(`${line}\n`) } : {}),
    },
  );
  const ms = performance.now() - started;
  if (result.code !== 0) {
    throw new Error(
      `codex-pipeline ${args.join(" ")} exited ${result.code}:\n${result.output.split("\n").slice(-25).join("\n")}`,
    );
  }
  return { ms, steps: parseSteps(result.stdout) };
}

const checksMs = (t: Timed) =>
  t.steps.filter((s) => CHECKS.includes(s.name)).reduce((sum, s) => sum + s.ms, 0);

runBench(async () => {
  const parent = await tempDir("schema");
  const unregister = onCleanup(() => removeDir(parent));
  note("copying the checkout and installing it (offline)…");
  const copy = await copyCheckout(parent, { install: true });
  const sandbox = await createSandbox("schema-state");
  note("first production-deploy (makes main)…");
  await cli(copy, sandbox, ["production-deploy"]);

  const preview: Timed[] = [];
  const production: Timed[] = [];
  for (let i = 1; i <= runs; i++) {
    await addMigration(
      copy,
      `${String(i).padStart(4, "0")}_bench_${i}`,
      `ALTER TABLE "users" ADD COLUMN "bench_${i}" text;\n`,
    );
    note(`run ${i}/${runs}: preview-deploy…`);
    preview.push(await cli(copy, sandbox, ["preview-deploy", "--pr", "1", "--skip-tests"]));
    note(`run ${i}/${runs}: production-deploy…`);
    production.push(await cli(copy, sandbox, ["production-deploy"]));
  }
  await sandbox.dispose();
  unregister();
  await removeDir(parent);

  const row = (label: string, timed: Timed[]) => {
    const checks = timed.map(checksMs);
    const rest = timed.map((t, i) => t.ms - (checks[i] ?? 0));
    return [
      label,
      String(timed.length),
      seconds(min(checks)),
      seconds(median(checks)),
      seconds(median(rest)),
      `${((median(checks) / median(timed.map((t) => t.ms))) * 100).toFixed(0)} %`,
    ];
  };
  console.log(`schema checks for one pending migration, local target (${machine()})`);
  console.log(`${runs} run(s) each; seconds\n`);
  console.log(
    table(
      ["deploy", "runs", "checks min", "checks median", "rest median", "checks share"],
      [row("(p) preview-deploy --skip-tests", preview), row("(m) production-deploy", production)],
    ),
  );
  console.log("\nstep (median s, as the CLI reports it)   (p)    (m)");
  for (const name of CHECKS) {
    const of = (timed: Timed[]) =>
      seconds(median(timed.map((t) => t.steps.find((s) => s.name === name)?.ms ?? 0)));
    console.log(`${name.padEnd(40)} ${of(preview).padStart(5)}  ${of(production).padStart(5)}`);
  }
  console.log(
    "\nrest = the CLI's wall time (spawn to exit, start-up included) minus the checks' steps.",
  );
});
