/**
 * A recording stub of the Dagger engine's GraphQL session API, enough for the TypeScript SDK to
 * run a module function without an engine (docs/testing.md). The SDK finds it
 * through DAGGER_SESSION_PORT and DAGGER_SESSION_TOKEN and POSTs every query to /query.
 *
 * The SDK sends a pipeline as one nested query when a leaf (`id`, `sync`, `stdout`, `contents`)
 * is awaited, and resolves object arguments (a cache volume, a secret, a service) by separate
 * `{ ... { id } }` queries first. The stub answers `id` and `sync` with made-up IDs that stand
 * for the chain of calls that led to them, so that a later `node(id:)` query, or an argument
 * holding that ID, can be expanded back into the whole pipeline. IDs it did not make (the
 * function's own arguments, such as the source directory or a secret) are returned as they are.
 *
 * Every query is first validated against the engine's own schema (schema/, vendored with its
 * provenance, at the version dagger.json pins), as the engine does: a misspelled field or
 * argument is answered with the engine's kind of error (graphql's "Did you mean ...?"), so the
 * function under test fails as it would on a real engine.
 */
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import { posix } from "node:path";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import {
  buildSchema,
  Kind,
  parse,
  validate,
  valueFromASTUntyped,
  type GraphQLSchema,
  type FieldNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from "graphql";
import { listenOnLoopback } from "../../packages/pipeline/src/testing/stubs/listen";

/** Where the vendored schema is, and what it is (schema/README.md). */
export const SCHEMA_DIR = new URL("./schema/", import.meta.url);
export interface SchemaProvenance {
  file: string;
  sha256: string;
  engineVersions: string[];
}
export const SCHEMA_PROVENANCE = JSON.parse(
  readFileSync(new URL("provenance.json", SCHEMA_DIR), "utf8"),
) as SchemaProvenance;

let schema: GraphQLSchema | undefined;
/** The engine's API schema, parsed once. */
export function engineSchema(): GraphQLSchema {
  schema ??= buildSchema(readFileSync(new URL(SCHEMA_PROVENANCE.file, SCHEMA_DIR), "utf8"));
  return schema;
}

/** One call in a chain, such as `withExec(args: [...])`. */
export interface Op {
  field: string;
  args: Record<string, unknown>;
}

/** A query that made the engine do something: the chain that was evaluated, and its leaf. */
export interface Evaluation {
  chain: Op[];
  leaf: string;
}

/** An exec the stub should fail, as the engine does when a command exits non-zero. */
export interface ExecFailure {
  exitCode: number;
  stderr: string;
}

export interface StubOptions {
  /**
   * The files the evaluated containers hold, by absolute path: read with `file(path) {
   * contents }` (of a container, or of its `directory(path)`), listed by `entries`.
   */
  files?: Record<string, string>;
  /** Called for every exec in an evaluated chain; a result makes the query fail like it. */
  failExec?: (args: string[]) => ExecFailure | undefined;
}

export interface DaggerStub {
  port: number;
  token: string;
  /** Every query the SDK sent, as text. */
  queries: string[];
  /** Every evaluation, in order. */
  evaluations: Evaluation[];
  /** The validation errors of queries the schema rejected (answered with those errors). */
  rejected: string[];
  /** The chain an ID stands for; undefined for IDs the stub did not make. */
  chainOf(id: string): Op[] | undefined;
  /** `chain` with every ID argument made by the stub replaced by `{ ref: <its chain> }`. */
  expand(chain: Op[]): Op[];
  close(): Promise<void>;
}

const TOKEN = "stub-session-token";

export async function startDaggerStub(options: StubOptions = {}): Promise<DaggerStub> {
  const chains = new Map<string, Op[]>();
  const idsByChain = new Map<string, string>();
  const queries: string[] = [];
  const evaluations: Evaluation[] = [];
  const rejected: string[] = [];

  const mint = (chain: Op[]): string => {
    const key = JSON.stringify(chain);
    let id = idsByChain.get(key);
    if (!id) {
      id = `stub-id-${chains.size + 1}`;
      chains.set(id, chain);
      idsByChain.set(key, id);
    }
    return id;
  };

  /** The execs that fail the query when their command fails: all but `expect: ANY` ones. */
  const checkedExecs = (chain: Op[]): string[][] =>
    chain
      .filter((op) => op.field === "withExec" && op.args.expect !== "ANY")
      .map((op) => op.args.args as string[]);

  /**
   * The absolute path a chain's last `file` or `directory` names: a container's paths are
   * absolute; a directory's `file(path)` or `directory(path)` is relative to it.
   */
  const pathOf = (chain: Op[]): string => {
    let path = "/";
    for (const op of chain) {
      if (op.field === "container") path = "/";
      if ((op.field === "directory" || op.field === "file") && typeof op.args.path === "string") {
        path = posix.resolve(path, op.args.path);
      }
    }
    return path;
  };

  /** The answer to one leaf field at the end of `chain`. */
  const leaf = (chain: Op[], name: string): unknown => {
    if (name === "id") {
      const [first] = chain;
      // A node(id:) of an ID the stub did not make is one of the function's arguments.
      if (chain.length === 1 && first?.field === "node") return first.args.id;
      return mint(chain);
    }
    evaluations.push({ chain, leaf: name });
    for (const args of checkedExecs(chain)) {
      const failure = options.failExec?.(args);
      if (failure) throw new ExecFailed(args, failure);
    }
    switch (name) {
      case "sync":
        return mint(chain);
      case "contents":
        return chain.at(-1)?.field === "file" ? (options.files?.[pathOf(chain)] ?? "") : "";
      case "entries": {
        // The directory's files and folders (a folder ends in "/"), given or written in the chain.
        const dir = `${pathOf(chain)}/`;
        const written = chain
          .filter((op) => op.field === "withNewFile")
          .map((op) => posix.resolve(dir, String(op.args.path)));
        const names = [...Object.keys(options.files ?? {}), ...written]
          .filter((path) => path.startsWith(dir))
          .map((path) => path.slice(dir.length).replace(/\/.*$/, "/"));
        return [...new Set(names)].sort();
      }
      case "exitCode": {
        // The last exec's: one that may fail (`expect: ANY`) reports its status instead.
        const last = chain.filter((op) => op.field === "withExec").at(-1);
        return last ? (options.failExec?.(last.args.args as string[])?.exitCode ?? 0) : 0;
      }
      default:
        return "";
    }
  };

  const resolve = (selectionSet: SelectionSetNode, chain: Op[]): Record<string, unknown> => {
    const result: Record<string, unknown> = {};
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        Object.assign(result, resolve(selection.selectionSet, chain));
        continue;
      }
      if (selection.kind !== Kind.FIELD) continue;
      const field: FieldNode = selection;
      const args = Object.fromEntries(
        (field.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value)]),
      );
      const op: Op = { field: field.name.value, args };
      const key = field.alias?.value ?? field.name.value;
      const known = op.field === "node" ? chains.get(String(args.id)) : undefined;
      const next = known ?? [...chain, op];
      result[key] = field.selectionSet ? resolve(field.selectionSet, next) : leaf(chain, op.field);
    }
    return result;
  };

  const answer = (body: string): { status: number; json: unknown } => {
    const { query } = JSON.parse(body) as { query: string };
    queries.push(query);
    const document = parse(query);
    // As the engine's GraphQL server does before it resolves anything.
    const invalid = validate(engineSchema(), document);
    if (invalid.length) {
      rejected.push(...invalid.map((e) => e.message));
      return {
        status: 200,
        json: { data: null, errors: invalid.map((e) => ({ message: e.message })) },
      };
    }
    const operation = document.definitions.find(
      (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
    );
    if (!operation) return { status: 400, json: { errors: [{ message: "no operation" }] } };
    try {
      return { status: 200, json: { data: resolve(operation.selectionSet, []) } };
    } catch (error) {
      if (!(error instanceof ExecFailed)) throw error;
      return {
        status: 200,
        json: {
          data: null,
          errors: [
            {
              message: `process "${error.args.join(" ")}" did not complete successfully: exit code: ${error.failure.exitCode}`,
              extensions: {
                _type: "EXEC_ERROR",
                cmd: error.args,
                exitCode: error.failure.exitCode,
                stdout: "",
                stderr: error.failure.stderr,
              },
            },
          ],
        },
      };
    }
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const expected = `Basic ${Buffer.from(`${TOKEN}:`).toString("base64")}`;
    if (req.method !== "POST" || req.url !== "/query" || req.headers.authorization !== expected) {
      res.writeHead(401).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const { status, json } = answer(Buffer.concat(chunks).toString("utf8"));
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(json));
    });
  });
  const listening = await listenOnLoopback(server);

  const expand = (chain: Op[]): Op[] =>
    chain.map((op) => ({
      field: op.field,
      args: Object.fromEntries(
        Object.entries(op.args).map(([name, value]) => {
          const ref = typeof value === "string" ? chains.get(value) : undefined;
          return [name, ref ? { ref: expand(ref) } : value];
        }),
      ),
    }));

  return {
    port: listening.port,
    token: TOKEN,
    queries,
    evaluations,
    rejected,
    chainOf: (id) => chains.get(id),
    expand,
    close: listening.close,
  };
}

class ExecFailed extends Error {
  constructor(
    readonly args: string[],
    readonly failure: ExecFailure,
  ) {
    super(`exec failed: ${args.join(" ")}`);
  }
}
