/**
 * Holds the recording stubs to the vendors' own API contracts: each stub hands every request it
 * receives to `stubContract(vendor).check(...)`, which validates it (method and path, path and
 * query parameters, the JSON, form-encoded or multipart body) against the vendor's OpenAPI
 * document in ../specs, and validates the response the stub then sends (status, JSON body).
 * What fails is kept in the stub's `violations`; vitest-setup.ts fails the test that caused it.
 *
 * The documents (../specs/README.md says where each came from):
 * - GitHub: `github.json`, from @octokit/openapi; the `/repositories/{id}/...` form that GitHub's
 *   own Link headers use (and its document lacks) is checked as `/repos/{owner}/{repo}/...`.
 * - Neon: `neon.json`, the document @neondatabase/api-client is generated from.
 * - Stripe: `stripe.json`; request bodies are form-encoded with Stripe's bracket notation
 *   (`metadata[k]=v`, `enabled_events[0]=x`), decoded with `qs` as Stripe's libraries encode them.
 * - Cloudflare: `cloudflare-2024-08-06.json`, partial and out of date, with
 *   `cloudflare-wrangler-4.86.json` laid over it: the paths it lacks, the upload `metadata`
 *   part, and the binding types, as wrangler 4.86's own source declares them.
 *
 * The validator is ajv (the JSON Schema validator most OpenAPI tools are built on), with
 * ajv-formats, after @openapi-contrib/openapi-schema-to-json-schema turns each OpenAPI 3.0
 * schema into JSON Schema (`nullable`, `example`, `discriminator`...). The documents' `$ref`s are
 * left in place and ajv resolves them inside the document, so Stripe's recursive schemas and
 * its 500-odd components need no dereferencing. openapi-backend was considered: it dereferences
 * the whole document into one object graph, which Stripe's circular `$ref`s make impractical.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { fullFormats } from "ajv-formats/dist/formats";
import { openapiSchemaToJsonSchema } from "@openapi-contrib/openapi-schema-to-json-schema";
import { parse as parseForm } from "qs";
import Stripe from "stripe";
import { readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";

export type Vendor = "cloudflare" | "github" | "neon" | "stripe";

export interface ContractViolation {
  vendor: Vendor;
  /** "request": the vendor would refuse what the client sent; "response": the stub's answer is not what the vendor documents. */
  side: "request" | "response";
  method: string;
  path: string;
  /** The document's operationId, when the path and method are in it. */
  operation?: string;
  status?: number;
  errors: string[];
}

/** A request as a stub received it. `path` is below the vendor's server URL (as the stubs record it). */
export interface ContractRequest {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  /** The raw query string without `?` (Stripe's bracket notation needs it); defaults to `query`. */
  search?: string;
  contentType?: string;
  /** The raw body; empty when there is none. */
  body: string | Buffer;
  /** A multipart body's parts by name, as the stub parsed them (`multipartParts`). */
  parts?: Map<string, string>;
}

export interface ContractVerdict {
  operation?: string;
  /** Why the vendor would refuse the request; empty when it would accept it. */
  errors: string[];
  /** The first offending parameter, for vendors whose error names it (Stripe's `param`). */
  param?: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = Record<string, unknown>;

interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema?: JsonObject;
}

interface Operation {
  method: string;
  template: string;
  pattern: RegExp;
  names: string[];
  id: string | undefined;
  /** JSON pointer of the operation in the document. */
  pointer: string;
  parameters: Parameter[];
  requestBody: JsonObject | undefined;
  responses: Record<string, JsonObject>;
}

const SPECS = new URL("../specs/", import.meta.url);
const readJson = (name: string) =>
  JSON.parse(readFileSync(new URL(name, SPECS), "utf8")) as JsonObject;

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

