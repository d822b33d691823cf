/**
 * codex-pipeline: the same commands and flags as the Dagger functions.
 * Exit codes: 0 success, 1 failure, 2 bad usage (with a message naming the problem).
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import type { CommandIO } from "./commands/context";
// Each command is imported when it runs: --help and a bad flag load none of Miniflare, Octokit,
// Stripe or Neon's client.
import { previewEnvironment } from "./core/environments";
import { PipelineError, userError } from "./errors";
import { killTracked } from "./exec";
import { parseVisualThreshold } from "./visual";

const USAGE = `usage: codex-pipeline <command> [flags]

commands:
  preview-deploy --pr N [--skip-tests] [--reset] [--e2e] [--rebuild]
                 [--e2e-spec FILTER] [--visual-threshold RATIO]
                          an isolated copy of the whole stack for PR N, at http://pr-N.localhost:8787;
                          --e2e also shoots production and compares every page (changed above
                          RATIO of its pixels, default 0.001); --e2e-spec runs only the spec
                          files matching FILTER ("visual")
  cleanup --pr N | --stale [--older-than 7d] [--include-open]
                          delete a preview (database branch, Workers, state); sweep old ones
                          whose PR is closed or gone (--include-open: open PRs' too)
  production-deploy [--rebuild] [--allow-incompatible]
                          try migrations on a copy of main, and the live release on it
                          (refused when it breaks; --allow-incompatible goes ahead),
                          migrate main, deploy, smoke-check
  rollback [--to VERSION] [--pr N] [--force-schema]
                          serve an earlier version of production (or of a preview) again;
                          one whose code does not survive the current schema is refused
                          unless --force-schema
  test                    lint, types, unit and integration tests, on their own database
  e2e [--pr N | --base-url URL] [--e2e-spec FILTER]
                          the Playwright suite, against a fresh stack or an environment
  status [--json]         environments, URLs, branches, versions and the local host
  serve --pr N            deploy the local preview of PR N and serve it in the foreground
                          until Ctrl-C (what a container runs; tests are skipped)
  stop                    stop the local host; environments are kept, and the next deploy
                          starts it again
  approve-visual --pr N [--comment-id ID]
                          on GitHub: set the codex/visual status of PR N's head commit to
                          success, when a collaborator with write access commented
                          /codex approve-visual after it went pending (GITHUB_TOKEN,
                          GITHUB_REPOSITORY)

flags for preview-deploy, cleanup, production-deploy, rollback and status:
  --target local|cloud    where to deploy (default: local). The cloud target reads its
                          credentials from the environment (docs/cloud.md).

environment: CODEX_PORT (default 8787), CODEX_STATE_DIR (default <repo>/.codex),
  CODEX_BIND_HOST (default 127.0.0.1), CHROMIUM_PATH`;

type Options = NonNullable<ParseArgsConfig["options"]>;
const COMMON: Options = { help: { type: "boolean", short: "h" } };
const TARGET: Options = { target: { type: "string" } };
const COMMANDS: Record<string, Options> = {
  "preview-deploy": {
    pr: { type: "string" },
    rebuild: { type: "boolean" },
    "skip-tests": { type: "boolean" },
    reset: { type: "boolean" },
    e2e: { type: "boolean" },
    "e2e-spec": { type: "string" },
    "visual-threshold": { type: "string" },
    ...TARGET,
  },
  cleanup: {
    pr: { type: "string" },
    stale: { type: "boolean" },
    "older-than": { type: "string" },
    "include-open": { type: "boolean" },
    ...TARGET,
  },
  "production-deploy": {
    rebuild: { type: "boolean" },
    "allow-incompatible": { type: "boolean" },
    ...TARGET,
  },
  rollback: {
    to: { type: "string" },
    pr: { type: "string" },
    "force-schema": { type: "boolean" },
    ...TARGET,
  },
  test: {},
  e2e: { pr: { type: "string" }, "base-url": { type: "string" }, "e2e-spec": { type: "string" } },
  status: { json: { type: "boolean" }, ...TARGET },
  serve: { pr: { type: "string" } },
  stop: {},
  "approve-visual": { pr: { type: "string" }, "comment-id": { type: "string" }, ...TARGET },
};

function parse(command: string, args: string[]) {
  const options = { ...COMMON, ...COMMANDS[command] };
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Record<
      string,
      string | boolean | undefined
    >;
  } catch (error) {
    throw userError(
      "INVALID_ARGUMENT",
      `${command}: ${(error as Error).message.replace(/^.*?: /, "")}`,
      `Run codex-pipeline ${command} --help.`,
    );
  }
}

const str = (v: string | boolean | undefined) => (typeof v === "string" ? v : undefined);

let interruptsHandled = false;

/** On Ctrl-C or SIGTERM, stop the builds and test runs this command started, then exit. */
function handleInterrupts(): void {
  if (interruptsHandled) return;
  interruptsHandled = true;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      killTracked();
      process.stderr.write(`\ninterrupted (${signal}): the next run repairs what this one left\n`);
      process.exit(signal === "SIGINT" ? 130 : 143);
    });
  }
}

