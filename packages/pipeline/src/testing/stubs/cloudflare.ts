/**
 * A recording stub of the Cloudflare API (under /client/v4) that the real wrangler 4.86 accepts
 * for what the pipeline does: deploy a new or an existing Worker (with static assets and
 * `--secrets-file`), set secrets, list versions, roll back and delete. Point wrangler at it with
 * CLOUDFLARE_API_BASE_URL=<url>. Every reply uses Cloudflare's envelope
 * `{ success, errors, messages, result }`.
 *
 * Secret values are kept in `scripts[name].secrets` (the live version's) and in the stub's own map
 * of each version's secrets (`secretsOf`), never in metadata: recorded request bodies show secret
 * bindings by name, never by value, so a test can search `requests` for a leaked secret.
 *
 * Versions and deployments as Cloudflare documents them
 * (https://developers.cloudflare.com/workers/configuration/versions-and-deployments/):
 * - a version holds its code, bindings and secrets; a deployment serves one version (or two);
 * - an upload's version carries the `workers/tag` and `workers/message` it was given, and
 *   `workers/triggered_by: upload`; changing a secret makes a new version from the live one and
 *   deploys it (`triggered_by: secret`) (wrangler 3.62.0's release notes, "version secrets");
 * - a rollback is a deployment like any other (POST .../deployments, `triggered_by: deployment`
 *   as in the "List Worker Deployments" example of the API reference), and it serves the old
 *   version with that version's secrets
 *   (https://developers.cloudflare.com/workers/configuration/versions-and-deployments/rollbacks/);
 * - that deployment is refused with code 10220, naming the secrets that changed, unless it is
 *   sent with `?force=true` (the API reference's `force` parameter of "Create Deployment"; the
 *   message shape is what wrangler's rollback parses, src/versions/rollback/index.ts).
 */
import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { multipartParts, stubContract, type ContractViolation } from "./contract";

export interface RecordedRequest {
  method: string;
  /** The path below /client/v4, e.g. /accounts/abc/workers/scripts/name. */
  path: string;
  query: Record<string, string>;
  /** Request headers; `authorization` is recorded as "Bearer [redacted]". */
  headers: Record<string, string>;
  /** A summary: parsed JSON, or the parts of a multipart body (metadata as JSON, files by size). */
  body: unknown;
  status: number;
}

export interface StubModule {
  type: string;
  size: number;
  content: string;
}

export interface StubVersion {
  id: string;
  number: number;
  created_on: string;
  /** The uploaded metadata, secret values removed. */
  metadata: Record<string, unknown>;
  modules: Record<string, StubModule>;
  message?: string;
  /** As the API returns them: workers/triggered_by, and the upload's workers/tag and workers/message. */
  annotations: Record<string, string>;
}

export interface StubDeployment {
  id: string;
  created_on: string;
  source: string;
  strategy: "percentage";
  versions: { version_id: string; percentage: number }[];
  annotations: Record<string, string>;
}

export interface StubScript {
  name: string;
  createdOn: string;
  etag: string;
  /** The latest upload's metadata (bindings, compatibility, assets), secret values removed. */
  metadata: Record<string, unknown>;
  modules: Record<string, StubModule>;
  /** Secret values by name: what the Worker would see. */
  secrets: Record<string, string>;
  /** The static assets of the latest upload that had any: path ("/index.html") -> content hash. */
  assets?: Record<string, string>;
  versions: StubVersion[];
  /** Newest first, as the API lists them. */
  deployments: StubDeployment[];
  subdomain: { enabled: boolean; previews_enabled: boolean };
  settings: Record<string, unknown>;
}

export type RequestMatcher =
  | ((request: { method: string; path: string }) => boolean)
  | { method?: string; path: string | RegExp };

