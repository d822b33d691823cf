/**
 * host-memory: resident memory of the local host with 1, 5 and 10 live previews (--quick: 1
 * and 3).
 *
 * Method. One sandbox (a throwaway CODEX_STATE_DIR and a free CODEX_PORT). Previews pr 1..max
 * are deployed one after the other with `codex-pipeline preview-deploy --pr N --skip-tests`
 * (the first builds with vite; later ones only bundle their own configs with wrangler's dry
 * run). At each count, after a short settle, memory is sampled twice:
 *  - "after deploy": as the last deploy left it (its reload and smoke checks included);
 *  - "all warm": after one GET /health to every Worker of every preview, so that each one's
 *    isolate is loaded and has touched its database.
 * Each sample reads the host's own figure from `codex-pipeline status --json` (host.rssMb: the
 * Node process's process.memoryUsage().rss) and walks the host's process tree in /proc (ppid
 * links) to sum VmRSS from /proc/<pid>/status by kind: the host's Node process, workerd
 * (Miniflare's runtime, a child of the host) and postgres (the postmaster and its backends).
 * Summed RSS counts shared pages (Postgres's shared buffers, shared libraries) once per process,
 * so the total over-counts; the PSS column (/proc/<pid>/smaps_rollup, shared pages divided
 * between their sharers) is the fairer total.
 *
 * Usage: node --import tsx bench/host-memory.ts [--quick] [--counts 1,5,10] [--settle S]
 *        [--verbose] [--keep]
 */
import { getByHost } from "../packages/pipeline/src/smoke.ts";
import {
  createSandbox,
  flags,
  hostInfo,
  listFlag,
  machine,
  mb,
  memoryOf,
  note,
  descendants,
  retriedNote,
  runBench,
  runCli,
  seconds,
  sleep,
  table,
  type Sandbox,
} from "./lib.ts";

const USAGE = `
usage: node --import tsx bench/host-memory.ts [--quick] [--counts 1,5,10] [--settle S]
  --quick        counts 1 and 3
  --counts LIST  numbers of live previews to sample at (default 1,5,10)
  --settle S     seconds to wait before each sample (default 3)
  --verbose      echo the CLI's output to stderr
  --keep         keep the state folder (the host is still stopped)`;

const opts = flags(USAGE, { counts: { type: "string" }, settle: { type: "string" } });
const counts = listFlag(opts.counts, opts.quick ? [1, 3] : [1, 5, 10], "counts")
  .map(Math.floor)
  .sort((a, b) => a - b);
const settleMs = Number(opts.settle ?? 3) * 1000;

interface Sample {
  previews: number;
  state: string;
  statusRssMb: number;
  hostKb: number;
  workerdKb: number;
  workerdProcs: number;
  postgresKb: number;
  postgresProcs: number;
  otherKb: number;
  others: string[];
  totalKb: number;
  totalPssKb: number;
}

async function sample(sandbox: Sandbox, previews: number, state: string): Promise<Sample> {
  await sleep(settleMs);
  const status = JSON.parse((await runCli(sandbox, ["status", "--json"])).stdout) as {
    host: { running: boolean; pid?: number; rssMb?: number };
    environments: { name: string; live: boolean }[];
  };
  const info = await hostInfo(sandbox.dir);
  if (!status.host.running || !info) throw new Error("the host is not running");
  const live = status.environments.filter((e) => e.live).length;
  if (live !== previews)
    note(`  warning: status reports ${live} live previews, expected ${previews}`);
  const s: Sample = {
    previews,
    state,
    statusRssMb: status.host.rssMb ?? 0,
    hostKb: 0,
    workerdKb: 0,
    workerdProcs: 0,
    postgresKb: 0,
    postgresProcs: 0,
    otherKb: 0,
    others: [],
    totalKb: 0,
    totalPssKb: 0,
  };
  for (const proc of [{ pid: info.pid, comm: "node" }, ...descendants(info.pid)]) {
    const m = memoryOf(proc.pid);
    s.totalKb += m.rssKb;
    s.totalPssKb += m.pssKb;
    if (proc.pid === info.pid) s.hostKb += m.rssKb;
    else if (proc.comm === "workerd") {
      s.workerdKb += m.rssKb;
      s.workerdProcs++;
    } else if (proc.comm === "postgres") {
      s.postgresKb += m.rssKb;
      s.postgresProcs++;
    } else {
      s.otherKb += m.rssKb;
      s.others.push(proc.comm);
    }
  }
  note(
    `  ${previews} preview(s), ${state}: total RSS ${mb(s.totalKb)} MB, PSS ${mb(s.totalPssKb)} MB`,
  );
  return s;
}

async function warmAll(sandbox: Sandbox, previews: number): Promise<void> {
  const statuses: number[] = [];
  for (let pr = 1; pr <= previews; pr++) {
    for (const host of [`pr-${pr}`, `pr-${pr}-auth`, `pr-${pr}-webhook`]) {
      const r = await getByHost(sandbox.port, `${host}.localhost`, "/health", 30_000);
      statuses.push(r.status);
    }
  }
  const bad = statuses.filter((s) => s !== 200).length;
  if (bad) note(`  warning: ${bad} of ${statuses.length} /health requests did not answer 200`);
}

runBench(async () => {
  const max = counts[counts.length - 1] ?? 1;
  note(`host-memory: counts ${counts.join(", ")}; ${machine()}`);
  const sandbox = await createSandbox("host-memory");
  const samples: Sample[] = [];
  for (let pr = 1; pr <= max; pr++) {
    const r = await runCli(sandbox, ["preview-deploy", "--pr", String(pr), "--skip-tests"], {
      retries: 1,
    });
    note(`  deployed pr ${pr} in ${seconds(r.ms)} s`);
    if (counts.includes(pr)) {
      samples.push(await sample(sandbox, pr, "after deploy"));
      await warmAll(sandbox, pr);
      samples.push(await sample(sandbox, pr, "all warm"));
    }
  }
  await sandbox.dispose();

  const others = [...new Set(samples.flatMap((s) => s.others))];
  const out: string[] = [];
  out.push(`Local host memory against live previews (${machine()})`);
  out.push(
    "MB; RSS from /proc/<pid>/status VmRSS summed over the host's process tree; PSS from smaps_rollup",
  );
  out.push("");
  out.push(
    table(
      [
        "previews",
        "state",
        "host node",
        "(status rssMb)",
        "workerd",
        "postgres",
        "other",
        "total RSS",
        "total PSS",
        "procs w/pg",
      ],
      samples.map((s) => [
        String(s.previews),
        s.state,
        mb(s.hostKb),
        String(s.statusRssMb),
        mb(s.workerdKb),
        mb(s.postgresKb),
        mb(s.otherKb),
        mb(s.totalKb),
        mb(s.totalPssKb),
        `${s.workerdProcs}/${s.postgresProcs}`,
      ]),
    ),
  );
  out.push("");
  out.push(
    "host node: the host's Node process (status --json reports the same process as host.rssMb).",
  );
  out.push(
    "postgres sums the postmaster and every backend, so shared buffers count several times in RSS.",
  );
  out.push(`procs w/pg: workerd processes / postgres processes in the tree.`);
  if (others.length) out.push(`other processes in the tree: ${others.join(", ")}`);
  out.push(...retriedNote());
  console.log(out.join("\n"));
});
