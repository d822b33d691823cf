/** Helpers for tests that drive the real codex-pipeline CLI, each in its own state folder and port. */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmod,
  copyFile,
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import {
  BUILD_PATHS,
  WEB_BUILD_MARKER,
  WORKER_DIRS,
  webBuildIsCurrent,
  webCodeHash,
} from "../../src/build";
import { statePaths, withLock } from "../../src/state";

/** This checkout's root. */
export const REPO = fileURLToPath(new URL("../../../..", import.meta.url));
/** The CLI, relative to a checkout's root. */
export const CLI = join("packages", "pipeline", "bin", "codex-pipeline.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Runs a command to its end, with its output; rejects only when it cannot start. */
export function runCommand(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code, signal) =>
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }),
    );
  });
}

export const explain = (r: CliResult) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;

/**
 * A copy of this checkout as `git clone` would give it (the files git tracks, and new files it
 * would add: this checkout's work), in `parent`/codex, for tests that change the code or the
 * migrations without touching the checkout other suites build from. `install` runs
 * `pnpm install --offline --frozen-lockfile` in it (from the local store: a few seconds warm),
 * and gives it this checkout's vite output when that is current (reuseWebBuild).
 */
export async function copyCheckout(
  parent: string,
  options: { install?: boolean } = {},
): Promise<string> {
  const copy = join(parent, "codex");
  const listed = await runCommand(
    "git",
    ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    REPO,
  );
  if (listed.code !== 0) throw new Error(`git ls-files failed: ${explain(listed)}`);
  for (const file of listed.stdout.split("\0").filter(Boolean)) {
    const source = join(REPO, file);
    if (!(await stat(source).catch(() => undefined))?.isFile()) continue; // deleted, not committed
    await mkdir(dirname(join(copy, file)), { recursive: true });
    await copyFile(source, join(copy, file));
  }
  if (options.install) {
    const install = await runCommand("pnpm", ["install", "--offline", "--frozen-lockfile"], copy);
    if (install.code !== 0) throw new Error(`pnpm install in ${copy} failed: ${explain(install)}`);
    await reuseWebBuild(copy);
  }
  return copy;
}

// What a vite build leaves in apps/web/.svelte-kit that the Workers' bundles and assets are made
// of: the adapter's output (_worker.js and the assets), its manifest, and SvelteKit's output.
const VITE_OUTPUT = ["cloudflare", "cloudflare-tmp", "output"];

/**
 * Gives a copy this checkout's vite output and build marker when they were built from the web
 * sources the copy has too: what the copy's first build would make (the output names no path),
 * without one more vite run per copy. Under build.ts's build lock, so that no build here rewrites
 * the output meanwhile. The copy's pipeline still compares the marker with its own sources, and
 * builds when they differ; with no current output here, the copy builds its own, as before.
 */
async function reuseWebBuild(copy: string): Promise<void> {
  const code = await webCodeHash();
  await withLock(BUILD_PATHS, "build", async () => {
    if (!(await webBuildIsCurrent(code))) return;
    const output = join(WORKER_DIRS.web, ".svelte-kit");
    const target = join(copy, "apps", "web", ".svelte-kit");
    for (const folder of VITE_OUTPUT)
      await cp(join(output, folder), join(target, folder), { recursive: true });
    const marker = join(statePaths(join(copy, ".codex")).builds, "web-build.json");
    await mkdir(dirname(marker), { recursive: true });
    await copyFile(WEB_BUILD_MARKER, marker);
  });
}

/**
 * Adds a migration to a copy of the checkout (copyCheckout): its SQL file and its entry in
 * drizzle's journal, which is what drizzle (and the pipeline's schema checks) read. Adding the
 * same tag again only rewrites the file.
 */
export async function addMigration(copy: string, tag: string, sql: string): Promise<void> {
  const folder = join(copy, "packages", "database", "drizzle");
  await writeFile(join(folder, `${tag}.sql`), sql);
  const path = join(folder, "meta", "_journal.json");
  const journal = JSON.parse(await readFile(path, "utf8")) as {
    entries: { idx: number; version: string; when: number; tag: string; breakpoints: boolean }[];
  };
  if (journal.entries.some((e) => e.tag === tag)) return;
  const last = journal.entries.at(-1);
  if (!last) throw new Error(`${path} has no entries`);
  journal.entries.push({
    idx: last.idx + 1,
    version: last.version,
    when: last.when + 1000,
    tag,
    breakpoints: true,
  });
  await writeFile(path, `${JSON.stringify(journal, null, 2)}\n`);
}

