/**
 * Check 1: the module as the SDK's own introspector (`scan`) reads it, which is what the engine
 * registers and what `dagger call` and `dagger functions` show. The expected table is the
 * module's public interface, written out by hand.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  MODULE_DIR,
  REPO_ROOT,
  SDK_DIR,
  mainObject,
  scanModule,
  typeName,
  type ScannedFunction,
  type ScannedModule,
  type ScannedObject,
} from "./module";

/** A function's arguments as `name: Type`, `name?: Type` (optional) or `name: Type = default`. */
function signature(fn: ScannedFunction): string[] {
  return Object.values(fn.arguments).map((arg) => {
    const optional = arg.isOptional ? "?" : "";
    const fallback = arg.defaultValue === undefined ? "" : ` = ${String(arg.defaultValue)}`;
    return `${arg.name}${optional}: ${typeName(arg.type)}${fallback}`;
  });
}

/** The module-wide settings, given once (as flags before the function, or from .env). */
const CONSTRUCTOR = [
  "source: Directory",
  "cloudflareApiToken?: Secret",
  "cloudflareAccountId?: String",
  "cloudflareWorkersSubdomain?: String",
  "neonApiKey?: Secret",
  "neonProjectId?: String",
  "githubToken?: Secret",
  "githubRepository?: String",
  "githubRunId?: String",
  "githubServerUrl?: String",
];

const EXPECTED: Record<string, { args: string[]; returns: string; cache?: string }> = {
  test: { args: ["databaseUrl?: Secret"], returns: "String" },
  e2e: { args: ["baseUrl?: String"], returns: "Directory", cache: "never" },
  previewDeploy: {
    args: [
      "pr: Integer",
      "sessionSecret: Secret",
      "stripeWebhookSecret?: Secret",
      "stripeSecretKey?: Secret",
      "stripePriceId?: String",
      "commit?: String",
      "skipTests: Boolean = false",
      "reset: Boolean = false",
      "e2e: Boolean = false",
      "rebuild: Boolean = false",
    ],
    returns: "String",
    cache: "never",
  },
  previewDeployment: {
    args: [
      "pr: Integer",
      "sessionSecret: Secret",
      "stripeWebhookSecret?: Secret",
      "stripeSecretKey?: Secret",
      "stripePriceId?: String",
      "commit?: String",
      "skipTests: Boolean = false",
      "reset: Boolean = false",
      "e2e: Boolean = false",
      "rebuild: Boolean = false",
    ],
    returns: "PreviewEnvironment",
    cache: "never",
  },
  productionDeploy: {
    args: [
      "sessionSecret: Secret",
      "stripeWebhookSecret: Secret",
      "stripeSecretKey?: Secret",
      "stripePriceId?: String",
      "commit?: String",
      "rebuild: Boolean = false",
      "allowIncompatible: Boolean = false",
      "history?: Directory",
    ],
    returns: "String",
    cache: "never",
  },
  cleanup: {
    args: [
      "pr?: Integer",
      "stale: Boolean = false",
      "olderThan?: String",
      "includeOpen: Boolean = false",
      "stripeSecretKey?: Secret",
    ],
    returns: "String",
    cache: "never",
  },
  rollback: {
    args: ["to?: String", "pr?: Integer", "forceSchema: Boolean = false", "history?: Directory"],
    returns: "String",
    cache: "never",
  },
  approveVisual: {
    args: ["pr: Integer", "commentId?: Integer"],
    returns: "String",
    cache: "never",
  },
  preview: { args: ["pr: Integer"], returns: "Service" },
};

let scan: ScannedModule;
let codex: ScannedObject;

beforeAll(async () => {
  scan = await scanModule();
  codex = await mainObject();
});

