/**
 * isolation: whether one environment's change disturbs the others (or itself), how the cost of a
 * change grows with the number of live environments, the host's memory, the CLI's start-up, and
 * every live environment under concurrent load.
 *
 * Method.
 *  0. CLI start-up: `codex-pipeline --help`, spawn to exit, --runs times; and whether it ran the
 *     compiled dist/ (no "through tsx" notice on stderr).
 *  1. One sandbox (throwaway CODEX_STATE_DIR, free CODEX_PORT). `production-deploy` twice (the
 *     second with --rebuild, so that production has a version to roll back to), untimed.
 *  2. For each count C of --counts (live environments, production included; ascending), previews
 *     are deployed (untimed) until C are live. Then, while every live environment's web /health is
 *     polled every 100 ms (one poller each, by Host header on the host's port; a poll is failed
 *     when it is not a 200 or the connection fails, slow when it takes over 1 s), these are timed
 *     from spawn to exit (each command exits after its smoke checks):
 *       new      preview-deploy --pr X --skip-tests: a new environment into a host serving C
 *       warm     the same again, nothing changed
 *       update   the same with --rebuild: a new version of X, X itself polled too
 *       rollback rollback (production to its previous version), production polled too
 *       cleanup  cleanup --pr X
 *     warm and rollback are then run once more with no poller ("unpolled s": what a user waits;
 *     the pollers' /health traffic, which reads the database and calls sibling Workers at 10
 *     requests a second per environment, competes for the same two cores).
 *     For each: the polls of the other environments and of the changed one, failed, slow, and the
 *     longest time between two 200s.
 *  3. Memory at each count of --memory, sampled as the host grows (before that count's changes):
 *     every Worker of every live environment gets one GET /health, then the host's process tree
 *     (node, workerd, postgres) is summed from /proc (VmRSS, and PSS).
 *  4. Load: with the last memory count live, --load-seconds of --connections concurrent
 *     keep-alive clients cycling over every environment's /health; errors, non-200s, latencies.
 *
 *  5. With --old DIR (a checkout of an older commit with its own install, e.g. the design of one
 *     Miniflare for every environment: `git worktree add /tmp/old 8b7980a && cd /tmp/old &&
 *     pnpm install --frozen-lockfile`), steps 0 to 4 run first for it, with its own CLI and a
 *     sandbox of its own, then for this checkout; a last table sets the goals' figures side by side.
 *
 * Usage: node --import tsx bench/isolation.ts [--quick] [--counts 1,10] [--memory 1,10,20]
 *        [--load-seconds 30] [--connections 20] [--runs 5] [--old DIR] [--verbose] [--keep]
 */
import { Agent, request } from "node:http";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  REPO,
  cliOf,
  createSandbox,
  descendants,
  flags,
  hostInfo,
  intFlag,
  listFlag,
  machine,
  mb,
  median,
  memoryOf,
  min,
  note,
  retriedNote,
  runBench,
  runCli,
  seconds,
  table,
  type Sandbox,
} from "./lib.ts";
import { localHostnames, parseEnvironment, run } from "@codex/pipeline";

const USAGE = `
usage: node --import tsx bench/isolation.ts [--quick] [--counts 1,10] [--memory 1,10,20]
       [--load-seconds 30] [--connections 20] [--runs 5] [--old DIR] [--verbose] [--keep]
--old DIR: measure the checkout in DIR (another commit's worktree, installed) the same way first,
           then print the two side by side.
--quick: counts 1,3; memory 1,3; 10 s of load; 3 start-up runs.`;

