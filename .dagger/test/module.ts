/**
 * The module as the engine sees it, without an engine: the SDK's own introspector (`scan`), and
 * its own invocation path (`Executor`, then `invoke`) against a GraphQL stub, as the SDK's
 * tests do (sdk/typescript/src/module/introspector/test in the dagger repository).
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const MODULE_DIR = join(REPO_ROOT, ".dagger");
export const MODULE_FILE = join(MODULE_DIR, "src", "index.ts");
/** dagger.json's module name; the SDK expects a class of that name, in PascalCase. */
export const MODULE_OBJECT = "Codex";

/** The npm SDK's folder, as the module would resolve it (the scanner ignores tsconfig paths). */
export const SDK_DIR = resolve(
  dirname(createRequire(MODULE_FILE).resolve("@dagger.io/dagger")),
  "..",
  "..",
);

/** The deep modules of the SDK. Its `exports` block them, so they are imported by file URL. */
async function sdkModule<T>(path: string): Promise<T> {
  return (await import(pathToFileURL(join(SDK_DIR, "dist", "src", path)).href)) as T;
}

export interface TypeDef {
  kind: string;
  name?: string;
  typeDef?: TypeDef;
}

export interface ScannedArgument {
  name: string;
  description: string;
  type: TypeDef;
  isOptional: boolean;
  defaultValue?: unknown;
  defaultPath?: string;
  ignore?: string[];
}

export interface ScannedFunction {
  name: string;
  description: string;
  cache?: string;
  arguments: Record<string, ScannedArgument>;
  returnType: TypeDef;
}

export interface ScannedObject {
  name: string;
  description: string;
  _constructor?: ScannedFunction;
  methods: Record<string, ScannedFunction>;
  properties: Record<string, { name: string; description: string; type: TypeDef }>;
}

export interface ScannedModule {
  name: string;
  objects: Record<string, ScannedObject>;
}

let scanned: Promise<ScannedModule> | undefined;

/**
 * The SDK's `scan` of the module's source, as `dagger develop` and every call run it. It needs a
 * `client.gen.ts` beside the module's files: the npm package's declarations, renamed.
 */
export function scanModule(): Promise<ScannedModule> {
  scanned ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "codex-dagger-scan-"));
    try {
      const client = join(dir, "client.gen.ts");
      await copyFile(join(SDK_DIR, "dist", "src", "api", "client.gen.d.ts"), client);
      const { scan } = await sdkModule<{
        scan(files: string[], name: string, load: boolean): Promise<ScannedModule>;
      }>("module/introspector/index.js");
      return await scan([MODULE_FILE, client], "codex", false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return scanned;
}

/** The module's main object, with its functions. */
export async function mainObject(): Promise<ScannedObject> {
  const object = (await scanModule()).objects[MODULE_OBJECT];
  if (!object) throw new Error(`the scan found no ${MODULE_OBJECT} object`);
  return object;
}

/** How an argument or return type reads: String, Integer, Boolean, Secret, [String], ... */
export function typeName(type: TypeDef): string {
  switch (type.kind) {
    case "STRING_KIND":
      return "String";
    case "INTEGER_KIND":
      return "Integer";
    case "BOOLEAN_KIND":
      return "Boolean";
    case "LIST_KIND":
      return `[${type.typeDef ? typeName(type.typeDef) : "?"}]`;
    default:
      return type.name ?? type.kind;
  }
}

/** `camelCase` as the dagger CLI spells it: `kebab-case`. */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

interface Invoke {
  invoke(
    executor: unknown,
    module: ScannedModule,
    ctx: {
      parentName: string;
      fnName: string;
      parentArgs: Record<string, unknown>;
      fnArgs: Record<string, unknown>;
    },
  ): Promise<unknown>;
}

let loaded: Promise<{ module: Record<string, unknown>; cleanup: () => Promise<void> }> | undefined;

/**
 * The module compiled as the engine's runtime does (experimental decorators), importing the
 * same SDK instance as this process, so that its `dag` talks to the stub.
 */
function loadModule() {
  loaded ??= (async () => {
    const source = await readFile(MODULE_FILE, "utf8");
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        experimentalDecorators: true,
      },
      fileName: MODULE_FILE,
    });
    const sdk = pathToFileURL(join(SDK_DIR, "dist", "src", "index.js")).href;
    const code = outputText.replace(/from "@dagger\.io\/dagger"/g, `from ${JSON.stringify(sdk)}`);
    if (code === outputText) throw new Error("the module does not import @dagger.io/dagger");
    const dir = await mkdtemp(join(tmpdir(), "codex-dagger-module-"));
    const file = join(dir, "index.mjs");
    await writeFile(file, code);
    const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    return { module, cleanup: () => rm(dir, { recursive: true, force: true }) };
  })();
  return loaded;
}

export async function unloadModule(): Promise<void> {
  if (loaded) await (await loaded).cleanup();
}

/**
 * Calls a function of the module the way the engine's entrypoint does: the constructor's state
 * and the arguments as the engine passes them (objects by ID), through the SDK's `invoke`.
 * Needs DAGGER_SESSION_PORT and DAGGER_SESSION_TOKEN pointing at a stub.
 */
export async function invokeFunction(
  fnName: string,
  fnArgs: Record<string, unknown>,
  parentArgs: Record<string, unknown>,
): Promise<unknown> {
  const [{ module }, scan, { Executor }, { invoke }, { connection }] = await Promise.all([
    loadModule(),
    scanModule(),
    sdkModule<{ Executor: new (modules: unknown[], scan: ScannedModule) => unknown }>(
      "module/executor.js",
    ),
    sdkModule<Invoke>("module/entrypoint/invoke.js"),
    sdkModule<{ connection(fn: () => Promise<void>): Promise<void> }>("index.js"),
  ]);
  let result: unknown;
  await connection(async () => {
    const executor = new Executor([module], scan);
    result = await invoke(executor, scan, {
      parentName: MODULE_OBJECT,
      fnName,
      parentArgs,
      fnArgs,
    });
  });
  return result;
}