describe("the module's interface, as the SDK's scan reads it", () => {
  it("has exactly the pipeline's functions, with their arguments and return types", () => {
    const actual = Object.fromEntries(
      Object.values(codex.methods).map((fn) => [
        fn.name,
        {
          args: signature(fn),
          returns: typeName(fn.returnType),
          ...(fn.cache ? { cache: fn.cache } : {}),
        },
      ]),
    );
    expect(actual).toEqual(EXPECTED);
  });

  it("never caches what changes the outside world: deploys, cleanup, rollback (and remote e2e)", () => {
    const never = Object.values(codex.methods)
      .filter((fn) => fn.cache === "never")
      .map((fn) => fn.name)
      .sort();
    expect(never).toEqual([
      "approveVisual",
      "cleanup",
      "e2e",
      "previewDeploy",
      "previewDeployment",
      "productionDeploy",
      "rollback",
    ]);
  });

  it("describes every function and every argument, the constructor's too (the CLI help)", () => {
    const functions = Object.values(codex.methods);
    const undescribed = [
      ...functions.filter((fn) => !fn.description.trim()).map((fn) => fn.name),
      ...[...functions, codex._constructor].flatMap((fn) =>
        Object.values(fn?.arguments ?? {})
          .filter((arg) => !arg.description.trim())
          .map((arg) => `${fn?.name || "constructor"}(${arg.name})`),
      ),
    ];
    expect(undescribed).toEqual([]);
    expect(codex.description).not.toBe("");
  });

  it("takes the source as a constructor Directory that defaults to the repository, minus installed files, state and secrets files", () => {
    const source = codex._constructor?.arguments.source;
    expect(source && typeName(source.type)).toBe("Directory");
    expect(source?.defaultPath).toBe("/");
    // Nested ones at any depth: every workspace package has its own node_modules.
    expect(source?.ignore).toEqual(
      expect.arrayContaining([
        "**/node_modules",
        "**/.svelte-kit",
        "**/.wrangler",
        ".codex",
        ".dagger",
        ".git",
        "reports",
        "**/.env",
        "**/.dev.vars",
      ]),
    );
  });

  it("leaves out everything .gitignore does, and the folders the workflows and docs export to", () => {
    const ignore = codex._constructor?.arguments.source?.ignore ?? [];
    // A .gitignore entry without an inner slash matches at any depth: `**/name`, or `name`
    // for the root-only folders; one with a slash is covered by it or by a folder above it.
    const covered = (entry: string) =>
      ignore.some((p) => p === entry || p === `**/${entry}` || entry.startsWith(`${p}/`));
    const gitignore = readFileSync(join(REPO_ROOT, ".gitignore"), "utf8")
      .split("\n")
      .map((line) => line.trim().replace(/\/$/, ""))
      .filter((line) => line && !line.startsWith("#") && !line.startsWith("!"));
    expect(gitignore.length).toBeGreaterThan(5);
    expect(gitignore.filter((entry) => !covered(entry))).toEqual([]);
    // Every `export --path` of a workflow or of the docs: an export must not bust the source.
    const texts = [
      ...readdirSync(join(REPO_ROOT, ".github", "workflows")).map((f) =>
        readFileSync(join(REPO_ROOT, ".github", "workflows", f), "utf8"),
      ),
      readFileSync(join(REPO_ROOT, "README.md"), "utf8"),
      readFileSync(join(REPO_ROOT, "docs", "dagger.md"), "utf8"),
    ];
    const targets = texts.flatMap((t) =>
      [...t.matchAll(/export --path \.\/([\w.-]+)/g)].map((m) => m[1] as string),
    );
    expect(targets).toEqual(expect.arrayContaining(["preview", "e2e-report"]));
    expect([...new Set(targets)].filter((target) => !covered(target))).toEqual([]);
    // ...and git does not commit them either.
    expect([...new Set(targets)].filter((target) => !gitignore.includes(target))).toEqual([]);
  });

  it("takes the cloud and GitHub settings once, as optional constructor arguments, and no function repeats them", () => {
    expect(codex._constructor && signature(codex._constructor)).toEqual(CONSTRUCTOR);
    const settings = CONSTRUCTOR.map((arg) => arg.split(/\??:/)[0]);
    const repeated = Object.values(codex.methods).flatMap((fn) =>
      Object.keys(fn.arguments)
        .filter((name) => settings.includes(name))
        .map((name) => `${fn.name}(${name})`),
    );
    expect(repeated).toEqual([]);
  });

  it("returns a PreviewEnvironment object with url, workers, databaseBranch, summary, the e2e report, the exit status and the report folder", () => {
    const environment = scan.objects.PreviewEnvironment;
    const fields = Object.values(environment?.properties ?? {}).map((p) => ({
      [p.name]: typeName(p.type),
      described: p.description.trim() !== "",
    }));
    expect(fields).toEqual([
      { url: "String", described: true },
      { workers: "[String]", described: true },
      { databaseBranch: "String", described: true },
      { summary: "String", described: true },
      { e2eReport: "Directory", described: true },
      { exitCode: "Integer", described: true },
      { report: "Directory", described: true },
    ]);
  });
});

describe("the module's manifest", () => {
  const json = (path: string) => JSON.parse(readFileSync(path, "utf8"));

  it("is the TypeScript module in .dagger for engine v0.21.9, checked here with the SDK of that version", () => {
    const manifest = json(join(REPO_ROOT, "dagger.json"));
    expect(manifest).toEqual({
      name: "codex",
      engineVersion: "v0.21.9",
      sdk: { source: "typescript" },
      source: ".dagger",
    });
    // The npm SDK these checks use is the engine's own version.
    expect(`v${json(join(SDK_DIR, "package.json")).version}`).toBe(manifest.engineVersion);
  });

  it("has no dependency but the TypeScript the SDK pins, so the engine installs nothing", () => {
    const pkg = json(join(MODULE_DIR, "package.json"));
    expect(pkg.type).toBe("module");
    expect(pkg.dependencies).toEqual({ typescript: "5.9.3" });
    expect(pkg.devDependencies).toBeUndefined();
    const tsconfig = json(join(MODULE_DIR, "tsconfig.json"));
    expect(tsconfig.compilerOptions.experimentalDecorators).toBe(true);
    expect(tsconfig.compilerOptions.paths["@dagger.io/dagger"]).toEqual(["./sdk/index.ts"]);
    // The engine imports every .ts file under src: the tests live outside it.
    expect(tsconfig.include).toEqual(["src/**/*.ts"]);
  });
});
