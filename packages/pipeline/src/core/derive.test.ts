import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { format, resolveConfig } from "prettier";
import { afterAll, describe, expect, it } from "vitest";
import { PipelineError } from "../errors";
import {
  deriveStack,
  loadStack,
  readWranglerConfig,
  type DerivedStack,
  type StackWorker,
} from "./derive";
import { parseEnvironment, previewEnvironment } from "./environments";
import { WORKER_SECRETS } from "./secrets";

const REPO_ROOT = resolve(fileURLToPath(new URL("../../../..", import.meta.url)));
const GOLDEN_DIR = resolve(fileURLToPath(new URL("../../test/golden", import.meta.url)));

const production = parseEnvironment("production");
const staging = parseEnvironment("staging");
const preview7 = previewEnvironment(7);

function userErrorOf(fn: () => unknown): PipelineError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PipelineError);
    expect((error as PipelineError).kind).toBe("user");
    return error as PipelineError;
  }
  throw new Error("expected a PipelineError, but nothing was thrown");
}

/** A small stack shaped like the real one: web binds auth and webhook. */
function smallStack(): StackWorker[] {
  return [
    {
      kind: "web",
      configPath: "/repo/apps/web/wrangler.jsonc",
      config: {
        $schema: "../../node_modules/wrangler/config-schema.json",
        name: "web",
        main: "build/worker.js",
        assets: { directory: "build/static", binding: "ASSETS" },
        vars: { ENVIRONMENT: "development", FEATURE: "on" },
        routes: [{ pattern: "example.com", custom_domain: true }],
        services: [
          { binding: "AUTH", service: "auth" },
          { binding: "HOOK", service: "hook", entrypoint: "Hooks" },
        ],
        env: {
          production: {
            name: "web-production",
            vars: { ENVIRONMENT: "production" },
            routes: [{ pattern: "example.com", custom_domain: true }],
            services: [
              { binding: "AUTH", service: "auth-production" },
              { binding: "HOOK", service: "hook-production", entrypoint: "Hooks" },
            ],
          },
          staging: {
            route: "staging.example.com/*",
            services: [
              { binding: "AUTH", service: "auth-staging" },
              { binding: "HOOK", service: "hook-staging", entrypoint: "Hooks" },
            ],
          },
        },
      },
    },
    {
      kind: "auth",
      configPath: "/repo/workers/auth/wrangler.jsonc",
      config: { name: "auth", main: "src/index.ts", vars: { ENVIRONMENT: "development" } },
    },
    {
      kind: "webhook",
      configPath: "/repo/workers/hook/wrangler.jsonc",
      config: { name: "hook", main: "./src/index.ts" },
    },
  ];
}

function worker(stack: DerivedStack, kind: string) {
  const found = stack.workers.find((w) => w.kind === kind);
  if (!found) throw new Error(`no ${kind} Worker`);
  return found;
}

