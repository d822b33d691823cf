/**
 * env-online: how long a new environment takes to come online in the running local host, beside
 * a cold `wrangler dev` of the same three Workers.
 *
 * Method.
 *  1. New preview into a running host. One sandbox (throwaway CODEX_STATE_DIR, free CODEX_PORT);
 *     previews pr 1..N are deployed first (N = --previews, default 3; --quick 1), untimed. Then
 *     `codex-pipeline preview-deploy --pr N+1 --skip-tests` is timed from spawn to exit: the
 *     command exits right after its smoke checks (web, auth and webhook /health all 200 with the
 *     right environment), so this is command start to smoke passing. It includes the CLI's
 *     start-up, the database branch (a template copy), migrations (none pending), wrangler's
 *     three dry-run bundles for the new environment's configs (vite's output is reused), the
 *     registry update, the host's reload and the smoke checks. Between runs the preview is
 *     removed with `cleanup --pr N+1` (untimed), so that every run adds a new environment.
 *  2. The host's reload. With N+1 previews live, `POST /reload` on the control port (the call
 *     every deploy makes after changing the registry) is timed, and then, from the same start,
 *     the first 200 from http://pr-<N+1>.localhost/health (polled every 20 ms). The registry is
 *     unchanged here, and each environment has its own runtime, which a reload touches only when
 *     that environment changed: so this is the control round trip, with no restart in it. A new
 *     environment's start is in (1).
 *  3. wrangler dev. `wrangler dev -c apps/web/wrangler.jsonc -c workers/auth/wrangler.jsonc
 *     -c workers/stripe-webhook-handler/wrangler.jsonc` on a free --port and --inspector-port,
 *     with WRANGLER_SEND_METRICS=false, CI=true and --persist-to a temp folder, timed from spawn
 *     until http://127.0.0.1:<port>/health answers anything over HTTP (without secrets or a
 *     database it answers 500 or 503; any answer counts as online). The web config's main is
 *     .svelte-kit/cloudflare/_worker.js: if it is missing, `pnpm --filter @codex/web exec vite
 *     build` runs first (untimed). wrangler's whole process group is killed after each run.
 *     Each run holds the pipeline's build lock (the checkout's .codex/locks/build) from spawn to
 *     kill, so that no pipeline build rewrites .svelte-kit while wrangler bundles it.
 *     wrangler still writes its bundling scratch files to <config dir>/.wrangler/tmp (gitignored).
 * Each timing is run R times (--runs, default 3; --quick 1; reloads 5, --quick 3) and printed as
 * min and median seconds.
 *
 * Usage: node --import tsx bench/env-online.ts [--quick] [--previews N] [--runs R]
 *        [--reloads K] [--no-wrangler] [--no-host] [--verbose] [--keep]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { getByHost } from "../packages/pipeline/src/smoke.ts";
import {
  REPO,
  alive,
  createSandbox,
  flags,
  freePort,
  hostInfo,
  intFlag,
  machine,
  median,
  min,
  note,
  onCleanup,
  removeDir,
  retriedNote,
  runBench,
  runCli,
  seconds,
  sleep,
  table,
  tempDir,
  withBuildLock,
  type CliResult,
} from "./lib.ts";

const USAGE = `
usage: node --import tsx bench/env-online.ts [--quick] [--previews N] [--runs R] [--reloads K]
  --quick        --previews 1 --runs 1 --reloads 3
  --previews N   previews the host already serves (default 3)
  --runs R       timed deploys of preview N+1, and wrangler dev starts (default 3)
  --reloads K    timed host reloads (default 5)
  --no-wrangler  skip the wrangler dev comparison
  --no-host      skip the local host measurements
  --verbose      echo the CLI's and wrangler's output to stderr
  --keep         keep the temp folders (everything started is still stopped)`;

const opts = flags(USAGE, {
  previews: { type: "string" },
  runs: { type: "string" },
  reloads: { type: "string" },
  "no-wrangler": { type: "boolean", default: false },
  "no-host": { type: "boolean", default: false },
});
const previews = intFlag(opts.previews, opts.quick ? 1 : 3, "previews");
const runs = intFlag(opts.runs, opts.quick ? 1 : 3, "runs");
const reloads = intFlag(opts.reloads, opts.quick ? 3 : 5, "reloads");
const WRANGLER = join(REPO, "node_modules", "wrangler", "bin", "wrangler.js");
const CONFIGS = [
  "apps/web/wrangler.jsonc",
  "workers/auth/wrangler.jsonc",
  "workers/stripe-webhook-handler/wrangler.jsonc",
];
const WEB_ENTRY = join(REPO, "apps", "web", ".svelte-kit", "cloudflare", "_worker.js");

interface HostFigures {
  deploys: CliResult[];
  reloadMs: number[];
  first200Ms: number[];
}

async function hostPart(): Promise<HostFigures> {
  const sandbox = await createSandbox("env-online");
  for (let pr = 1; pr <= previews; pr++) {
    const r = await runCli(sandbox, ["preview-deploy", "--pr", String(pr), "--skip-tests"], {
      retries: 1,
    });
    note(`  set-up: deployed pr ${pr} in ${seconds(r.ms)} s`);
  }
  const next = String(previews + 1);
  const deploys: CliResult[] = [];
  for (let i = 0; i < runs; i++) {
    if (i > 0) await runCli(sandbox, ["cleanup", "--pr", next], { retries: 1 });
    const r = await runCli(sandbox, ["preview-deploy", "--pr", next, "--skip-tests"], {
      retries: 1,
    });
    deploys.push(r);
    note(`  pr ${next} into a host serving ${previews}: ${seconds(r.ms)} s (${i + 1}/${runs})`);
  }

  const info = await hostInfo(sandbox.dir);
  if (!info) throw new Error("no host.json after the deploys");
  const reloadMs: number[] = [];
  const first200Ms: number[] = [];
  for (let i = 0; i < reloads; i++) {
    const t0 = performance.now();
    const response = await fetch(`http://127.0.0.1:${info.controlPort}/reload`, {
      method: "POST",
      signal: AbortSignal.timeout(60_000),
    });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`POST /reload answered ${response.status}`);
    const t1 = performance.now();
    const deadline = t1 + 30_000;
    for (;;) {
      const r = await getByHost(sandbox.port, `pr-${next}.localhost`, "/health", 10_000).catch(
        () => undefined,
      );
      if (r?.status === 200) break;
      if (performance.now() > deadline) throw new Error(`pr-${next} did not answer 200 in 30 s`);
      await sleep(20);
    }
    const t2 = performance.now();
    reloadMs.push(t1 - t0);
    first200Ms.push(t2 - t0);
    note(`  reload ${i + 1}/${reloads}: ${seconds(t1 - t0)} s, first 200 at ${seconds(t2 - t0)} s`);
  }
  await sandbox.dispose();
  return { deploys, reloadMs, first200Ms };
}

interface WranglerRun {
  ms: number;
  status: number;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone.
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopWrangler(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  killGroup(child, "SIGTERM");
  const deadline = Date.now() + 8_000;
  while ((groupAlive(pid) || alive(pid)) && Date.now() < deadline) await sleep(100);
  if (groupAlive(pid)) killGroup(child, "SIGKILL");
}

/** Under the build lock (held by the caller). */
async function ensureWebBuild(): Promise<void> {
  if (existsSync(WEB_ENTRY)) return;
  note("  apps/web has no .svelte-kit/cloudflare/_worker.js: running vite build first (untimed)");
  await new Promise<void>((resolve, reject) => {
    const child = spawn("pnpm", ["--filter", "@codex/web", "exec", "vite", "build"], {
      cwd: REPO,
      stdio: ["ignore", opts.verbose ? "inherit" : "ignore", "inherit"],
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`vite build: ${code}`)),
    );
  });
}