export async function main(
  argv: string[],
  io: CommandIO = { out: (l) => console.log(l), err: (l) => console.error(l) },
): Promise<number> {
  const [command, ...args] = argv;
  // serve stops its host itself on a signal; every other command stops what it started.
  if (command !== "serve") handleInterrupts();
  if (!command || command === "--help" || command === "-h" || command === "help") {
    io.out(USAGE);
    return command ? 0 : 2;
  }
  try {
    if (!(command in COMMANDS))
      throw userError(
        "INVALID_ARGUMENT",
        `unknown command "${command}"`,
        "Run codex-pipeline --help for the list.",
      );
    const flags = parse(command, args);
    if (flags.help) {
      io.out(USAGE);
      return 0;
    }
    const target = str(flags.target) ?? "local";
    if (target !== "local" && target !== "cloud")
      throw userError("INVALID_ARGUMENT", `--target must be local or cloud (got "${target}")`);

    switch (command) {
      case "preview-deploy": {
        const pr = str(flags.pr);
        if (pr === undefined) throw userError("INVALID_ARGUMENT", "preview-deploy needs --pr N");
        await (
          await import("./commands/preview-deploy")
        ).previewDeploy(
          {
            environment: previewEnvironment(pr),
            skipTests: flags["skip-tests"] === true,
            reset: flags.reset === true,
            e2e: flags.e2e === true,
            rebuild: flags.rebuild === true,
            ...(str(flags["e2e-spec"]) !== undefined ? { e2eSpec: str(flags["e2e-spec"]) } : {}),
            ...(str(flags["visual-threshold"]) !== undefined
              ? { visualThreshold: parseVisualThreshold(str(flags["visual-threshold"]) ?? "") }
              : {}),
            target,
          },
          io,
        );
        break;
      }
      case "cleanup":
        await (
          await import("./commands/cleanup")
        ).cleanup(
          {
            ...(str(flags.pr) !== undefined ? { pr: str(flags.pr) } : {}),
            stale: flags.stale === true,
            ...(str(flags["older-than"]) ? { olderThan: str(flags["older-than"]) } : {}),
            includeOpen: flags["include-open"] === true,
            target,
          },
          io,
        );
        break;
      case "production-deploy":
        await (
          await import("./commands/production-deploy")
        ).productionDeploy(
          {
            rebuild: flags.rebuild === true,
            allowIncompatible: flags["allow-incompatible"] === true,
            target,
          },
          io,
        );
        break;
      case "rollback":
        await (
          await import("./commands/rollback")
        ).rollback(
          {
            ...(str(flags.to) ? { to: str(flags.to) } : {}),
            ...(str(flags.pr) !== undefined ? { pr: str(flags.pr) } : {}),
            forceSchema: flags["force-schema"] === true,
            target,
          },
          io,
        );
        break;
      case "test":
        await (await import("./commands/test")).test(io);
        break;
      case "e2e":
        await (
          await import("./commands/e2e")
        ).e2e(
          {
            ...(str(flags.pr) !== undefined ? { pr: str(flags.pr) } : {}),
            ...(str(flags["base-url"]) !== undefined ? { baseUrl: str(flags["base-url"]) } : {}),
            ...(str(flags["e2e-spec"]) !== undefined ? { spec: str(flags["e2e-spec"]) } : {}),
          },
          io,
        );
        break;
      case "status":
        await (await import("./commands/status")).status({ json: flags.json === true, target }, io);
        break;
      case "stop":
        await (await import("./commands/stop")).stop(io);
        break;
      case "approve-visual": {
        const pr = str(flags.pr);
        if (pr === undefined) throw userError("INVALID_ARGUMENT", "approve-visual needs --pr N");
        if (str(flags.target) === "local") {
          throw userError(
            "INVALID_ARGUMENT",
            "approve-visual acts on a GitHub pull request: there is nothing to approve locally",
            "Compare the local summary's images yourself; on GitHub, comment /codex approve-visual.",
          );
        }
        const commentId = str(flags["comment-id"]);
        await (
          await import("./commands/approve-visual")
        ).approveVisual({ pr, ...(commentId !== undefined ? { commentId } : {}) }, io);
        break;
      }
      case "serve": {
        const pr = str(flags.pr);
        if (pr === undefined) throw userError("INVALID_ARGUMENT", "serve needs --pr N");
        await (await import("./commands/serve")).serve({ environment: previewEnvironment(pr) }, io);
        break;
      }
    }
    return 0;
  } catch (error) {
    return reportError(error, io);
  }
}

function reportError(error: unknown, io: CommandIO): number {
  if (error instanceof PipelineError) {
    io.err(`error: ${error.message}`);
    if (error.hint) io.err(`hint: ${error.hint}`);
    if (error.kind === "system" && error.cause) {
      io.err(`cause: ${error.cause instanceof Error ? error.cause.message : String(error.cause)}`);
    }
    if (process.env.CODEX_DEBUG && error.stack) io.err(error.stack);
    return error.kind === "user" ? 2 : 1;
  }
  io.err(`error: ${error instanceof Error ? error.message : String(error)}`);
  if (error instanceof Error && error.stack) io.err(error.stack);
  return 1;
}