describe("deriveStack", () => {
  it("names every Worker for the environment and sets ENVIRONMENT", () => {
    const stack = deriveStack(smallStack(), preview7);
    expect(stack.environment).toEqual(preview7);
    expect(stack.workers.map((w) => [w.kind, w.name, w.config.name])).toEqual([
      ["auth", "auth-preview-7", "auth-preview-7"],
      ["webhook", "hook-preview-7", "hook-preview-7"],
      ["web", "web-preview-7", "web-preview-7"],
    ]);
    expect(worker(stack, "web").config.vars).toEqual({ ENVIRONMENT: "preview-7", FEATURE: "on" });
    expect(worker(stack, "webhook").config.vars).toEqual({ ENVIRONMENT: "preview-7" });
  });

  it("rewires top-level bindings (base names) to the preview's siblings", () => {
    const web = worker(deriveStack(smallStack(), preview7), "web");
    expect(web.config.services).toEqual([
      { binding: "AUTH", service: "auth-preview-7" },
      { binding: "HOOK", service: "hook-preview-7", entrypoint: "Hooks" },
    ]);
  });

  it("rewires section bindings (environment-specific names) to the same environment", () => {
    const web = worker(deriveStack(smallStack(), staging), "web");
    expect(web.config.services).toEqual([
      { binding: "AUTH", service: "auth-staging" },
      { binding: "HOOK", service: "hook-staging", entrypoint: "Hooks" },
    ]);
    // A staging section that (wrongly) names production siblings still binds staging's.
    const stack = smallStack();
    stack[0]!.config.env!.staging!.services = [{ binding: "AUTH", service: "auth-production" }];
    expect(worker(deriveStack(stack, staging), "web").config.services).toEqual([
      { binding: "AUTH", service: "auth-staging" },
    ]);
  });

  it("keeps production's bindings equal to its section", () => {
    const web = worker(deriveStack(smallStack(), production), "web");
    expect(web.name).toBe("web-production");
    expect(web.config.services).toEqual([
      { binding: "AUTH", service: "auth-production" },
      { binding: "HOOK", service: "hook-production", entrypoint: "Hooks" },
    ]);
  });

  it("never points a preview at production", () => {
    const stack = smallStack();
    // Even a top level that names production siblings must be rewired for a preview.
    stack[0]!.config.services = [
      { binding: "AUTH", service: "auth-production" },
      { binding: "HOOK", service: "hook-production" },
    ];
    for (const input of [smallStack(), stack]) {
      const derived = deriveStack(input, previewEnvironment(123));
      expect(JSON.stringify(derived)).not.toContain("-production");
      expect(JSON.stringify(derived)).not.toContain("-staging");
    }
  });

  it("refuses a binding to a Worker outside the stack, naming binding, service and file", () => {
    const stack = smallStack();
    stack[0]!.config.services = [{ binding: "BILLING", service: "billing-worker" }];
    const error = userErrorOf(() => deriveStack(stack, preview7));
    expect(error.code).toBe("UNKNOWN_SERVICE");
    expect(error.message).toContain('"BILLING"');
    expect(error.message).toContain('"billing-worker"');
    expect(error.message).toContain("/repo/apps/web/wrangler.jsonc");
  });

  it("drops routes for previews and keeps them for production and staging", () => {
    const web = (env = preview7) => worker(deriveStack(smallStack(), env), "web").config;
    expect(web()).not.toHaveProperty("routes");
    expect(web()).not.toHaveProperty("route");
    expect(web().workers_dev).toBe(true);
    expect(web(production).routes).toEqual([{ pattern: "example.com", custom_domain: true }]);
    // Staging's section adds a `route` and inherits the top-level `routes`.
    expect(web(staging).route).toBe("staging.example.com/*");
    expect(web(staging).routes).toEqual([{ pattern: "example.com", custom_domain: true }]);
  });

  it("turns workers.dev on for previews even when the config turns it off", () => {
    const stack = smallStack();
    stack[1]!.config.workers_dev = false;
    expect(worker(deriveStack(stack, preview7), "auth").config.workers_dev).toBe(true);
    expect(worker(deriveStack(stack, production), "auth").config.workers_dev).toBe(false);
  });

  it("sets workers_dev and turns version preview URLs off for every kind, whatever the config says", () => {
    const stack = smallStack();
    for (const w of stack) w.config.preview_urls = true;
    delete stack[0]!.config.routes;
    for (const env of [preview7, staging, production]) {
      for (const w of deriveStack(stack, env).workers) {
        expect(w.config.preview_urls, `${w.name}`).toBe(false);
        expect(typeof w.config.workers_dev, `${w.name}`).toBe("boolean");
      }
    }
    // Unset in the config: on workers.dev unless a route serves it, as wrangler defaults it.
    expect(worker(deriveStack(stack, production), "auth").config.workers_dev).toBe(true);
    expect(worker(deriveStack(smallStack(), production), "web").config.workers_dev).toBe(false);
    expect(worker(deriveStack(smallStack(), staging), "web").config.workers_dev).toBe(false);
  });

  it("makes main and assets.directory absolute and drops env and $schema", () => {
    const web = worker(deriveStack(smallStack(), production), "web").config;
    expect(web.main).toBe("/repo/apps/web/build/worker.js");
    expect(web.assets).toEqual({ directory: "/repo/apps/web/build/static", binding: "ASSETS" });
    expect(web).not.toHaveProperty("env");
    expect(web).not.toHaveProperty("$schema");
    expect(worker(deriveStack(smallStack(), production), "webhook").config.main).toBe(
      "/repo/workers/hook/src/index.ts",
    );
  });

  it("replaces, never merges, keys the section has (vars), and inherits the rest", () => {
    const stack = smallStack();
    const prod = worker(deriveStack(stack, production), "web").config;
    expect(prod.vars).toEqual({ ENVIRONMENT: "production" }); // FEATURE is not inherited
    const stag = worker(deriveStack(stack, staging), "web").config;
    expect(stag.vars).toEqual({ ENVIRONMENT: "staging", FEATURE: "on" }); // no section vars
  });

  it("refuses a section name that differs from the derived name", () => {
    const stack = smallStack();
    stack[0]!.config.env!.production!.name = "web-prod";
    const error = userErrorOf(() => deriveStack(stack, production));
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message).toContain('"web-prod"');
    expect(error.message).toContain('"web-production"');
  });

  it("does not mutate its input, nor share objects with it", () => {
    const input = smallStack();
    const before = structuredClone(input);
    for (const env of [production, staging, preview7]) {
      const derived = deriveStack(input, env);
      worker(derived, "web").config.vars!.EXTRA = "x";
      worker(derived, "web").config.services![0]!.binding = "CHANGED";
      worker(derived, "web").config.assets!.directory = "changed";
      worker(derived, "auth").secrets.push("CHANGED");
    }
    expect(input).toEqual(before);
    expect(WORKER_SECRETS.auth.preview).toEqual(["DATABASE_URL", "SESSION_SECRET"]);
  });

  it("lists each Worker's secrets for the environment", () => {
    const secrets = (env = preview7) =>
      Object.fromEntries(deriveStack(smallStack(), env).workers.map((w) => [w.kind, w.secrets]));
    expect(secrets()).toEqual({
      auth: ["DATABASE_URL", "SESSION_SECRET"],
      webhook: ["DATABASE_URL", "STRIPE_WEBHOOK_SECRET"],
      web: ["DATABASE_URL", "STRIPE_WEBHOOK_SECRET"],
    });
    expect(secrets(staging).web).toEqual(["DATABASE_URL", "STRIPE_WEBHOOK_SECRET"]);
    expect(secrets(production).web).toEqual(["DATABASE_URL"]);
  });

  it("orders Workers after the Workers they bind to, whatever the input order", () => {
    const [web, auth, hook] = smallStack() as [StackWorker, StackWorker, StackWorker];
    // hook binds auth, so: auth, hook, web.
    hook.config.services = [{ binding: "AUTH", service: "auth" }];
    for (const input of [
      [web, auth, hook],
      [hook, web, auth],
      [web, hook, auth],
    ]) {
      expect(deriveStack(input, preview7).workers.map((w) => w.kind)).toEqual([
        "auth",
        "webhook",
        "web",
      ]);
    }
  });

  it("refuses a cycle of service bindings, naming its Workers", () => {
    const stack = smallStack();
    stack[1]!.config.services = [{ binding: "WEB", service: "web" }];
    const error = userErrorOf(() => deriveStack(stack, preview7));
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message).toMatch(/cycle: (web|auth) .*-> (web|auth) .*-> (web|auth)/);
    expect(error.message).toContain("/repo/workers/auth/wrangler.jsonc");
  });

  it("refuses a Worker that binds to itself", () => {
    const stack = smallStack();
    stack[2]!.config.services = [{ binding: "SELF", service: "hook" }];
    expect(userErrorOf(() => deriveStack(stack, preview7)).code).toBe("CONFIG_INVALID");
  });

  it("refuses a Worker name over 63 characters, naming its length", () => {
    const stack = smallStack();
    stack[1]!.config.name = "a".repeat(55);
    const error = userErrorOf(() => deriveStack(stack, previewEnvironment(123456)));
    expect(error.code).toBe("NAME_TOO_LONG");
    expect(error.message).toContain("70 characters");
    expect(error.message).toContain("at most 63");
  });

  it("refuses two Workers with one base name, and relative config paths", () => {
    const stack = smallStack();
    stack[2]!.config.name = "auth";
    expect(userErrorOf(() => deriveStack(stack, preview7)).code).toBe("CONFIG_INVALID");
    const relative = smallStack();
    relative[1]!.configPath = "workers/auth/wrangler.jsonc";
    expect(() => deriveStack(relative, preview7)).toThrow(/must be absolute/);
  });

  it("refuses a hand-built environment that does not parse", () => {
    const error = userErrorOf(() =>
      deriveStack(smallStack(), { name: "preview-7", kind: "production" }),
    );
    expect(error.code).toBe("INVALID_ENVIRONMENT");
  });
});

