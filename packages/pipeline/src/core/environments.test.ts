import { describe, expect, it } from "vitest";
import { PipelineError } from "../errors";
import {
  MAX_PR,
  WORKER_NAME_MAX,
  branchName,
  checkEnvironment,
  databaseName,
  environmentFromBranch,
  environmentFromDatabase,
  environmentFromFlags,
  environmentFromHostname,
  environmentFromReportWorker,
  environmentFromWorker,
  localHostnames,
  parseEnvironment,
  previewEnvironment,
  reportWorkerName,
  showInput,
  workerName,
  type Environment,
} from "./environments";

/** Runs `fn`, expects a user PipelineError and returns it for further assertions. */
function userErrorOf(fn: () => unknown): PipelineError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PipelineError);
    const pipelineError = error as PipelineError;
    expect(pipelineError.kind).toBe("user");
    return pipelineError;
  }
  throw new Error("expected a PipelineError, but nothing was thrown");
}

const production = parseEnvironment("production");
const staging = parseEnvironment("staging");
const preview7 = previewEnvironment(7);

describe("previewEnvironment", () => {
  it.each([
    ["1", 1],
    ["7", 7],
    ["123", 123],
    ["2147483647", MAX_PR],
    [1, 1],
    [42, 42],
    [MAX_PR, MAX_PR],
  ])("accepts %j", (input, pr) => {
    expect(previewEnvironment(input)).toEqual({ name: `preview-${pr}`, kind: "preview", pr });
  });

  it.each([
    ["0", `"0"`],
    ["-1", `"-1"`],
    ["+1", `"+1"`],
    ["abc", `"abc"`],
    ["1;drop", `"1;drop"`],
    [" 1", `" 1"`],
    ["1 ", `"1 "`],
    ["1\n", `"1\\n"`],
    ["01", `"01"`],
    ["1.5", `"1.5"`],
    ["1.0", `"1.0"`],
    ["1e3", `"1e3"`],
    ["0x1f", `"0x1f"`],
    ["١٢", `"١٢"`], // Arabic-Indic digits: \d in some engines, never a PR number
    ["", `""`],
    ["99999999999", `"99999999999"`],
    ["2147483648", `"2147483648"`],
    ["9".repeat(400), `"${"9".repeat(40)}…"`],
    ["x".repeat(10_000), `"${"x".repeat(40)}…"`],
    [0, `"0"`],
    [-3, `"-3"`],
    [1.5, `"1.5"`],
    [Number.NaN, `"NaN"`],
    [Number.POSITIVE_INFINITY, `"Infinity"`],
    [MAX_PR + 1, `"2147483648"`],
  ])("refuses %j", (input, shown) => {
    const error = userErrorOf(() => previewEnvironment(input));
    expect(error.code).toBe("INVALID_PR");
    expect(error.message).toBe(`--pr must be a positive integer (got ${shown})`);
    expect(error.hint).toMatch(/--pr 123/);
  });

  it("escapes control characters and quotes in the echoed input", () => {
    const error = userErrorOf(() => previewEnvironment('1\u001b[2J"\\\u0000'));
    expect(error.message).toBe(`--pr must be a positive integer (got "1\\u001b[2J\\"\\\\\\u0000")`);
    expect(error.message).not.toMatch(/\p{Cc}/u);
  });
});

describe("showInput", () => {
  it("truncates by code point and never splits a surrogate pair", () => {
    const shown = showInput("😀".repeat(50));
    expect(shown).toBe("😀".repeat(40) + "…");
  });
});