export class Sandbox {
  private constructor(
    readonly stateDir: string,
    readonly port: number,
    /** The checkout whose CLI runs: this one, or a copy (copyCheckout). */
    readonly repo: string,
  ) {}

  static async create(options: { repo?: string } = {}): Promise<Sandbox> {
    const dir = await mkdtemp(join(tmpdir(), "codex-it-"));
    // As root, Postgres runs as the `postgres` user, which must be able to reach its data folder.
    await chmod(dir, 0o755);
    return new Sandbox(dir, await freePort(), options.repo ?? REPO);
  }

  get env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      CODEX_STATE_DIR: this.stateDir,
      CODEX_PORT: String(this.port),
      NO_COLOR: "1",
    };
  }

  /** Starts the CLI; resolve `done` for its result, or kill `child` to interrupt it. */
  start(
    args: string[],
    env: NodeJS.ProcessEnv = this.env,
  ): { child: ChildProcess; done: Promise<CliResult>; output: () => string } {
    const child = spawn(process.execPath, [join(this.repo, CLI), ...args], {
      cwd: this.repo,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    const done = new Promise<CliResult>((resolve) =>
      child.on("close", (code, signal) =>
        resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }),
      ),
    );
    return { child, done, output: () => stdout + stderr };
  }

  run(...args: string[]): Promise<CliResult> {
    return this.start(args).done;
  }

  /** Runs the CLI with exactly `env` (for the cloud target's settings). */
  runWith(env: NodeJS.ProcessEnv, args: string[]): Promise<CliResult> {
    return this.start(args, env).done;
  }

  async status(): Promise<{
    host: { running: boolean; pgPort?: number };
    environments: {
      name: string;
      version?: string;
      live: boolean;
      branch: string;
      state: string;
      detail?: string;
    }[];
  }> {
    const result = await this.run("status", "--json");
    if (result.code !== 0) throw new Error(`status failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as Awaited<ReturnType<Sandbox["status"]>>;
  }

  /** A request to the local host, addressed by Host header as a browser would. */
  http(
    hostname: string,
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: string;
  }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: this.port,
          path,
          method: init.method ?? "GET",
          headers: { host: `${hostname}:${this.port}`, accept: "text/html", ...init.headers },
        },
        (res) => {
          let body = "";
          res.on("data", (c: Buffer) => (body += c.toString("utf8")));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on("error", reject);
      if (init.body) req.write(init.body);
      req.end();
    });
  }

  /** Submits a form to an environment's web app, as a browser without JavaScript does. */
  submit(hostname: string, path: string, fields: Record<string, string>) {
    return this.http(hostname, path, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: `http://${hostname}:${this.port}`,
      },
      body: new URLSearchParams(fields).toString(),
    });
  }

  async sql<T>(database: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
    const host = JSON.parse(await readFile(join(this.stateDir, "host.json"), "utf8")) as {
      pgPort: number;
    };
    const sql = postgres(`postgres://postgres:codex-local@127.0.0.1:${host.pgPort}/${database}`, {
      max: 1,
      onnotice: () => {},
    });
    try {
      return await fn(sql);
    } finally {
      await sql.end();
    }
  }

  async databases(): Promise<string[]> {
    return this.sql("postgres", async (sql) =>
      (await sql<{ datname: string }[]>`select datname from pg_database order by 1`).map(
        (r) => r.datname,
      ),
    );
  }

  /**
   * Every file and folder of the state folder (but Postgres's own files, which the server
   * changes by itself) with a hash of its content: equal snapshots, untouched state.
   */
  async snapshot(): Promise<Record<string, string>> {
    const entries: Record<string, string> = {};
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        const path = join(dir, entry.name);
        const key = relative(this.stateDir, path);
        if (key === "pg") continue;
        if (entry.isDirectory()) {
          entries[`${key}/`] = "dir";
          await walk(path);
        } else {
          entries[key] = createHash("sha256")
            .update(await readFile(path))
            .digest("hex");
        }
      }
    };
    await walk(this.stateDir);
    return entries;
  }

  /** Stops the host this sandbox started and removes its state. */
  async dispose(): Promise<void> {
    const info = await readFile(join(this.stateDir, "host.json"), "utf8").then(
      (t) => JSON.parse(t) as { pid: number; controlPort: number },
      () => undefined,
    );
    if (info) {
      await fetch(`http://127.0.0.1:${info.controlPort}/shutdown`, { method: "POST" }).catch(
        () => {},
      );
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        try {
          process.kill(info.pid, 0);
          await new Promise((r) => setTimeout(r, 100));
        } catch {
          break;
        }
      }
      try {
        process.kill(info.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await rm(this.stateDir, { recursive: true, force: true });
  }
}