async function wranglerOnce(): Promise<WranglerRun> {
  const port = await freePort();
  const inspector = await freePort();
  const persist = await tempDir("wrangler-state");
  const args = [WRANGLER, "dev", ...CONFIGS.flatMap((c) => ["-c", c])];
  args.push("--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector));
  args.push("--persist-to", persist, "--show-interactive-dev-session=false");
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: REPO,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" },
  });
  const unregister = onCleanup(async () => {
    await stopWrangler(child);
    await removeDir(persist);
  });
  let output = "";
  const collect = (c: Buffer) => {
    output += c.toString();
    if (opts.verbose) process.stderr.write(c);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  try {
    const deadline = started + 180_000;
    for (;;) {
      if (child.exitCode !== null) {
        throw new Error(`wrangler dev exited ${child.exitCode}:\n${output.trim().slice(-2000)}`);
      }
      const response = await fetch(`http://127.0.0.1:${port}/health`, {
        signal: AbortSignal.timeout(5_000),
      }).catch(() => undefined);
      if (response) {
        await response.arrayBuffer().catch(() => undefined);
        return { ms: performance.now() - started, status: response.status };
      }
      if (performance.now() > deadline) {
        throw new Error(`wrangler dev gave no answer in 180 s:\n${output.trim().slice(-2000)}`);
      }
      await sleep(100);
    }
  } finally {
    unregister();
    await stopWrangler(child);
    await removeDir(persist);
  }
}