describe("readWranglerConfig", () => {
  const dir = mkdtempSync(join(tmpdir(), "codex-derive-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function write(name: string, text: string): string {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  }

  it("reads JSONC with comments and trailing commas", () => {
    const path = write(
      "ok.jsonc",
      `// line comment\n{\n  /* block */ "name": "w", // why\n  "vars": { "A": 1, },\n}\n`,
    );
    expect(readWranglerConfig(path)).toEqual({ name: "w", vars: { A: 1 } });
  });

  it("names the file, line and column of a syntax error", () => {
    const path = write("bad.jsonc", `{\n  "name": "w"\n  "main": "x"\n}\n`);
    const error = userErrorOf(() => readWranglerConfig(path));
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message).toBe(`${path}:3:3: CommaExpected`);
  });

  it.each([
    ["no-name.jsonc", `{ "main": "x" }`, /"name" must be a non-empty string/],
    ["number-name.jsonc", `{ "name": 3 }`, /"name" must be a non-empty string/],
    ["array.jsonc", `[]`, /must be a JSON object/],
    ["services.jsonc", `{ "name": "w", "services": [{ "binding": "A" }] }`, /services\[0\]/],
    [
      "env.jsonc",
      `{ "name": "w", "env": { "production": { "vars": [] } } }`,
      /env\.production\.vars/,
    ],
  ])("refuses %s", (file, text, message) => {
    const path = write(file, text);
    const error = userErrorOf(() => readWranglerConfig(path));
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message).toContain(path);
    expect(error.message).toMatch(message);
  });

  it("refuses a missing file, naming it", () => {
    const path = join(dir, "missing.jsonc");
    const error = userErrorOf(() => readWranglerConfig(path));
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message).toContain(path);
  });
});