export interface CloudflareStub {
  /** The API base URL, ending in /client/v4. */
  url: string;
  accountId: string;
  apiToken: string;
  /** The account's workers.dev subdomain (`<name>.<subdomain>.workers.dev`). */
  subdomain: string;
  requests: RecordedRequest[];
  /** Requests Cloudflare (or wrangler 4.86's own types, where its document falls short) refuses, and undocumented answers (contract.ts). */
  violations: ContractViolation[];
  scripts: Map<string, StubScript>;
  /**
   * Answers the next `times` matching requests with `status` and an error envelope, or never
   * answers them ("hang": what a timeout looks like to the client).
   */
  failNext(matcher: RequestMatcher, status: number | "hang", times?: number): void;
  /** Creates a Worker directly, as if deployed earlier by someone else. */
  seed(name: string): StubScript;
  /** The secret values version `versionId` of Worker `name` holds (what a rollback brings back). */
  secretsOf(name: string, versionId: string): Record<string, string> | undefined;
  /**
   * The static assets Worker `name` serves, path -> the bytes uploaded for it; undefined when it
   * has none. Cloudflare stores assets by content hash, so this is what the account holds.
   */
  assetsOf(name: string): Map<string, Buffer> | undefined;
  /** Makes the named Workers' workers.dev /health answer 500, as a broken deploy would. */
  breakHealth(names: readonly string[]): void;
  close(): Promise<void>;
}

// Cloudflare's codes for a missing script and a missing service, which wrangler recognises.
const SCRIPT_NOT_FOUND = 10007;
const SERVICE_NOT_FOUND = 10090;
// Create Deployment refused: the version's secrets differ from the live deployment's.
const SECRETS_CHANGED = 10220;
const REDACTED = "[redacted]";

interface Reply {
  status: number;
  result?: unknown;
  errors?: { code: number; message: string }[];
}

const ok = (result: unknown, status = 200): Reply => ({ status, result });
const fail = (status: number, code: number, message: string): Reply => ({
  status,
  errors: [{ code, message }],
});