const values = flags(USAGE, {
  counts: { type: "string" },
  memory: { type: "string" },
  "load-seconds": { type: "string" },
  connections: { type: "string" },
  runs: { type: "string" },
  old: { type: "string" },
});
const quick = values.quick === true;
const COUNTS = listFlag(values.counts, quick ? [1, 3] : [1, 10], "counts");
const MEMORY = listFlag(values.memory, quick ? [1, 3] : [1, 10, 20], "memory");
const LOAD_S = intFlag(values["load-seconds"], quick ? 10 : 30, "load-seconds");
const CONNECTIONS = intFlag(values.connections, 20, "connections");
const RUNS = intFlag(values.runs, quick ? 3 : 5, "runs");
/** A checkout of the design to compare with (a worktree of an older commit, installed). */
const OLD = typeof values.old === "string" ? values.old : undefined;

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** One GET by Host header on the host's port: its status (0 for a connection error) and time. */
function get(port: number, hostname: string, path = "/health", keepAlive = false) {
  const started = performance.now();
  return new Promise<{ status: number; ms: number; error?: string }>((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        headers: { host: `${hostname}:${port}`, accept: "application/json" },
        timeout: 10_000,
        ...(keepAlive ? { agent } : {}),
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error("no answer in 10 s")));
    req.on("error", (error) =>
      resolve({ status: 0, ms: performance.now() - started, error: error.message }),
    );
    req.end();
  });
}

interface PollStats {
  polls: number;
  failed: number;
  slow: number;
  longestGapMs: number;
  firstFailure?: string;
}

/** Polls each hostname's /health every 100 ms while `during` runs. */
async function pollWhile(port: number, hostnames: string[], during: () => Promise<unknown>) {
  let done = false;
  const stats = new Map<string, PollStats>();
  const pollers = hostnames.map(async (hostname) => {
    const s: PollStats = { polls: 0, failed: 0, slow: 0, longestGapMs: 0 };
    stats.set(hostname, s);
    let lastOk = performance.now();
    while (!done) {
      const next = performance.now() + 100;
      const r = await get(port, hostname);
      s.polls++;
      if (r.status === 200) {
        s.longestGapMs = Math.max(s.longestGapMs, performance.now() - lastOk);
        lastOk = performance.now();
      } else {
        s.failed++;
        s.firstFailure ??= r.error ?? `status ${r.status}`;
      }
      if (r.ms > 1000) s.slow++;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
    }
  });
  try {
    await during();
  } finally {
    done = true;
    await Promise.all(pollers);
  }
  return stats;
}

function sum(stats: PollStats[]): PollStats {
  return {
    polls: stats.reduce((a, s) => a + s.polls, 0),
    failed: stats.reduce((a, s) => a + s.failed, 0),
    slow: stats.reduce((a, s) => a + s.slow, 0),
    longestGapMs: Math.max(0, ...stats.map((s) => s.longestGapMs)),
    ...(stats.find((s) => s.firstFailure)
      ? { firstFailure: stats.find((s) => s.firstFailure)?.firstFailure }
      : {}),
  };
}

const hostnames = (env: string) => localHostnames(parseEnvironment(env));
const webHost = (env: string) => hostnames(env).web;

async function live(box: Sandbox): Promise<string[]> {
  const result = await runCli(box, ["status", "--json"]);
  const status = JSON.parse(result.stdout) as { environments: { name: string; live: boolean }[] };
  return status.environments.filter((e) => e.live).map((e) => e.name);
}

/** Production's kept version that it does not serve now: rollbacks alternate between two. */
async function otherProductionVersion(box: Sandbox): Promise<string> {
  const result = await runCli(box, ["status", "--json"]);
  const status = JSON.parse(result.stdout) as {
    environments: { name: string; version?: string; versions?: string[] }[];
  };
  const production = status.environments.find((e) => e.name === "production");
  const other = production?.versions?.find((v) => v !== production.version);
  if (!other) throw new Error("production has no second version to roll back to");
  return other;
}

async function growTo(box: Sandbox, count: number, next: { pr: number }) {
  while ((await live(box)).length < count) {
    note(`  deploying preview ${next.pr} (to ${count} environments)`);
    await runCli(box, ["preview-deploy", "--pr", String(next.pr++), "--skip-tests"], {
      retries: 1,
    });
  }
}

