/**
 * Container replay: the exec chain that a function builds (recorded against the GraphQL stub),
 * replayed on the host as the engine would run it, without an engine. The source is filtered
 * with the module's own ignore list (as the SDK's scan reads it) into a copy; an empty folder
 * gets the lockfile layer (the recorded include list) and `pnpm fetch` into a fresh store on
 * another filesystem; then the whole filtered source, the offline install, and
 * `pnpm <command> --help`. It fails on a lockfile layer too small for `pnpm fetch`, an ignore
 * list that drops a file the install or the CLI needs, and install steps that only work with
 * the host's node_modules or store.
 */
import { cp, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { afterAll, expect, it } from "vitest";
import { lastLines, run } from "../../packages/pipeline/src/exec";
import { startDaggerStub, type Op } from "./graphql-stub";
import { invokeFunction, mainObject, REPO_ROOT, unloadModule } from "./module";

afterAll(unloadModule);

const SOURCE = "arg:source-directory";
/** Another filesystem than the checkout's, as the engine's cache volume is. */
const STORE_PARENT = "/dev/shm";

/** The evaluated chain of `fnName` that ran `pnpm <command>`. */
async function recordedChain(fnName: string, command: string): Promise<Op[]> {
  const stub = await startDaggerStub();
  process.env.DAGGER_SESSION_PORT = String(stub.port);
  process.env.DAGGER_SESSION_TOKEN = stub.token;
  try {
    await invokeFunction(fnName, {}, { source: SOURCE });
    const chains = stub.evaluations.map((e) => stub.expand(e.chain));
    const chain = chains.find((c) =>
      c.some((op) => op.field === "withExec" && (op.args.args as string[])[1] === command),
    );
    if (!chain) throw new Error(`${fnName} ran no pnpm ${command}`);
    return chain;
  } finally {
    await stub.close();
  }
}

/** A Dagger ignore pattern (`**` / `*` globs) as a regular expression on a relative path. */
function patternRegExp(pattern: string): RegExp {
  const body = pattern
    .split("/")
    .map((part) =>
      part === "**"
        ? "(?:.*/)?"
        : `${part.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}/`,
    )
    .join("");
  return new RegExp(`^${body.replace(/\/$/, "")}$`);
}

/** The repository's files that the module's ignore list keeps, relative to the root. */
async function filteredFiles(ignore: string[]): Promise<string[]> {
  const patterns = ignore.map(patternRegExp);
  const ignored = (path: string) => patterns.some((p) => p.test(path));
  const files: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = relative(REPO_ROOT, join(dir, entry.name));
      if (ignored(path)) continue;
      if (entry.isDirectory()) await walk(join(dir, entry.name));
      else if (entry.isFile()) files.push(path);
    }
  };
  await walk(REPO_ROOT);
  return files;
}

async function copyFiles(files: string[], to: string) {
  for (const file of files) {
    await mkdir(dirname(join(to, file)), { recursive: true });
    await cp(join(REPO_ROOT, file), join(to, file));
  }
}

/** Runs an exec of the chain in `cwd`, its --store-dir replaced; resolves its output. */
async function exec(args: string[], cwd: string, store: string): Promise<string> {
  const [command, ...rest] = args.map((arg, i) => (args[i - 1] === "--store-dir" ? store : arg));
  // No CI runner state: only PATH and a fresh HOME, as in a fresh container.
  const env = { PATH: process.env.PATH, HOME: join(cwd, "..", "home"), CI: "true" };
  const result = await run(command as string, rest, { cwd, env });
  if (result.code !== 0) {
    throw new Error(
      `${[command, ...rest].join(" ")} exited ${result.code}:\n${lastLines(result.output, 40).join("\n")}`,
    );
  }
  return result.output;
}

it("replays `test`'s exec chain: lockfile layer, pnpm fetch, source, offline install, the CLI", async () => {
  const chain = await recordedChain("test", "test");
  const source = (await mainObject())._constructor?.arguments.source;
  const ignore = source?.ignore ?? [];
  expect(ignore.length).toBeGreaterThan(0);
  const layers = chain.filter((op) => op.field === "withDirectory" && op.args.source === SOURCE);
  const include = layers[0]?.args.include as string[];
  const execs = chain
    .filter((op) => op.field === "withExec")
    .map((op) => op.args.args as string[])
    .filter((args) => args[0] === "pnpm");
  const [fetch, install, command] = execs;
  expect(fetch?.[1]).toBe("fetch");
  expect(install?.slice(1, 4)).toEqual(["install", "--offline", "--frozen-lockfile"]);
  expect(command?.[1]).toBe("test");

  const work = await mkdtemp(join(tmpdir(), "codex-replay-"));
  const store = await mkdtemp(join(STORE_PARENT, "codex-replay-store-"));
  try {
    const files = await filteredFiles(ignore);
    expect(files.filter((f) => f.includes("node_modules/"))).toEqual([]);
    const workdir = join(work, "src");
    await mkdir(join(work, "home"), { recursive: true });
    await copyFiles(
      files.filter((f) => include.includes(f)),
      workdir,
    );
    await exec(fetch as string[], workdir, store);
    await copyFiles(files, workdir);
    await exec(install as string[], workdir, store);
    const help = await exec([...(command as string[]), "--help"], workdir, store);
    expect(help).toMatch(/usage/i);
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(store, { recursive: true, force: true });
  }
});