/** The OpenAPI 3.0 places that hold a Schema Object, converted to JSON Schema in place. */
function convertDocument(doc: JsonObject): void {
  const convert = (schema: unknown): JsonObject => {
    const converted = openapiSchemaToJsonSchema(schema as JsonObject, {
      cloneSchema: true,
      // `nullable` without `type` (`{ anyOf: [...], nullable: true }`, as Stripe writes it) is
      // dropped by the converter, which would refuse null: spell it out first.
      beforeTransform: (s) => {
        const node = s as JsonObject;
        if (node.nullable !== true || "type" in node) return node;
        const { nullable: _nullable, ...rest } = node;
        return { anyOf: [rest, { type: "null" }] };
      },
      afterTransform: (s) => {
        const node = s as JsonObject;
        delete node.$schema;
        return node;
      },
    }) as JsonObject;
    delete converted.$schema;
    return converted;
  };
  const contentSchemas = (holder: unknown) => {
    const content = (holder as { content?: Record<string, JsonObject> } | undefined)?.content;
    for (const media of Object.values(content ?? {})) {
      if (media.schema) media.schema = convert(media.schema);
    }
  };
  const parameters = (list: unknown) => {
    for (const p of (list as JsonObject[] | undefined) ?? [])
      if (p.schema) p.schema = convert(p.schema);
  };
  const components = (doc.components ?? {}) as Record<string, Record<string, JsonObject>>;
  for (const [name, schema] of Object.entries(components.schemas ?? {})) {
    (components.schemas as Record<string, JsonObject>)[name] = convert(schema);
  }
  parameters(Object.values(components.parameters ?? {}));
  for (const r of Object.values(components.responses ?? {})) contentSchemas(r);
  for (const r of Object.values(components.requestBodies ?? {})) contentSchemas(r);
  for (const item of Object.values((doc.paths ?? {}) as Record<string, JsonObject>)) {
    parameters(item.parameters);
    for (const method of METHODS) {
      const op = item[method] as JsonObject | undefined;
      if (!op) continue;
      parameters(op.parameters);
      contentSchemas(op.requestBody);
      for (const r of Object.values((op.responses ?? {}) as Record<string, JsonObject>)) {
        contentSchemas(r);
      }
    }
  }
}

/** Lays `overlay`'s paths (per method) and components (per name) over `base`. */
function overlay(base: JsonObject, extra: JsonObject): JsonObject {
  const paths = { ...(base.paths as Record<string, JsonObject>) };
  for (const [path, item] of Object.entries(extra.paths as Record<string, JsonObject>)) {
    paths[path] = { ...(paths[path] ?? {}), ...item };
  }
  const components = { ...(base.components as Record<string, JsonObject>) };
  for (const [section, entries] of Object.entries(extra.components as Record<string, JsonObject>)) {
    components[section] = { ...(components[section] ?? {}), ...entries };
  }
  return { ...base, paths, components };
}

