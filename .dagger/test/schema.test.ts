/**
 * The engine's schema that the recording stub validates every query against: vendored with its
 * provenance, at the engine version the module pins, and really used (a misspelled field or
 * argument is refused as the engine refuses it).
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { SCHEMA_DIR, SCHEMA_PROVENANCE, engineSchema, startDaggerStub } from "./graphql-stub";
import { REPO_ROOT } from "./module";

const ENGINE_VERSION = (
  JSON.parse(readFileSync(join(REPO_ROOT, "dagger.json"), "utf8")) as { engineVersion: string }
).engineVersion;

/** POSTs one query to the stub as the SDK does. */
async function post(query: string): Promise<{ errors?: { message: string }[]; data: unknown }> {
  const stub = await startDaggerStub();
  try {
    const response = await fetch(`http://127.0.0.1:${stub.port}/query`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${stub.token}:`).toString("base64")}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ query }),
    });
    return (await response.json()) as { errors?: { message: string }[]; data: unknown };
  } finally {
    await stub.close();
  }
}

describe("the vendored engine schema", () => {
  it("is the file its provenance names, unchanged", () => {
    const dir = fileURLToPath(SCHEMA_DIR);
    const file = readFileSync(join(dir, SCHEMA_PROVENANCE.file));
    expect(createHash("sha256").update(file).digest("hex")).toBe(SCHEMA_PROVENANCE.sha256);
    // One schema only: the one the stub reads.
    expect(readdirSync(dir).filter((f) => f.endsWith(".graphqls"))).toEqual([
      SCHEMA_PROVENANCE.file,
    ]);
    expect(engineSchema().getQueryType()?.getFields().container).toBeDefined();
  });

  it("is the schema of the engine dagger.json pins, and of the workflows' Dagger", () => {
    expect(SCHEMA_PROVENANCE.engineVersions).toContain(ENGINE_VERSION);
    const workflows = join(REPO_ROOT, ".github", "workflows");
    const versions = readdirSync(workflows).flatMap((file) => {
      const wf = parse(readFileSync(join(workflows, file), "utf8")) as {
        jobs: Record<string, { steps: { uses?: string; with?: { version?: string } }[] }>;
      };
      return Object.values(wf.jobs).flatMap((job) =>
        job.steps.filter((s) => s.uses?.startsWith("dagger/")).map((s) => `v${s.with?.version}`),
      );
    });
    expect(versions.length).toBeGreaterThan(0);
    expect(versions.filter((v) => !SCHEMA_PROVENANCE.engineVersions.includes(v))).toEqual([]);
  });

  it("makes the stub refuse a misspelled field or argument, as the engine does", async () => {
    const good = await post(
      '{ container { from(address: "alpine") { withMountedCache(path: "/c", cache: "x") { id } } } }',
    );
    expect(good.errors).toBeUndefined();
    const field = await post('{ container { withMountedCach(path: "/c", cache: "x") { id } } }');
    expect(field.errors?.[0]?.message).toMatch(/Did you mean "withMountedCache"/);
    const argument = await post('{ container { withExec(arg: ["true"]) { id } } }');
    expect(argument.errors?.map((e) => e.message).join("\n")).toMatch(/Did you mean "args"/);
  });
});