describe("parseEnvironment", () => {
  it.each<[string, Environment]>([
    ["production", { name: "production", kind: "production" }],
    ["staging", { name: "staging", kind: "staging" }],
    ["preview-1", { name: "preview-1", kind: "preview", pr: 1 }],
    ["preview-123", { name: "preview-123", kind: "preview", pr: 123 }],
    [`preview-${MAX_PR}`, { name: `preview-${MAX_PR}`, kind: "preview", pr: MAX_PR }],
  ])("parses %s", (name, env) => {
    expect(parseEnvironment(name)).toEqual(env);
  });

  it.each([
    "",
    "Production",
    "prod",
    "main",
    "development",
    " staging",
    "staging\n",
    "preview",
    "preview-",
    "preview-0",
    "preview-01",
    "preview--1",
    "preview-1;drop",
    "preview-1.5",
    "preview-abc",
    `preview-${MAX_PR + 1}`,
    "pr-123",
    "preview_123",
  ])("refuses %j, naming the allowed forms", (name) => {
    const error = userErrorOf(() => parseEnvironment(name));
    expect(error.code).toBe("INVALID_ENVIRONMENT");
    expect(error.message).toContain(`"production", "staging" or "preview-<N>"`);
    expect(error.message).toContain(`"${showInput(name)}"`);
  });

  it("returns a fresh object each time", () => {
    const a = parseEnvironment("production");
    a.name = "changed";
    expect(parseEnvironment("production").name).toBe("production");
  });
});

describe("environmentFromFlags", () => {
  it("takes --pr", () => {
    expect(environmentFromFlags({ pr: "12" })).toEqual(previewEnvironment(12));
  });

  it("takes --environment", () => {
    expect(environmentFromFlags({ environment: "staging" })).toEqual(staging);
    expect(environmentFromFlags({ environment: "preview-5" })).toEqual(previewEnvironment(5));
  });

  it("validates the value it takes", () => {
    expect(userErrorOf(() => environmentFromFlags({ pr: "" })).code).toBe("INVALID_PR");
    expect(userErrorOf(() => environmentFromFlags({ environment: "dev" })).code).toBe(
      "INVALID_ENVIRONMENT",
    );
  });

  it.each([{}, { pr: "1", environment: "production" }])("refuses %j", (flags) => {
    const error = userErrorOf(() => environmentFromFlags(flags));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message).toMatch(/--pr|--environment/);
  });
});

describe("checkEnvironment", () => {
  it.each<Environment>([
    { name: "preview-7", kind: "production" },
    { name: "preview-7", kind: "preview", pr: 8 },
    { name: "preview-7", kind: "preview" },
    { name: "production", kind: "production", pr: 1 },
    { name: "preview-x", kind: "preview" },
  ])("refuses the hand-built %j", (env) => {
    expect(userErrorOf(() => checkEnvironment(env)).code).toBe("INVALID_ENVIRONMENT");
  });
});

describe("workerName", () => {
  it.each<[Environment, string]>([
    [production, "auth-worker-production"],
    [staging, "auth-worker-staging"],
    [preview7, "auth-worker-preview-7"],
  ])("names %j", (env, name) => {
    expect(workerName("auth-worker", env)).toBe(name);
  });

  it("accepts a name of exactly the limit", () => {
    const base = "a".repeat(WORKER_NAME_MAX - "-preview-1".length);
    expect(workerName(base, previewEnvironment(1))).toHaveLength(WORKER_NAME_MAX);
  });

  it("refuses a name over 63 characters, naming it, its length and the limit", () => {
    const base = "w".repeat(55);
    const error = userErrorOf(() => workerName(base, previewEnvironment(123456)));
    const name = `${base}-preview-123456`;
    expect(error.code).toBe("NAME_TOO_LONG");
    expect(error.message).toBe(
      `Worker name "${showInput(name)}" is 70 characters; Cloudflare allows at most 63`,
    );
    expect(error.hint).toContain(base.slice(0, 40));
  });

  it.each(["Auth", "auth_worker", "-auth", "auth.worker", "", "auth worker", "auth\u0000"])(
    "refuses the base name %j",
    (base) => {
      const error = userErrorOf(() => workerName(base, production));
      expect(error.code).toBe("INVALID_ENVIRONMENT");
      expect(error.message).toContain(`"${showInput(`${base}-production`)}"`);
      expect(error.message).toContain("at most 63");
    },
  );
});

describe("branchName and databaseName", () => {
  it.each<[Environment, string, string]>([
    [production, "main", "main"],
    [staging, "staging", "staging"],
    [previewEnvironment(123), "pr-123", "pr_123"],
    [previewEnvironment(MAX_PR), `pr-${MAX_PR}`, `pr_${MAX_PR}`],
  ])("names %j", (env, branch, database) => {
    expect(branchName(env)).toBe(branch);
    expect(databaseName(env)).toBe(database);
    // A Postgres identifier that needs no quoting, well under NAMEDATALEN (63).
    expect(databaseName(env)).toMatch(/^[a-z_][a-z0-9_]{0,62}$/);
  });
});