const escapePointer = (token: string) => token.replace(/~/g, "~0").replace(/\//g, "~1");

function formatErrors(errors: ErrorObject[] | null | undefined, where: string): string[] {
  // anyOf/oneOf report every branch's failure; the branch errors say what is wrong.
  const useful = (errors ?? []).filter(
    (e) => !["anyOf", "oneOf", "if", "allOf"].includes(e.keyword),
  );
  const list = useful.length > 0 ? useful : (errors ?? []);
  const seen = new Set<string>();
  const out: string[] = [];
  for (const e of list.slice(0, 8)) {
    const extra =
      e.keyword === "additionalProperties"
        ? ` (${String((e.params as { additionalProperty: string }).additionalProperty)})`
        : e.keyword === "enum"
          ? ` (${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues.slice(0, 5))}${(e.params as { allowedValues: unknown[] }).allowedValues.length > 5 ? "…" : ""})`
          : "";
    const line = `${where}${e.instancePath || ""} ${e.message ?? e.keyword}${extra}`;
    if (!seen.has(line)) out.push(line);
    seen.add(line);
  }
  return out;
}

/** The first parameter an error is about, Stripe-style (`metadata[key]`, `enabled_events[0]`). */
function paramOf(errors: ErrorObject[] | null | undefined): string | undefined {
  const e = errors?.[0];
  if (!e) return undefined;
  const tokens = e.instancePath.split("/").slice(1);
  if (e.keyword === "additionalProperties") {
    tokens.push(String((e.params as { additionalProperty: string }).additionalProperty));
  }
  if (e.keyword === "required")
    tokens.push(String((e.params as { missingProperty: string }).missingProperty));
  const [head, ...rest] = tokens;
  return head === undefined ? undefined : head + rest.map((t) => `[${t}]`).join("");
}

class VendorContract {
  private readonly operations: Operation[] = [];
  /** Coerces strings (path, query, form fields) to the schema's types; JSON bodies are checked as sent. */
  private readonly strings: Ajv;
  private readonly json: Ajv;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(
    readonly vendor: Vendor,
    private readonly doc: JsonObject,
    private readonly options: {
      /** Schema every non-2xx response is checked against, where the document's own cannot be met. */
      errorSchema?: string;
      /** Unknown query parameters are refused (Stripe refuses them; the others ignore them). */
      strictQuery?: boolean;
      /** Maps a path the vendor serves but does not document onto the documented one. */
      alias?: (path: string) => string;
    } = {},
  ) {
    convertDocument(doc);
    const make = (coerceTypes: boolean) => {
      const ajv = new Ajv({
        strict: false,
        allErrors: true,
        validateSchema: false,
        coerceTypes: coerceTypes ? "array" : false,
        logger: false,
      });
      addFormats(ajv);
      // GitHub documents its deployment status URLs as `format: uri` with `default: ""`, and
      // sends "" when none was given (https://docs.github.com/rest/deployments/statuses): by the
      // document's own default, an empty string is a valid value there.
      const uri = fullFormats.uri as (value: string) => boolean;
      ajv.addFormat("uri", (value: string) => value === "" || uri(value));
      ajv.addSchema(doc as object, "doc");
      return ajv;
    };
    this.strings = make(true);
    this.json = make(false);
    for (const [template, item] of Object.entries(doc.paths as Record<string, JsonObject>)) {
      const names: string[] = [];
      const pattern = new RegExp(
        "^" +
          template
            .split(/(\{[^}]+\})/)
            .map((part) => {
              const name = /^\{([^}]+)\}$/.exec(part)?.[1];
              if (name === undefined) return part.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
              names.push(name);
              return "([^/]+)";
            })
            .join("") +
          "/?$",
      );
      for (const method of METHODS) {
        const op = item[method] as JsonObject | undefined;
        if (!op) continue;
        const pointer = `#/paths/${escapePointer(template)}/${method}`;
        const parameters = [
          ...((item.parameters as JsonObject[] | undefined) ?? []),
          ...((op.parameters as JsonObject[] | undefined) ?? []),
        ].map((p) => this.resolve(p) as unknown as Parameter);
        this.operations.push({
          method: method.toUpperCase(),
          template,
          pattern,
          names,
          id: op.operationId as string | undefined,
          pointer,
          parameters,
          requestBody: op.requestBody ? this.resolve(op.requestBody as JsonObject) : undefined,
          responses: Object.fromEntries(
            Object.entries((op.responses ?? {}) as Record<string, JsonObject>).map(([k, v]) => [
              k,
              this.resolve(v),
            ]),
          ),
        });
      }
    }
    // A literal segment wins over a template one (`/issues/comments/{id}` over `/issues/{n}`).
    this.operations.sort((a, b) => a.names.length - b.names.length);
  }

  /** Follows `$ref`s inside the document (parameters, request bodies, responses). */
  private resolve(node: JsonObject): JsonObject {
    let current = node;
    for (let i = 0; typeof current.$ref === "string" && i < 10; i++) {
      const tokens = (current.$ref as string).replace(/^#\//, "").split("/");
      let target: unknown = this.doc;
      for (const token of tokens) {
        target = (target as JsonObject)[token.replace(/~1/g, "/").replace(/~0/g, "~")];
      }
      current = target as JsonObject;
    }
    return current;
  }

  private validator(ajv: Ajv, schema: JsonObject, key: string): ValidateFunction {
    const cacheKey = `${ajv === this.json ? "json" : "strings"} ${key}`;
    let validate = this.compiled.get(cacheKey);
    if (!validate) {
      // `$ref`s in the schema are resolved against the whole document ("doc").
      validate = ajv.compile(rebase(schema));
      this.compiled.set(cacheKey, validate);
    }
    return validate;
  }

  match(method: string, path: string): { op: Operation; params: Record<string, string> } | null {
    const documented = this.options.alias ? this.options.alias(path) : path;
    for (const op of this.operations) {
      if (op.method !== method.toUpperCase()) continue;
      const found = op.pattern.exec(documented);
      if (!found) continue;
      const params = Object.fromEntries(
        op.names.map((name, i) => [name, decodeURIComponent(found[i + 1] ?? "")]),
      );
      return { op, params };
    }
    return null;
  }

  /** Whether the document has the path at all (for any method). */
  hasPath(path: string): boolean {
    const documented = this.options.alias ? this.options.alias(path) : path;
    return this.operations.some((op) => op.pattern.test(documented));
  }

  checkRequest(request: ContractRequest): ContractVerdict & { op?: Operation } {
    const method = request.method.toUpperCase();
    const matched = this.match(method, request.path);
    if (!matched) {
      return {
        errors: [
          this.hasPath(request.path)
            ? `${method} is not an operation of ${request.path} in ${this.vendor}'s document`
            : `${request.path} is not a path of ${this.vendor}'s document`,
        ],
      };
    }
    const { op, params } = matched;
    const errors: string[] = [];
    let param: string | undefined;
    const check = (
      schema: JsonObject,
      value: unknown,
      where: string,
      key: string,
      ajv = this.strings,
    ) => {
      const validate = this.validator(ajv, schema, key);
      if (validate(value)) return;
      errors.push(...formatErrors(validate.errors, where));
      param ??= paramOf(validate.errors) ?? where;
    };

    // Path and query parameters: strings on the wire, coerced to the schema's type.
    const query: Record<string, unknown> =
      this.vendor === "stripe"
        ? (parseForm(request.search ?? new URLSearchParams(flat(request.query)).toString(), {
            depth: 10,
            arrayLimit: 1000,
          }) as Record<string, unknown>)
        : { ...request.query };
    for (const p of op.parameters) {
      const source = p.in === "path" ? params : p.in === "query" ? query : undefined;
      if (!source) continue;
      const value = source[p.name];
      if (value === undefined) {
        if (p.required) {
          errors.push(`${p.in} parameter ${p.name} is required`);
          param ??= p.name;
        }
        continue;
      }
      if (p.schema) {
        const holder = { value: structuredClone(value) };
        check(
          { type: "object", properties: { value: p.schema } },
          holder,
          `${p.in} parameter ${p.name}`,
          `${op.pointer} ${p.in} ${p.name}`,
        );
      }
    }
    if (this.options.strictQuery) {
      const known = new Set(op.parameters.filter((p) => p.in === "query").map((p) => p.name));
      for (const name of Object.keys(query)) {
        if (!known.has(name)) {
          errors.push(`query parameter ${name} is unknown`);
          param ??= name;
        }
      }
    }

    // The body, by its content type.
    const raw = typeof request.body === "string" ? request.body : request.body.toString("utf8");
    const body = op.requestBody as
      { required?: boolean; content?: Record<string, { schema?: JsonObject }> } | undefined;
    const type = (request.contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    if (body?.content && raw.length > 0) {
      const media = body.content[type];
      if (!media) {
        errors.push(
          `content type "${type || "(none)"}" is not one of ${Object.keys(body.content).join(", ")}`,
        );
      } else if (media.schema) {
        const key = `${op.pointer} body ${type}`;
        if (type === "application/json") {
          let parsed: unknown;
          try {
            parsed = JSON.parse(raw);
          } catch {
            errors.push("the body is not valid JSON");
          }
          if (parsed !== undefined) check(media.schema, parsed, "body", key, this.json);
        } else if (type === "application/x-www-form-urlencoded") {
          const parsed = parseForm(raw, { depth: 10, arrayLimit: 1000 });
          check(media.schema, parsed, "body", key);
        } else if (type === "multipart/form-data") {
          // Parsed by the stub (`multipart`), checked part by part: JSON parts as JSON.
          check(media.schema, this.multipart(media.schema, request), "body", key, this.json);
        }
      }
    } else if (body?.required && raw.length === 0 && !["GET", "DELETE"].includes(method)) {
      errors.push("the request body is required");
    }
    return { op, operation: op.id, errors, ...(param === undefined ? {} : { param }) };
  }

  /** The parts of a multipart body, JSON parts (by the document's schema) parsed. */
  private multipart(schema: JsonObject, request: ContractRequest): Record<string, unknown> {
    const parts = request.parts;
    const properties = (schema.properties ?? {}) as Record<string, JsonObject>;
    const out: Record<string, unknown> = {};
    for (const [name, text] of parts ?? []) {
      const property = properties[name] ? this.resolve(properties[name]) : undefined;
      const isJson =
        property !== undefined &&
        (property.type === "object" || "properties" in property || "allOf" in property);
      if (!isJson) {
        out[name] = text;
        continue;
      }
      try {
        out[name] = JSON.parse(text) as Json;
      } catch {
        out[name] = text;
      }
    }
    return out;
  }

  checkResponse(op: Operation, status: number, text: string): string[] {
    const documented =
      op.responses[String(status)] ??
      op.responses[`${String(status)[0]}XX`] ??
      op.responses.default;
    const success = status >= 200 && status < 300;
    if (!documented) {
      // Errors such as 401, 429 or 5xx are not listed for every operation; a success must be.
      return success ? [`status ${status} is not a documented response of ${op.id}`] : [];
    }
    const content = (documented as { content?: Record<string, { schema?: JsonObject }> }).content;
    if (!content || Object.keys(content).length === 0) {
      return text.length === 0 ? [] : [`status ${status} is documented without a body`];
    }
    let schema = content["application/json"]?.schema;
    if (!success && this.options.errorSchema) schema = { $ref: this.options.errorSchema };
    if (!schema) return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return ["the response body is not JSON"];
    }
    const validate = this.validator(this.json, schema, `${op.pointer} response ${status}`);
    return validate(parsed) ? [] : formatErrors(validate.errors, `response ${status}`);
  }
}