runBench(async () => {
  note(
    `env-online: ${previews} preview(s) first, ${runs} run(s), ${reloads} reload(s); ${machine()}`,
  );
  const host = opts["no-host"] ? undefined : await hostPart();
  const wrangler: WranglerRun[] = [];
  if (!opts["no-wrangler"]) {
    for (let i = 0; i < runs; i++) {
      // Held from before the spawn until wrangler is stopped: wrangler bundles the web app's
      // .svelte-kit output, which a pipeline build elsewhere could be rewriting.
      const r = await withBuildLock(async () => {
        await ensureWebBuild();
        return wranglerOnce();
      });
      wrangler.push(r);
      note(`  wrangler dev ${i + 1}/${runs}: answered ${r.status} after ${seconds(r.ms)} s`);
    }
  }

  const rows: string[][] = [];
  const add = (label: string, ms: number[], what: string) =>
    rows.push([label, String(ms.length), seconds(min(ms)), seconds(median(ms)), what]);
  if (host) {
    add(
      `new preview (pr ${previews + 1}) into a host serving ${previews}`,
      host.deploys.map((d) => d.ms),
      "preview-deploy --skip-tests: start to smoke passing",
    );
    const stepNames = [...new Set(host.deploys.flatMap((d) => d.steps.map((s) => s.name)))];
    for (const name of stepNames) {
      const ms = host.deploys.flatMap((d) =>
        d.steps.filter((s) => s.name === name).map((s) => s.ms),
      );
      add(`  step: ${name}`, ms, "as the CLI reports it");
    }
    add("host reload (POST /reload)", host.reloadMs, `nothing changed, ${previews + 1} envs`);
    add(
      `reload to first 200 from pr-${previews + 1}`,
      host.first200Ms,
      "registry change to the new hostname answering",
    );
  }
  if (wrangler.length) {
    const statuses = [...new Set(wrangler.map((w) => w.status))].join("/");
    add(
      "wrangler dev, 3 configs (cold start)",
      wrangler.map((w) => w.ms),
      `spawn to first HTTP answer on /health (${statuses})`,
    );
  }
  const out: string[] = [];
  out.push(`A new environment coming online (${machine()})`);
  out.push("");
  out.push(table(["measurement", "runs", "min s", "median s", "what"], rows));
  if (wrangler.length) {
    out.push("");
    out.push(
      "wrangler dev counts any HTTP answer as online: without secrets or a database its /health",
    );
    out.push("answers an error status; the host's figures need 200 from all three Workers.");
  }
  out.push(...retriedNote());
  console.log(out.join("\n"));
});