function etagOf(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function nowIso(): string {
  return new Date().toISOString();
}

/** Secret bindings lose their value; everything else is kept as uploaded. */
function redactMetadata(metadata: Record<string, unknown>): {
  metadata: Record<string, unknown>;
  secrets: Record<string, string>;
} {
  const secrets: Record<string, string> = {};
  const bindings = Array.isArray(metadata.bindings) ? metadata.bindings : [];
  const redacted = bindings.map((binding: unknown) => {
    if (typeof binding !== "object" || binding === null) return binding;
    const b = binding as Record<string, unknown>;
    if (b.type === "secret_text" && typeof b.name === "string") {
      if (typeof b.text === "string") secrets[b.name] = b.text;
      const { text: _text, ...rest } = b;
      return rest;
    }
    return b;
  });
  return { metadata: { ...metadata, bindings: redacted }, secrets };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface ParsedBody {
  json?: unknown;
  form?: FormData;
  size: number;
}

async function parseBody(req: IncomingMessage, raw: Buffer): Promise<ParsedBody> {
  const type = req.headers["content-type"] ?? "";
  if (raw.length === 0) return { size: 0 };
  if (type.startsWith("multipart/form-data")) {
    const form = await new Response(raw, { headers: { "content-type": type } }).formData();
    return { form, size: raw.length };
  }
  try {
    return { json: JSON.parse(raw.toString("utf8")), size: raw.length };
  } catch {
    return { size: raw.length };
  }
}

async function formFields(form: FormData): Promise<Map<string, { type: string; text: string }>> {
  const fields = new Map<string, { type: string; text: string }>();
  for (const [name, value] of form.entries()) {
    if (typeof value === "string") fields.set(name, { type: "text/plain", text: value });
    else fields.set(name, { type: value.type, text: await value.text() });
  }
  return fields;
}

/** What a request's body is recorded as: no secret values, files by name, type and size. */
async function summarize(path: string, body: ParsedBody): Promise<unknown> {
  if (body.form) {
    const parts: { name: string; type: string; size: number }[] = [];
    let metadata: unknown;
    for (const [name, { type, text }] of await formFields(body.form)) {
      if (name === "metadata") {
        metadata = redactMetadata(JSON.parse(text) as Record<string, unknown>).metadata;
      } else if (name === "settings") {
        metadata = redactMetadata(JSON.parse(text) as Record<string, unknown>).metadata;
      }
      parts.push({ name, type, size: Buffer.byteLength(text) });
    }
    return { parts, ...(metadata === undefined ? {} : { metadata }) };
  }
  if (body.json !== undefined) {
    // PUT .../secrets carries one secret's value in `text`.
    if (/\/secrets$/.test(path) && typeof body.json === "object" && body.json !== null) {
      return { ...(body.json as Record<string, unknown>), text: REDACTED };
    }
    return body.json;
  }
  return body.size === 0 ? undefined : { size: body.size };
}

function matches(matcher: RequestMatcher, method: string, path: string): boolean {
  if (typeof matcher === "function") return matcher({ method, path });
  if (matcher.method && matcher.method.toUpperCase() !== method) return false;
  return typeof matcher.path === "string" ? matcher.path === path : matcher.path.test(path);
}

export async function startCloudflareStub(
  options: { accountId?: string; apiToken?: string; subdomain?: string } = {},
): Promise<CloudflareStub> {
  const accountId = options.accountId ?? "0123456789abcdef0123456789abcdef";
  const apiToken = options.apiToken ?? "stub-api-token";
  const subdomain = options.subdomain ?? "codex-stub";
  const requests: RecordedRequest[] = [];
  const scripts = new Map<string, StubScript>();
  const failures: { matcher: RequestMatcher; status: number | "hang"; left: number }[] = [];
  // Static assets are content-addressed per account: a hash uploaded once is never asked again.
  const assetHashes = new Set<string>();
  // The bytes of each uploaded asset, by hash (decoded from base64 when `?base64=true`).
  const assetContents = new Map<string, Buffer>();
  const uploadSessions = new Map<string, Set<string>>();
  const completionTokens = new Set<string>();
  // The manifest (path -> hash) each upload session, then its completion token, stands for:
  // "Upload the assets ... Then the completion token is used in the Worker's metadata"
  // (https://developers.cloudflare.com/workers/static-assets/direct-upload/).
  const sessionManifests = new Map<string, Record<string, string>>();
  const brokenHealth = new Set<string>();
  const contract = stubContract("cloudflare");
  // Each version's secret values, by version id: kept apart from what tests serialise.
  const versionSecrets = new Map<string, Record<string, string>>();

  function newScript(name: string): StubScript {
    const script: StubScript = {
      name,
      createdOn: nowIso(),
      etag: "",
      metadata: {},
      modules: {},
      secrets: {},
      versions: [],
      deployments: [],
      subdomain: { enabled: false, previews_enabled: false },
      settings: {},
    };
    scripts.set(name, script);
    return script;
  }

  /** A new deployment serving `versionId`: its code, bindings and secrets become the Worker's. */
  function deploy(
    script: StubScript,
    versionId: string,
    triggeredBy: "upload" | "deployment" | "secret",
    message?: string,
  ): StubDeployment {
    const deployment: StubDeployment = {
      id: randomUUID(),
      created_on: nowIso(),
      source: "wrangler",
      strategy: "percentage",
      versions: [{ version_id: versionId, percentage: 100 }],
      annotations: {
        ...(message ? { "workers/message": message } : {}),
        "workers/triggered_by": triggeredBy,
      },
    };
    script.deployments.unshift(deployment);
    const active = script.versions.find((v) => v.id === versionId);
    if (active) {
      script.metadata = active.metadata;
      script.modules = active.modules;
      script.secrets = { ...(versionSecrets.get(active.id) ?? {}) };
    }
    return deployment;
  }

  /** The live deployment's main version. */
  function liveVersion(script: StubScript): StubVersion | undefined {
    const main = [...(script.deployments[0]?.versions ?? [])].sort(
      (a, b) => b.percentage - a.percentage,
    )[0];
    return script.versions.find((v) => v.id === main?.version_id);
  }

  /**
   * A secret change: a new version copied from the live one with `change` applied to its
   * secrets, deployed at once (triggered_by: secret).
   */
  function changeSecrets(
    script: StubScript,
    change: (secrets: Record<string, string>) => Record<string, string>,
  ) {
    const live = liveVersion(script);
    const secrets = change({ ...(live ? versionSecrets.get(live.id) : script.secrets) });
    const version: StubVersion = {
      id: randomUUID(),
      number: script.versions.length + 1,
      created_on: nowIso(),
      metadata: live?.metadata ?? script.metadata,
      modules: live?.modules ?? script.modules,
      annotations: { "workers/triggered_by": "secret" },
    };
    script.versions.push(version);
    versionSecrets.set(version.id, secrets);
    deploy(script, version.id, "secret");
  }

  function versionView(script: StubScript, version: StubVersion) {
    const bindings = (version.metadata.bindings as unknown[] | undefined) ?? [];
    return {
      id: version.id,
      number: version.number,
      metadata: {
        created_on: version.created_on,
        modified_on: version.created_on,
        source: "wrangler",
        author_email: "stub@example.com",
      },
      annotations: version.annotations,
      resources: {
        script: { etag: script.etag, handlers: ["fetch"] },
        script_runtime: {
          compatibility_date: version.metadata.compatibility_date,
          compatibility_flags: version.metadata.compatibility_flags ?? [],
        },
        bindings,
      },
      startup_time_ms: 1,
    };
  }

  /**
   * Applies an uploaded Worker (a PUT of the script, or a POST of a version). Fails as the API
   * does when a service binding names a Worker that does not exist, or the assets token is bad.
   */
  async function upload(
    name: string,
    form: FormData,
  ): Promise<{ script: StubScript; version: StubVersion } | Reply> {
    const fields = await formFields(form);
    const metadataField = fields.get("metadata");
    if (!metadataField) return fail(400, 10021, "metadata part is missing");
    const uploaded = JSON.parse(metadataField.text) as Record<string, unknown>;
    const { metadata, secrets } = redactMetadata(uploaded);
    for (const binding of (metadata.bindings as Record<string, unknown>[] | undefined) ?? []) {
      if (binding.type === "service" && !scripts.has(String(binding.service))) {
        return fail(
          400,
          10143,
          `Could not resolve service binding '${String(binding.name)}'. Target script '${String(binding.service)}' not found.`,
        );
      }
    }
    const assets = metadata.assets as { jwt?: string } | undefined;
    if (assets && (!assets.jwt || !completionTokens.has(assets.jwt))) {
      return fail(400, 10021, "assets.jwt is not a completion token of an upload session");
    }
    const manifest = assets?.jwt ? sessionManifests.get(assets.jwt) : undefined;
    const modules: Record<string, StubModule> = {};
    for (const [part, { type, text }] of fields) {
      if (part === "metadata") continue;
      modules[part] = { type, size: Buffer.byteLength(text), content: text };
    }
    const script = scripts.get(name) ?? newScript(name);
    if (manifest) script.assets = { ...manifest };
    const keep = Array.isArray(uploaded.keep_bindings) ? uploaded.keep_bindings : [];
    // keep_bindings: secret_text inherits the latest version's secrets (wrangler deploy sends it
    // with --secrets-file: "secrets from previous deployments will not be deleted").
    const latest = script.versions.at(-1);
    const inherited = latest ? (versionSecrets.get(latest.id) ?? {}) : {};
    script.etag = etagOf(JSON.stringify(Object.values(modules).map((m) => m.content)));
    const version: StubVersion = {
      id: randomUUID(),
      number: script.versions.length + 1,
      created_on: nowIso(),
      metadata,
      modules,
      annotations: { "workers/triggered_by": "upload" },
    };
    const annotations = metadata.annotations as Record<string, unknown> | undefined;
    for (const key of ["workers/tag", "workers/message"]) {
      const value = annotations?.[key];
      if (typeof value === "string" && value) version.annotations[key] = value;
    }
    if (version.annotations["workers/message"]) {
      version.message = version.annotations["workers/message"];
    }
    script.versions.push(version);
    versionSecrets.set(
      version.id,
      keep.includes("secret_text") ? { ...inherited, ...secrets } : secrets,
    );
    return { script, version };
  }

  async function route(
    method: string,
    path: string,
    body: ParsedBody,
    auth: string,
    query: URLSearchParams,
  ): Promise<Reply> {
    const account = `/accounts/${accountId}`;
    if (path === `${account}/workers/assets/upload` && method === "POST") {
      const token = auth.replace(/^Bearer /, "");
      const session = uploadSessions.get(token);
      if (!session) return fail(401, 10000, "Authentication error: not an upload session token");
      const base64 = query.get("base64") === "true";
      for (const [hash, value] of body.form?.entries() ?? []) {
        const text = typeof value === "string" ? value : await value.text();
        assetContents.set(hash, base64 ? Buffer.from(text, "base64") : Buffer.from(text));
        assetHashes.add(hash);
        session.delete(hash);
      }
      if (session.size > 0) return ok({}, 202);
      const jwt = `completion-${randomUUID()}`;
      completionTokens.add(jwt);
      const manifest = sessionManifests.get(token);
      if (manifest) sessionManifests.set(jwt, manifest);
      return ok({ jwt }, 201);
    }
    if (auth !== `Bearer ${apiToken}`) return fail(403, 10000, "Authentication error");
    if (!path.startsWith(`${account}/`)) return fail(404, 7003, "Could not route to " + path);

    if (path === `${account}/workers/subdomain`) return ok({ subdomain });
    // `wrangler delete` looks for a Workers Sites namespace to delete with the Worker; there are none.
    if (path === `${account}/storage/kv/namespaces` && method === "GET") return ok([]);

    if (path === `${account}/workers/scripts` && method === "GET") {
      return ok(
        [...scripts.values()].map((script) => ({
          id: script.name,
          etag: script.etag,
          created_on: script.createdOn,
          modified_on: script.versions.at(-1)?.created_on ?? script.createdOn,
        })),
      );
    }

    const service = new RegExp(`^${account}/workers/services/([^/]+)$`).exec(path);
    if (service) {
      const name = decodeURIComponent(service[1] as string);
      const script = scripts.get(name);
      if (!script) return fail(404, SERVICE_NOT_FOUND, "workers.api.error.service_not_found");
      if (method === "GET") {
        return ok({
          id: name,
          created_on: script.createdOn,
          modified_on: script.versions.at(-1)?.created_on ?? script.createdOn,
          default_environment: {
            environment: "production",
            created_on: script.createdOn,
            modified_on: script.createdOn,
            script: {
              id: name,
              tag: etagOf(name).slice(0, 32),
              tags: [],
              etag: script.etag,
              handlers: ["fetch"],
              last_deployed_from: "wrangler",
              created_on: script.createdOn,
              modified_on: script.createdOn,
            },
          },
        });
      }
      if (method === "DELETE") {
        scripts.delete(name);
        return ok(null);
      }
    }

    const scriptPath = new RegExp(`^${account}/workers/scripts/([^/]+)(/.*)?$`).exec(path);
    if (!scriptPath) return fail(404, 7003, `No route for ${method} ${path}`);
    const name = decodeURIComponent(scriptPath[1] as string);
    const rest = scriptPath[2] ?? "";
    const script = scripts.get(name);

    if (rest === "" && method === "PUT") {
      if (!body.form) return fail(400, 10021, "expected a multipart upload");
      const result = await upload(name, body.form);
      if ("status" in result) return result;
      // Cloudflare's own deployment of an upload: "Automatic deployment on upload."
      deploy(result.script, result.version.id, "upload", "Automatic deployment on upload.");
      return ok({
        id: name,
        etag: result.script.etag,
        deployment_id: result.version.id,
        startup_time_ms: 1,
        handlers: ["fetch"],
      });
    }
    if (rest === "/assets-upload-session" && method === "POST") {
      const manifest = ((body.json as { manifest?: Record<string, { hash: string }> }) ?? {})
        .manifest;
      if (!manifest) return fail(400, 10021, "manifest is missing");
      const paths = Object.fromEntries(
        Object.entries(manifest).map(([path, entry]) => [path, entry.hash]),
      );
      const missing = [...new Set(Object.values(manifest).map((entry) => entry.hash))].filter(
        (hash) => !assetHashes.has(hash),
      );
      if (missing.length === 0) {
        const jwt = `completion-${randomUUID()}`;
        completionTokens.add(jwt);
        sessionManifests.set(jwt, paths);
        return ok({ jwt, buckets: [] });
      }
      const jwt = `upload-${randomUUID()}`;
      uploadSessions.set(jwt, new Set(missing));
      sessionManifests.set(jwt, paths);
      const buckets: string[][] = [];
      for (let i = 0; i < missing.length; i += 10) buckets.push(missing.slice(i, i + 10));
      return ok({ jwt, buckets });
    }
    if (!script) return fail(404, SCRIPT_NOT_FOUND, "workers.api.error.script_not_found");

    if (rest === "/versions" && method === "POST") {
      if (!body.form) return fail(400, 10021, "expected a multipart upload");
      const result = await upload(name, body.form);
      if ("status" in result) return result;
      return ok(versionView(result.script, result.version));
    }
    if (rest === "/versions" && method === "GET") {
      const items = [...script.versions].reverse().map((v) => versionView(script, v));
      return ok({ items });
    }
    const versionPath = /^\/versions\/([^/]+)$/.exec(rest);
    if (versionPath && method === "GET") {
      const version = script.versions.find((v) => v.id === versionPath[1]);
      if (!version) return fail(404, 10021, "workers.api.error.version_not_found");
      return ok(versionView(script, version));
    }
    if (rest === "/deployments" && method === "GET") {
      return ok({ deployments: script.deployments });
    }
    if (rest === "/deployments" && method === "POST") {
      const request = body.json as {
        versions?: { version_id: string; percentage: number }[];
        annotations?: Record<string, string>;
      };
      const versions = request?.versions ?? [];
      const unknown = versions.find((v) => !script.versions.some((s) => s.id === v.version_id));
      if (versions.length === 0 || unknown) {
        return fail(400, 10021, `unknown version ${unknown?.version_id ?? "(none)"}`);
      }
      const main = [...versions].sort((a, b) => b.percentage - a.percentage)[0] as {
        version_id: string;
      };
      const wanted = versionSecrets.get(main.version_id) ?? {};
      const changed = [...new Set([...Object.keys(wanted), ...Object.keys(script.secrets)])]
        .filter((name) => wanted[name] !== script.secrets[name])
        .sort();
      // Only going back is refused: deploying the newest version (wrangler deploy) never is.
      const target = script.versions.find((v) => v.id === main.version_id);
      const older = (target?.number ?? 0) < (liveVersion(script)?.number ?? 0);
      if (older && changed.length > 0 && query.get("force") !== "true") {
        return fail(
          400,
          SECRETS_CHANGED,
          "A secret has changed since this version was active. If you are sure this is ok, " +
            "add a ?force=true query parameter to allow the rollback. " +
            `The following secrets have changed: ${changed.join(", ")}`,
        );
      }
      const message = request.annotations?.["workers/message"];
      const deployment = deploy(
        script,
        main.version_id,
        "deployment",
        typeof message === "string" ? message : undefined,
      );
      deployment.versions = versions;
      return ok(deployment);
    }
    if (rest === "/script-settings") {
      if (method === "PATCH" && body.json && typeof body.json === "object") {
        script.settings = { ...script.settings, ...(body.json as Record<string, unknown>) };
      }
      return ok(script.settings);
    }
    if (rest === "/settings") {
      // `wrangler secret bulk` reads the bindings, then PATCHes them back with the new secrets.
      if (method === "PATCH" && body.form) {
        const settings = (await formFields(body.form)).get("settings");
        if (settings) {
          const parsed = JSON.parse(settings.text) as Record<string, unknown>;
          const { secrets } = redactMetadata(parsed);
          if (Object.keys(secrets).length > 0) {
            changeSecrets(script, (current) => Object.assign(current, secrets));
          }
        }
      }
      return ok({ bindings: (script.metadata.bindings as unknown[] | undefined) ?? [] });
    }
    if (rest === "/subdomain") {
      if (method === "POST" && body.json && typeof body.json === "object") {
        const wanted = body.json as { enabled?: boolean; previews_enabled?: boolean };
        // Without previews_enabled, version preview URLs follow workers.dev: what wrangler 4.86's
        // own API mock assumes (getSubdomainValuesAPIMock in src/triggers/deploy.ts).
        const enabled = wanted.enabled ?? script.subdomain.enabled;
        script.subdomain = {
          enabled,
          previews_enabled:
            wanted.previews_enabled ?? wanted.enabled ?? script.subdomain.previews_enabled,
        };
      }
      return ok(script.subdomain);
    }
    if (rest === "/secrets") {
      if (method === "PUT" && body.json && typeof body.json === "object") {
        const secret = body.json as { name?: string; text?: string };
        if (!secret.name) return fail(400, 10021, "name is missing");
        const { name: secretName, text = "" } = secret;
        changeSecrets(script, (current) => ({ ...current, [secretName]: text }));
        return ok({ name: secret.name, type: "secret_text" });
      }
      return ok(Object.keys(script.secrets).map((n) => ({ name: n, type: "secret_text" })));
    }
    const secretPath = /^\/secrets\/([^/]+)$/.exec(rest);
    if (secretPath && method === "DELETE") {
      // "Delete secret from Worker": a new version without it, deployed.
      const gone = decodeURIComponent(secretPath[1] as string);
      // (The stub's code for a secret the Worker does not have; the pipeline deletes only listed ones.)
      if (!(gone in script.secrets)) return fail(404, 10056, "workers.api.error.binding_not_found");
      changeSecrets(script, (current) =>
        Object.fromEntries(Object.entries(current).filter(([name]) => name !== gone)),
      );
      return ok(null);
    }
    return fail(404, 7003, `No route for ${method} ${path}`);
  }

  /**
   * A deployed Worker's /health on workers.dev, answered from what was uploaded: its
   * ENVIRONMENT variable, and for each service binding whether that Worker exists. So a smoke
   * check through the stub passes only when the uploaded stack is complete and wired.
   */
  function workersDev(host: string, path: string): { status: number; body: unknown } {
    const name = host.slice(0, -`.${subdomain}.workers.dev`.length);
    const script = scripts.get(name);
    if (script && brokenHealth.has(name) && path === "/health") {
      return { status: 500, body: { error: "Worker threw an exception" } };
    }
    if (!script || !script.subdomain.enabled) {
      return { status: 404, body: { error: `There is nothing here yet: ${name}` } };
    }
    if (path !== "/health") return { status: 404, body: { error: "not found" } };
    const bindings = (script.metadata.bindings ?? []) as {
      type: string;
      name: string;
      text?: string;
      service?: string;
    }[];
    const environment = bindings.find((b) => b.name === "ENVIRONMENT")?.text;
    const siblings = Object.fromEntries(
      bindings
        .filter((b) => b.type === "service")
        .map((b) => [b.name, b.service && scripts.has(b.service) ? "ok" : "missing"]),
    );
    const ok = Object.values(siblings).every((v) => v === "ok");
    return {
      status: ok ? 200 : 503,
      body: { status: ok ? "ok" : "degraded", environment, worker: name, siblings },
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = (req.headers.host ?? "").replace(/:\d+$/, "");
    if (host.endsWith(`.${subdomain}.workers.dev`)) {
      const answer = workersDev(host, new URL(req.url ?? "/", "http://stub").pathname);
      res.writeHead(answer.status, { "content-type": "application/json" });
      res.end(JSON.stringify(answer.body));
      return;
    }
    const url = new URL(req.url ?? "/", "http://stub");
    const method = (req.method ?? "GET").toUpperCase();
    const prefix = "/client/v4";
    const path = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : url.pathname;
    const raw = await readBody(req);
    const body = await parseBody(req, raw);
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      headers[key] = key === "authorization" ? "Bearer [redacted]" : String(value);
    }
    const record: RecordedRequest = {
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      headers,
      body: await summarize(path, body),
      status: 0,
    };
    requests.push(record);
    const verdict = url.pathname.startsWith(prefix)
      ? contract.check(
          {
            method,
            path,
            query: Object.fromEntries(url.searchParams),
            contentType: req.headers["content-type"],
            body: raw,
            ...(body.form ? { parts: await multipartParts(body.form) } : {}),
          },
          res,
        )
      : { errors: [] };

    let reply: Reply;
    const failure = failures.find((f) => f.left > 0 && matches(f.matcher, method, path));
    if (failure?.status === "hang") {
      failure.left -= 1;
      record.status = -1;
      return; // never answered: the client's timeout is what is being tested
    }
    if (failure) {
      failure.left -= 1;
      reply = fail(failure.status, 10013, `stub: injected failure (${failure.status})`);
    } else if (!url.pathname.startsWith(prefix)) {
      reply = fail(404, 7003, `No route for ${url.pathname}`);
    } else if (verdict.errors.length > 0) {
      // Cloudflare refuses a malformed request with 400 and its failure envelope, with the codes
      // the 2024 document lists (x-cfLinkErrors): 10001 an unexpected content type, 10004 a
      // malformed URL parameter, 10021 content that failed validation checks.
      const first = verdict.errors[0] ?? "";
      const code = first.startsWith("content type")
        ? 10001
        : /^(path|query) parameter/.test(first)
          ? 10004
          : 10021;
      reply = fail(400, code, `request validation failed: ${verdict.errors.join("; ")}`);
    } else {
      try {
        reply = await route(method, path, body, req.headers.authorization ?? "", url.searchParams);
      } catch (error) {
        reply = fail(500, 10013, `stub error: ${(error as Error).message}`);
      }
    }
    record.status = reply.status;
    const payload = JSON.stringify({
      success: !reply.errors,
      errors: reply.errors ?? [],
      messages: [],
      result: reply.errors ? null : (reply.result ?? null),
    });
    res.writeHead(reply.status, { "content-type": "application/json" });
    res.end(payload);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ success: false, errors: [{ code: 10013, message: String(error) }] }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/client/v4`,
    accountId,
    apiToken,
    subdomain,
    requests,
    violations: contract.violations,
    scripts,
    failNext(matcher, status, times = 1) {
      failures.push({ matcher, status, left: times });
    },
    breakHealth(names) {
      brokenHealth.clear();
      for (const name of names) brokenHealth.add(name);
    },
    seed(name) {
      const script = newScript(name);
      const version: StubVersion = {
        id: randomUUID(),
        number: 1,
        created_on: nowIso(),
        metadata: { main_module: "index.js", bindings: [] },
        modules: {},
        annotations: { "workers/triggered_by": "upload" },
      };
      script.versions.push(version);
      versionSecrets.set(version.id, {});
      deploy(script, version.id, "upload", "Automatic deployment on upload.");
      return script;
    },
    assetsOf(name) {
      const assets = scripts.get(name)?.assets;
      if (!assets) return undefined;
      return new Map(
        Object.entries(assets).map(([path, hash]) => [
          path,
          assetContents.get(hash) ?? Buffer.alloc(0),
        ]),
      );
    },
    secretsOf(name, versionId) {
      if (!scripts.get(name)?.versions.some((v) => v.id === versionId)) return undefined;
      return { ...(versionSecrets.get(versionId) ?? {}) };
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
