/**
 * preview-time: how long `codex-pipeline preview-deploy --pr 1 --skip-tests` takes on the local
 * target, on a warm install (node_modules present).
 *
 * Method. Every run is the real CLI (`node packages/pipeline/bin/codex-pipeline.js`), spawned as
 * a child process and timed from spawn to exit, against a throwaway state folder
 * (CODEX_STATE_DIR, mkdtemp, chmod 0755) and a free port (CODEX_PORT), so no host already
 * running is touched. (The pipeline keeps the web build's lock and marker in the checkout's own
 * .codex/builds, shared by every state folder, because apps/web/.svelte-kit is shared; runs here
 * use them as any run does.)
 *  (a) first preview: a fresh state folder each run, so the time includes starting the host
 *      (initdb, Postgres, Miniflare), creating main (migrate, seed, template), three
 *      `wrangler deploy --dry-run` bundles, the reload and the smoke checks, and the vite build
 *      only if the checkout's web build is not already current (the "vite ran" column says).
 *      Platform tests are skipped (--skip-tests). The host is stopped and the folder removed
 *      between runs; the last one stays up for (b) and (c).
 *  (b) redeploy with nothing changed: the same command again; bundles are reused.
 *  (c) redeploy after a one-file change, measured without editing any file of the repository:
 *      (c1) `--rebuild` builds a new version of the same code. It re-runs the three wrangler
 *           bundles, but not vite, whose output is keyed by the code hash, so it is a lower bound.
 *      (v)  `pnpm exec vite build` in apps/web alone, holding the pipeline's build lock (the
 *           lock every build takes, so that no other build reads .svelte-kit meanwhile). It
 *           rewrites .svelte-kit with the same code, which changes nothing. --no-vite skips it.
 *      (c)  = (c1) + (v), medians: the work a one-file change causes (vite, then the three
 *           bundles; a change to a Worker's source costs the same, since one hash covers all).
 *      If vite did not run in (a), (a) + (v) is printed too: a first preview on a checkout whose
 *      web build is stale.
 * Each is run N times (default 3; --quick 1) and printed as min and median seconds, with the
 * CLI's own per-step times (medians) for a breakdown, and the CLI's start-up alone
 * (`codex-pipeline --help`) as a baseline. Other engineers editing sources during a run change the
 * code hash; the "rebuilt" and "vite ran" columns show what each run actually did.
 *
 * Usage: node --import tsx bench/preview-time.ts [--quick] [--runs N] [--no-vite] [--verbose]
 *        [--keep]
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { BUILD_PATHS } from "@codex/pipeline";
import {
  REPO,
  createSandbox,
  failureReason,
  flags,
  intFlag,
  machine,
  median,
  min,
  note,
  onCleanup,
  retried,
  retriedNote,
  runBench,
  runCli,
  seconds,
  table,
  type CliResult,
  withBuildLock,
  type Sandbox,
} from "./lib.ts";

const USAGE = `
usage: node --import tsx bench/preview-time.ts [--quick] [--runs N] [--no-vite] [--verbose] [--keep]
  --quick    one run of each measurement
  --runs N   runs of each measurement (default 3)
  --no-vite  do not time vite build alone (then no estimate for a one-file change)
  --verbose  echo the CLI's output to stderr
  --keep     keep the state folders (the hosts are still stopped)`;

const opts = flags(USAGE, { runs: { type: "string" }, "no-vite": { type: "boolean" } });
const runs = opts.quick ? 1 : intFlag(opts.runs, 3, "runs");
const DEPLOY = ["preview-deploy", "--pr", "1", "--skip-tests"];

interface Run extends CliResult {
  rebuilt: boolean;
  viteRan: boolean;
}

/** The web build markers a run may update: the shared one and, in older versions, the sandbox's. */
async function markers(sandbox: Sandbox): Promise<string> {
  const read = (dir: string) =>
    readFile(join(dir, "builds", "web-build.json"), "utf8").catch(() => "");
  return `${await read(BUILD_PATHS.root)}|${await read(sandbox.dir)}`;
}

/**
 * One timed deploy. A failed attempt is noted and tried once more after `prepare` (which must
 * restore the starting point: a fresh sandbox for (a)).
 */
async function deploy(
  get: () => Sandbox,
  extra: string[],
  label: string,
  i: number,
  prepare: (retry: boolean) => Promise<void> = async () => {},
): Promise<Run> {
  let result: CliResult | undefined;
  let before = "";
  for (let attempt = 0; !result; attempt++) {
    await prepare(attempt > 0);
    before = await markers(get());
    try {
      result = await runCli(get(), [...DEPLOY, ...extra]);
    } catch (error) {
      const reason = failureReason(error);
      if (attempt > 0) throw error;
      retried.push(`${label} run ${i + 1}: ${reason}`);
      note(`  ${label} run ${i + 1} failed (${reason}); trying again from the same starting point`);
    }
  }
  const run = {
    ...result,
    rebuilt: !result.stdout.includes("unchanged: bundles reused"),
    viteRan: before !== (await markers(get())),
  };
  note(
    `  ${label} run ${i + 1}/${runs}: ${seconds(run.ms)} s` +
      ` (rebuilt: ${run.rebuilt ? "yes" : "no"}, vite ran: ${run.viteRan ? "yes" : "no"})`,
  );
  return run;
}