/** Points a schema's local `$ref`s (`#/components/...`) into the document registered as "doc". */
function rebase(schema: JsonObject): JsonObject {
  return JSON.parse(JSON.stringify(schema).replace(/"\$ref":"#\//g, '"$ref":"doc#/')) as JsonObject;
}

function flat(query: Record<string, string | string[]>): [string, string][] {
  return Object.entries(query).flatMap(([k, v]) =>
    Array.isArray(v) ? v.map((x): [string, string] => [k, x]) : [[k, v]],
  );
}

/**
 * Stripe's document is of 2023-09 (../specs/README.md): its `api_version` enum ends at
 * 2023-08-16. The one newer value a client may rightly send is the version the pinned `stripe`
 * library speaks (`Stripe.API_VERSION`, from stripe-node's own generated apiVersion.ts), so it
 * is added to the enum of the webhook endpoint's create request, and nothing else is.
 */
function withLibraryApiVersion(doc: JsonObject): JsonObject {
  const create = (doc.paths as Record<string, Record<string, JsonObject>>)["/v1/webhook_endpoints"]
    ?.post as { requestBody?: { content?: Record<string, { schema?: JsonObject }> } } | undefined;
  const version = (
    create?.requestBody?.content?.["application/x-www-form-urlencoded"]?.schema?.properties as
      Record<string, { enum?: string[] }> | undefined
  )?.api_version;
  if (version?.enum && !version.enum.includes(Stripe.API_VERSION)) {
    version.enum.push(Stripe.API_VERSION);
  }
  return doc;
}

const contracts = new Map<Vendor, VendorContract>();

/** The vendor's contract, loaded once per process. */
export function vendorContract(vendor: Vendor): VendorContract {
  let contract = contracts.get(vendor);
  if (contract) return contract;
  switch (vendor) {
    case "github":
      contract = new VendorContract("github", readJson("github.json"), {
        // GitHub's Link headers use /repositories/{id}/...: the same operations as /repos/{owner}/{repo}/...
        alias: (path) => path.replace(/^\/repositories\/(\d+)\//, "/repos/repository-$1/by-id/"),
      });
      break;
    case "neon":
      contract = new VendorContract("neon", readJson("neon.json"));
      break;
    case "stripe":
      // Stripe refuses unknown parameters: https://docs.stripe.com/api/errors (invalid_request_error).
      contract = new VendorContract("stripe", withLibraryApiVersion(readJson("stripe.json")), {
        strictQuery: true,
      });
      break;
    case "cloudflare":
      contract = new VendorContract(
        "cloudflare",
        overlay(readJson("cloudflare-2024-08-06.json"), readJson("cloudflare-wrangler-4.86.json")),
        {
          // The 2024 document's 4XX schemas are allOf(success envelope, failure envelope), which
          // nothing meets (`success` is both true and false); an error answer is checked against
          // the failure envelope alone.
          errorSchema: "#/components/schemas/workers_api-response-common-failure",
        },
      );
      break;
  }
  contracts.set(vendor, contract);
  return contract;
}

/** Every stub's violations, so that vitest-setup.ts can fail the test that caused them. */
const everyStub = new Set<ContractViolation[]>();

/** Removes and returns the violations every stub recorded since the last call. */
export function takeViolations(): ContractViolation[] {
  return [...everyStub].flatMap((list) => list.splice(0));
}

export function describeViolations(violations: readonly ContractViolation[]): string {
  return violations
    .map(
      (v) =>
        `${v.vendor} ${v.side === "request" ? "would refuse" : "would not answer"} ${v.method} ${v.path}` +
        `${v.operation ? ` (${v.operation})` : ""}${v.status === undefined ? "" : `, status ${v.status}`}:\n  ` +
        v.errors.join("\n  "),
    )
    .join("\n");
}

export interface StubContract {
  /** What the vendor would refuse, and stub answers it would not give. Tests that expect one take it (`splice(0)`). */
  violations: ContractViolation[];
  /**
   * Checks a request and watches the answer: call it once per request, before answering. A
   * verdict with errors is recorded as a violation; the stub answers it with the vendor's error.
   */
  check(request: ContractRequest, res: ServerResponse): ContractVerdict;
}

/** One stub's view of its vendor's contract. */
export function stubContract(vendor: Vendor): StubContract {
  const violations: ContractViolation[] = [];
  everyStub.add(violations);
  return {
    violations,
    check(request, res) {
      const contract = vendorContract(vendor);
      const method = request.method.toUpperCase();
      const verdict = contract.checkRequest(request);
      const base = {
        vendor,
        method,
        path: request.path,
        ...(verdict.operation ? { operation: verdict.operation } : {}),
      };
      if (verdict.errors.length > 0 && verdict.op) {
        violations.push({ ...base, side: "request", errors: verdict.errors });
      }
      const op = verdict.op;
      // The answer is checked as it is written: every path through the stub ends in res.end.
      const chunks: Buffer[] = [];
      const write = res.write.bind(res) as (...args: unknown[]) => boolean;
      const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
      const collect = (chunk: unknown) => {
        if (typeof chunk === "string") chunks.push(Buffer.from(chunk));
        else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
      };
      res.write = ((chunk: unknown, ...rest: unknown[]) => {
        collect(chunk);
        return write(chunk, ...rest);
      }) as typeof res.write;
      res.end = ((chunk?: unknown, ...rest: unknown[]) => {
        if (typeof chunk !== "function") collect(chunk);
        const status = res.statusCode;
        const text = Buffer.concat(chunks).toString("utf8");
        const errors = op
          ? contract.checkResponse(op, status, text)
          : status >= 200 && status < 300
            ? [
                `the stub answered ${status} to an operation ${vendor}'s document lacks: ` +
                  `add the path to KEEP in src/testing/specs/trim.mjs and regenerate the document`,
              ]
            : [];
        if (errors.length > 0) violations.push({ ...base, side: "response", status, errors });
        return end(chunk, ...rest);
      }) as typeof res.end;
      return verdict.op ? verdict : { errors: [] };
    },
  };
}

/** The parts of a multipart request (text only; files by their text), for `check`. */
export async function multipartParts(form: FormData): Promise<Map<string, string>> {
  const parts = new Map<string, string>();
  for (const [name, value] of form.entries()) {
    parts.set(name, typeof value === "string" ? value : await value.text());
  }
  return parts;
}