describe("the real stack", () => {
  const workers = loadStack(REPO_ROOT);

  /** Machine-independent text: absolute paths become <repo>/..., formatted as the repo formats JSON. */
  async function goldenText(derived: DerivedStack, path: string): Promise<string> {
    const text = JSON.stringify(derived, null, 2).replaceAll(
      JSON.stringify(REPO_ROOT).slice(1, -1),
      "<repo>",
    );
    // Prettier would rewrap JSON.stringify's arrays, and `pnpm check` runs prettier on these files.
    const options = await resolveConfig(path);
    return format(text, { ...options, filepath: path });
  }

  it.each(["production", "staging", "preview-123"])(
    "derives %s as committed in test/golden",
    async (name) => {
      const path = join(GOLDEN_DIR, `${name}.json`);
      const derived = deriveStack(workers, parseEnvironment(name));
      const text = await goldenText(derived, path);
      expect(text).not.toContain(REPO_ROOT);
      await expect(text).toMatchFileSnapshot(path);
    },
  );

  it("binds preview-123's web to preview-123's siblings", () => {
    const derived = deriveStack(workers, previewEnvironment(123));
    expect(derived.workers.map((w) => w.name)).toEqual([
      "auth-worker-preview-123",
      "stripe-webhook-handler-preview-123",
      "codex-web-preview-123",
    ]);
    const web = worker(derived, "web").config;
    expect(web.services).toEqual([
      { binding: "AUTH", service: "auth-worker-preview-123" },
      { binding: "WEBHOOK", service: "stripe-webhook-handler-preview-123" },
    ]);
    expect(web.vars?.ENVIRONMENT).toBe("preview-123");
    expect(web).not.toHaveProperty("routes");
    expect(JSON.stringify(derived)).not.toContain("-production");
  });

  it("names production's Workers as the env.production sections do", () => {
    const derived = deriveStack(workers, production);
    for (const source of workers) {
      const derivedWorker = worker(derived, source.kind);
      expect(derivedWorker.name).toBe(source.config.env?.production?.name);
      expect(derivedWorker.config.services ?? []).toEqual(
        source.config.env?.production?.services ?? [],
      );
    }
  });

  it("reads the three configs with absolute paths", () => {
    expect(workers.map((w) => [w.kind, w.config.name])).toEqual([
      ["web", "codex-web"],
      ["auth", "auth-worker"],
      ["webhook", "stripe-webhook-handler"],
    ]);
    for (const w of workers) expect(w.configPath.startsWith(REPO_ROOT)).toBe(true);
  });
});