async function memory(box: Sandbox): Promise<{
  rssKb: number;
  pssKb: number;
  workerd: number;
  /** PSS by process kind: the host's node, its workerd processes, postgres and its backends. */
  pssByKind: { node: number; workerd: number; postgres: number };
}> {
  const info = await hostInfo(box.dir);
  if (!info) throw new Error("no host");
  const envs = await live(box);
  for (const env of envs) {
    for (const hostname of Object.values(hostnames(env))) await get(box.port, hostname);
  }
  let rssKb = 0;
  let pssKb = 0;
  let workerd = 0;
  const pssByKind = { node: 0, workerd: 0, postgres: 0 };
  for (const proc of [{ pid: info.pid, comm: "node" }, ...descendants(info.pid)]) {
    const m = memoryOf(proc.pid);
    rssKb += m.rssKb;
    pssKb += m.pssKb;
    if (proc.comm === "workerd") workerd++;
    const kind = proc.comm === "workerd" ? "workerd" : proc.comm === "node" ? "node" : "postgres";
    pssByKind[kind] += m.pssKb;
  }
  return { rssKb, pssKb, workerd, pssByKind };
}

async function load(box: Sandbox) {
  const hosts = (await live(box)).map(webHost);
  const latencies: number[] = [];
  let errors = 0;
  let non200 = 0;
  const firstErrors: string[] = [];
  const until = performance.now() + LOAD_S * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, i) => {
      for (let n = i; performance.now() < until; n++) {
        const r = await get(box.port, hosts[n % hosts.length] ?? "localhost", "/health", true);
        latencies.push(r.ms);
        if (r.status === 0) {
          errors++;
          if (firstErrors.length < 3) firstErrors.push(r.error ?? "");
        } else if (r.status !== 200) non200++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return {
    hosts: hosts.length,
    requests: latencies.length,
    errors,
    non200,
    p50: pct(0.5),
    p99: pct(0.99),
    max: pct(1),
    firstErrors,
  };
}

interface Design {
  label: string;
  checkout: string;
}

interface Measured {
  design: Design;
  startup: string;
  startups: number[];
  opRows: string[][];
  /** By change name and live count: [time ms, unpolled ms?, others failed, changed failed]. */
  ops: Map<string, { ms: number; quietMs?: number; othersFailed: number; selfFailed?: number }>;
  ratios: string[];
  memRows: string[][];
  perEnvKb: Map<number, number>;
  pssKb: Map<number, number>;
  load: Awaited<ReturnType<typeof load>>;
}

/** Every measurement (steps 0 to 4) for one design, its CLI run from its own checkout. */
async function measure(design: Design): Promise<Measured> {
  note(`== ${design.label}: ${design.checkout}`);
  const cli = cliOf(design.checkout);
  const manifest = await readFile(
    join(design.checkout, "packages", "pipeline", "dist", "manifest.json"),
    "utf8",
  ).catch(() => "");

  // 0. CLI start-up.
  const startups: number[] = [];
  let viaTsx = !manifest;
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const r = await run(process.execPath, [cli, "--help"], { cwd: design.checkout });
    startups.push(performance.now() - t);
    viaTsx ||= /through tsx/.test(r.stderr);
  }
  const startup = `min ${seconds(min(startups))} s, median ${seconds(median(startups))} s${viaTsx ? " (node and tsx: no current dist/)" : " (compiled dist/)"}`;

  const box = await createSandbox("isolation", design.checkout);
  note("production-deploy, twice (untimed)");
  await runCli(box, ["production-deploy"], { retries: 1 });
  await runCli(box, ["production-deploy", "--rebuild"], { retries: 1 });
  const next = { pr: 1 };
  const opRows: string[][] = [];
  const ops: Measured["ops"] = new Map();
  // Counts in ascending order: memory is sampled, and the changes run, as the host grows (the
  // changes leave the number of live environments as they found it).
  const memRows: string[][] = [];
  const perEnvKb = new Map<number, number>();
  const pssKb = new Map<number, number>();
  let base: number | undefined;
  const firstMemory = MEMORY[0] ?? 1;
  const firstCount = COUNTS[0] ?? 1;
  for (const count of [...new Set([...COUNTS, ...MEMORY])].sort((a, b) => a - b)) {
    await growTo(box, count, next);
    if (MEMORY.includes(count)) {
      const m = await memory(box);
      base ??= m.pssKb;
      pssKb.set(count, m.pssKb);
      if (count > firstMemory) perEnvKb.set(count, (m.pssKb - base) / (count - firstMemory));
      memRows.push([
        String(count),
        String(m.workerd),
        mb(m.rssKb),
        mb(m.pssKb),
        count > firstMemory ? mb((m.pssKb - base) / (count - firstMemory)) : "-",
        `${mb(m.pssByKind.node)} / ${mb(m.pssByKind.workerd)} / ${mb(m.pssByKind.postgres)}`,
      ]);
    }
    if (!COUNTS.includes(count)) continue;
    const others = (await live(box)).map(webHost);
    const pr = String(next.pr++);
    const own = `pr-${pr}.localhost`;
    const changes: [string, string[], string[]][] = [
      ["new", ["preview-deploy", "--pr", pr, "--skip-tests"], others],
      ["warm", ["preview-deploy", "--pr", pr, "--skip-tests"], [...others, own]],
      ["update", ["preview-deploy", "--pr", pr, "--skip-tests", "--rebuild"], [...others, own]],
      ["rollback", ["rollback", "--to", await otherProductionVersion(box)], [...others, own]],
      ["cleanup", ["cleanup", "--pr", pr], others],
    ];
    for (const [name, args, polled] of changes) {
      note(`  ${count} live: ${name} (${args.join(" ")})`);
      let ms = 0;
      const stats = await pollWhile(box.port, polled, async () => {
        ms = (await runCli(box, args)).ms;
      });
      // The same change again with nobody polling: the time a user waits for it. The pollers'
      // 10 requests a second per environment (each /health reads the database and calls its
      // siblings) compete for the two cores. Warm is unchanged again; a rollback flips back.
      let quietMs: number | undefined;
      if (name === "warm" || name === "rollback") {
        const again =
          name === "rollback" ? ["rollback", "--to", await otherProductionVersion(box)] : args;
        quietMs = (await runCli(box, again)).ms;
      }
      const changed = name === "rollback" ? "localhost" : own;
      const other = sum([...stats].filter(([h]) => h !== changed).map(([, s]) => s));
      const self = stats.get(changed);
      ops.set(`${name} ${count}`, {
        ms,
        ...(quietMs === undefined ? {} : { quietMs }),
        othersFailed: other.failed,
        ...(self ? { selfFailed: self.failed } : {}),
      });
      note(
        `    ${seconds(ms)} s${quietMs === undefined ? "" : ` (${seconds(quietMs)} s unpolled)`}; others failed ${other.failed}/${other.polls}, changed ${self ? `${self.failed}/${self.polls}` : "-"}`,
      );
      opRows.push([
        String(count),
        name,
        seconds(ms),
        quietMs === undefined ? "-" : seconds(quietMs),
        `${other.failed}/${other.polls}`,
        String(other.slow),
        seconds(other.longestGapMs),
        self ? `${self.failed}/${self.polls}` : "-",
        self ? seconds(self.longestGapMs) : "-",
        other.firstFailure ?? self?.firstFailure ?? "",
      ]);
    }
  }
  const ratios: string[] = [];
  const pct = (a?: number, b?: number) => (a && b ? `${((b / a - 1) * 100).toFixed(0)}%` : "-");
  for (const count of COUNTS.slice(1)) {
    const at = (name: string, n: number) => ops.get(`${name} ${n}`);
    ratios.push(
      `at ${count} vs ${firstCount} live: new ${pct(at("new", firstCount)?.ms, at("new", count)?.ms)}, warm ${pct(at("warm", firstCount)?.ms, at("warm", count)?.ms)} (unpolled ${pct(at("warm", firstCount)?.quietMs, at("warm", count)?.quietMs)})`,
    );
  }

  note(`load: ${LOAD_S} s, ${CONNECTIONS} connections`);
  const l = await load(box);
  await box.dispose();
  return { design, startup, startups, opRows, ops, ratios, memRows, perEnvKb, pssKb, load: l };
}