describe("names read back", () => {
  const bases = ["codex-web", "auth-worker", "stripe-webhook-handler"];

  it.each<Environment>([production, staging, preview7, previewEnvironment(MAX_PR)])(
    "round-trips %j",
    (env) => {
      expect(environmentFromBranch(branchName(env))).toEqual(env);
      expect(environmentFromDatabase(databaseName(env))).toEqual(env);
      for (const base of bases) {
        expect(environmentFromWorker(workerName(base, env), bases)).toEqual(env);
      }
    },
  );

  it.each([
    "",
    "dev",
    "pr-0",
    "pr-01",
    "pr-1;drop",
    `pr-${MAX_PR + 1}`,
    "pr_7",
    "preview-7",
    "Staging",
  ])("does not claim the branch %j", (name) => {
    expect(environmentFromBranch(name)).toBeUndefined();
  });

  it.each(["", "postgres", "template1", "pr_0", "pr_x", `pr_${MAX_PR + 1}`, "pr-7", "main_copy"])(
    "does not claim the database %j",
    (name) => {
      expect(environmentFromDatabase(name)).toBeUndefined();
    },
  );

  it.each([
    "codex-web",
    "codex-web-",
    "codex-web-main",
    "codex-web-preview-0",
    "codex-web-preview-01",
    "codex-web-pr-7",
    "other-worker-production",
    "other-preview-7",
    "auth-worker-staging-2",
  ])("does not claim the Worker %j", (name) => {
    expect(environmentFromWorker(name, bases)).toBeUndefined();
  });
});

describe("report Worker names", () => {
  it("names a preview's report Worker within Cloudflare's limit, and reads it back", () => {
    expect(reportWorkerName(preview7)).toBe("codex-report-preview-7");
    const longest = reportWorkerName(previewEnvironment(MAX_PR));
    expect(longest).toBe(`codex-report-preview-${MAX_PR}`);
    expect(longest.length).toBeLessThanOrEqual(WORKER_NAME_MAX);
    for (const env of [production, staging, preview7, previewEnvironment(MAX_PR)]) {
      expect(environmentFromReportWorker(reportWorkerName(env))).toEqual(env);
    }
  });

  it.each([
    "codex-report",
    "codex-report-preview-0",
    "codex-report-preview-07",
    "codex-web-preview-7",
    "codex-reports-preview-7",
    "codex-report-pr-7",
  ])("does not claim %j", (name) => {
    expect(environmentFromReportWorker(name)).toBeUndefined();
  });
});

describe("local hostnames", () => {
  it.each<[Environment, [string, string, string]]>([
    [production, ["localhost", "auth.localhost", "webhook.localhost"]],
    [staging, ["staging.localhost", "staging-auth.localhost", "staging-webhook.localhost"]],
    [
      previewEnvironment(123),
      ["pr-123.localhost", "pr-123-auth.localhost", "pr-123-webhook.localhost"],
    ],
  ])("names and round-trips %j", (env, [web, auth, webhook]) => {
    const hosts = localHostnames(env);
    expect(hosts).toEqual({ web, auth, webhook });
    for (const host of Object.values(hosts)) {
      expect(environmentFromHostname(host)).toBe(env.name);
      expect(environmentFromHostname(`${host}:8787`)).toBe(env.name);
      expect(environmentFromHostname(host.toUpperCase())).toBe(env.name);
    }
  });

  it.each([
    "",
    "example.com",
    "localhost.example.com",
    "evil-localhost",
    ".localhost",
    "foo.localhost",
    "auth-staging.localhost",
    "pr-.localhost",
    "pr-0.localhost",
    "pr-01.localhost",
    "pr-1-other.localhost",
    "pr-99999999999.localhost",
    "pr-1.auth.localhost",
    "staging.localhost.evil",
    "127.0.0.1:8787",
    "[::1]:8787",
  ])("does not claim %j", (host) => {
    expect(environmentFromHostname(host)).toBeUndefined();
  });
});