/** `pnpm exec vite build` in apps/web under the pipeline's build lock; the build's time only. */
async function viteAlone(): Promise<number> {
  return withBuildLock(async () => {
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      const child = spawn("pnpm", ["exec", "vite", "build"], {
        cwd: join(REPO, "apps", "web"),
        env: { ...process.env, NO_COLOR: "1" },
        stdio: ["ignore", opts.verbose ? "inherit" : "ignore", opts.verbose ? "inherit" : "pipe"],
      });
      const unregister = onCleanup(async () => {
        if (child.exitCode === null) child.kill("SIGTERM");
      });
      let errors = "";
      child.stderr?.on("data", (c: Buffer) => (errors = (errors + c.toString()).slice(-4000)));
      child.on("error", reject);
      child.on("close", (code) => {
        unregister();
        if (code === 0) resolve();
        else reject(new Error(`vite build exited ${code}: ${errors.trim()}`));
      });
    });
    return performance.now() - started;
  });
}

function row(label: string, results: Run[], what: string): string[] {
  const ms = results.map((r) => r.ms);
  const yesNo = (f: (r: Run) => boolean) => results.map((r) => (f(r) ? "y" : "n")).join("");
  return [
    label,
    String(results.length),
    seconds(min(ms)),
    seconds(median(ms)),
    yesNo((r) => r.rebuilt),
    yesNo((r) => r.viteRan),
    what,
  ];
}

function stepTable(sets: [string, Run[]][]): string {
  const names: string[] = [];
  for (const [, results] of sets) {
    for (const r of results)
      for (const s of r.steps) if (!names.includes(s.name)) names.push(s.name);
  }
  const rows = names.map((name) => [
    name,
    ...sets.map(([, results]) => {
      const ms = results.flatMap((r) => r.steps.filter((s) => s.name === name).map((s) => s.ms));
      return ms.length ? seconds(median(ms)) : "-";
    }),
  ]);
  return table(["step (median s, as the CLI reports it)", ...sets.map(([l]) => l)], rows);
}

runBench(async () => {
  note(`preview-time: ${runs} run(s) of each measurement; ${machine()}`);

  const startup: number[] = [];
  const first: Run[] = [];
  const unchanged: Run[] = [];
  const rebuild: Run[] = [];
  const vite: number[] = [];

  let sandbox: Sandbox | undefined;
  const current = () => {
    if (!sandbox) throw new Error("no sandbox");
    return sandbox;
  };
  const fresh = async () => {
    await sandbox?.dispose();
    sandbox = await createSandbox("preview-time");
  };
  for (let i = 0; i < runs; i++) {
    await fresh();
    if (i === 0) startup.push((await runCli(current(), ["--help"])).ms);
    first.push(
      await deploy(current, [], "(a) first preview", i, async (retry) => {
        if (retry) await fresh();
      }),
    );
  }
  const warm = current();

  for (let i = 0; i < runs; i++) {
    startup.push((await runCli(warm, ["--help"])).ms);
    unchanged.push(await deploy(() => warm, [], "(b) unchanged", i));
  }
  for (let i = 0; i < runs; i++) {
    rebuild.push(await deploy(() => warm, ["--rebuild"], "(c1)", i));
  }
  await warm.dispose();
  if (!opts["no-vite"]) {
    for (let i = 0; i < runs; i++) {
      vite.push(await viteAlone());
      note(`  (v) vite build alone ${i + 1}/${runs}: ${seconds(vite[i] ?? 0)} s`);
    }
  }

  const rows = [
    row("(a) first preview", first, "fresh state: host, main, [vite,] 3 bundles, smoke"),
    row("(b) redeploy, unchanged", unchanged, "bundles reused; reload, smoke"),
    row("(c1) redeploy --rebuild", rebuild, "3 wrangler bundles; vite output reused"),
  ];
  if (vite.length) {
    rows.push([
      "(v) vite build alone",
      String(vite.length),
      seconds(min(vite)),
      seconds(median(vite)),
      "",
      "",
      "apps/web, under the pipeline's build lock",
    ]);
    rows.push([
      "(c) one-file change = c1 + v",
      "",
      "",
      seconds(median(rebuild.map((r) => r.ms)) + median(vite)),
      "",
      "",
      "estimate: medians added",
    ]);
    const skipped = first.filter((r) => !r.viteRan);
    if (skipped.length) {
      rows.push([
        "(a) + v, stale web build",
        "",
        "",
        seconds(median(skipped.map((r) => r.ms)) + median(vite)),
        "",
        "",
        "estimate: first preview when vite must run",
      ]);
    }
  }
  rows.push([
    "CLI start-up alone",
    String(startup.length),
    seconds(min(startup)),
    seconds(median(startup)),
    "",
    "",
    "codex-pipeline --help (node + tsx)",
  ]);

  const out: string[] = [];
  out.push(`preview-deploy --pr 1 --skip-tests, local target (${machine()})`);
  out.push(`${runs} run(s) each; wall time of the CLI process, spawn to exit`);
  out.push("");
  out.push(
    table(["measurement", "runs", "min s", "median s", "rebuilt", "vite ran", "what"], rows),
  );
  out.push("");
  out.push("(c) is measured without editing any file: --rebuild forces a new build of the same");
  out.push("code, but it skips vite (its output is keyed by the code hash, and the checkout's web");
  out.push("build is current), so (c1) is a lower bound; a one-file change also runs vite, timed");
  out.push("alone as (v). The (c) row adds the two medians.");
  out.push("");
  out.push(
    stepTable([
      ["(a)", first],
      ["(b)", unchanged],
      ["(c1)", rebuild],
    ]),
  );
  out.push(...retriedNote());
  console.log(out.join("\n"));
});