function report(m: Measured) {
  console.log("");
  console.log(`## ${m.design.label} (${m.design.checkout})`);
  console.log("");
  console.log(`CLI start-up (--help, spawn to exit, ${RUNS} runs): ${m.startup}`);
  console.log("");
  console.log(
    "Changes while every live environment's /health is polled every 100 ms (a failed poll: not 200, or no connection; slow: over 1 s)",
  );
  console.log(
    table(
      [
        "live",
        "change",
        "time s",
        "unpolled s",
        "others failed/polls",
        "slow",
        "gap s",
        "changed env failed/polls",
        "gap s",
        "first failure",
      ],
      m.opRows,
    ),
  );
  for (const line of m.ratios) console.log(line);
  console.log("");
  console.log(
    "Host memory, every Worker warm (MB; the host's tree from /proc; per env: PSS added per environment over the first count)",
  );
  console.log(
    table(
      ["environments", "workerd", "RSS", "PSS", "per env", "PSS node / workerd / postgres"],
      m.memRows,
    ),
  );
  console.log("");
  const l = m.load;
  console.log(
    `Load: ${l.hosts} environments, ${CONNECTIONS} keep-alive connections for ${LOAD_S} s`,
  );
  console.log(
    `${l.requests} requests, ${l.errors} connection errors, ${l.non200} non-200; latency p50 ${l.p50.toFixed(0)} ms, p99 ${l.p99.toFixed(0)} ms, max ${l.max.toFixed(0)} ms${l.firstErrors.length ? `; first errors: ${l.firstErrors.join("; ")}` : ""}`,
  );
}

/** The issue's goals, one row each, a column per design. */
function sideBySide(results: Measured[]) {
  const top = COUNTS.at(-1) ?? 1;
  const first = COUNTS[0] ?? 1;
  const s = (ms?: number) => (ms === undefined ? "-" : seconds(ms));
  const failedDuring = (m: Measured, field: "othersFailed" | "selfFailed") =>
    String(
      [...m.ops.entries()]
        .filter(([key]) => key.endsWith(` ${top}`))
        .reduce((a, [, o]) => a + (o[field] ?? 0), 0),
    );
  const lastMem = MEMORY.at(-1) ?? 1;
  const rows: [string, (m: Measured) => string][] = [
    ["CLI start-up (--help), median s", (m) => seconds(median(m.startups))],
    [`new preview into ${first} live, s`, (m) => s(m.ops.get(`new ${first}`)?.ms)],
    [`new preview into ${top} live, s`, (m) => s(m.ops.get(`new ${top}`)?.ms)],
    [`warm deploy at ${first} live, unpolled s`, (m) => s(m.ops.get(`warm ${first}`)?.quietMs)],
    [`warm deploy at ${top} live, unpolled s`, (m) => s(m.ops.get(`warm ${top}`)?.quietMs)],
    [`rollback at ${first} live, unpolled s`, (m) => s(m.ops.get(`rollback ${first}`)?.quietMs)],
    [`rollback at ${top} live, unpolled s`, (m) => s(m.ops.get(`rollback ${top}`)?.quietMs)],
    [`failed polls of others, all changes at ${top} live`, (m) => failedDuring(m, "othersFailed")],
    [`failed polls of the changed env at ${top} live`, (m) => failedDuring(m, "selfFailed")],
    ...[...MEMORY.slice(1)].map((n): [string, (m: Measured) => string] => [
      `memory per env, ${MEMORY[0]} to ${n}, MB PSS`,
      (m) => (m.perEnvKb.has(n) ? mb(m.perEnvKb.get(n) ?? 0) : "-"),
    ]),
    [
      `memory at ${lastMem} envs, MB PSS`,
      (m) => (m.pssKb.has(lastMem) ? mb(m.pssKb.get(lastMem) ?? 0) : "-"),
    ],
    [
      `load: ${CONNECTIONS} clients ${LOAD_S} s, requests / errors`,
      (m) => `${m.load.requests} / ${m.load.errors + m.load.non200}`,
    ],
  ];
  console.log("");
  console.log("## Side by side");
  console.log("");
  const once = rows.filter(([name], i) => rows.findIndex(([other]) => other === name) === i);
  console.log(
    table(
      ["measure", ...results.map((m) => m.design.label)],
      once.map(([name, f]) => [name, ...results.map(f)]),
    ),
  );
}

async function main() {
  console.log(`isolation: ${machine()}`);
  const designs: Design[] = [];
  if (OLD) designs.push({ label: "old design", checkout: resolve(OLD) });
  designs.push({ label: "this checkout", checkout: REPO });
  const results: Measured[] = [];
  for (const design of designs) results.push(await measure(design));
  for (const m of results) report(m);
  if (results.length > 1) sideBySide(results);
  for (const line of retriedNote()) console.log(line);
}

runBench(main);
