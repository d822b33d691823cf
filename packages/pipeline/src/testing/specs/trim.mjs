#!/usr/bin/env node
// Trims a vendor's OpenAPI 3 document down to the operations a project uses, keeping every
// component those operations reference (transitively), so the result stands on its own.
//
//   node trim.mjs <vendor> <source.json|source.yaml> [output.json]
//
// <vendor> is one of the keys of KEEP below; the output defaults to <vendor>.json beside this
// script. A YAML source needs the `yaml` package (npm) to be resolvable from where you run it;
// a JSON source needs nothing but node. The output is written as JSON with 2-space indent.
//
// What is kept: `openapi`, `info`, `servers`, `security`, `externalDocs`; for each kept path its
// path-level fields (parameters, summary, description, servers) and the listed methods only;
// every `#/...` $ref target reachable from those (components are copied whole, $refs left in
// place); the security schemes named by top-level or kept operations' `security`; the tags
// the kept operations use. Nothing inside a kept object is altered. Vendor extensions at the
// top level (x-*) and unused components, paths, methods, tags and webhooks are dropped.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** What each vendor's stub serves: path template as the vendor's spec writes it -> methods. */
export const KEEP = {
  cloudflare: {
    "/accounts/{account_id}/storage/kv/namespaces": ["get"],
    "/accounts/{account_id}/workers/assets/upload": ["post"],
    "/accounts/{account_id}/workers/scripts": ["get"],
    "/accounts/{account_id}/workers/scripts/{script_name}": ["put"],
    "/accounts/{account_id}/workers/scripts/{script_name}/assets-upload-session": ["post"],
    "/accounts/{account_id}/workers/scripts/{script_name}/deployments": ["get", "post"],
    "/accounts/{account_id}/workers/scripts/{script_name}/script-settings": ["get", "patch"],
    "/accounts/{account_id}/workers/scripts/{script_name}/secrets": ["get", "put"],
    "/accounts/{account_id}/workers/scripts/{script_name}/secrets/{secret_name}": ["delete"],
    "/accounts/{account_id}/workers/scripts/{script_name}/settings": ["get", "patch"],
    "/accounts/{account_id}/workers/scripts/{script_name}/subdomain": ["get", "post"],
    "/accounts/{account_id}/workers/scripts/{script_name}/versions": ["get", "post"],
    "/accounts/{account_id}/workers/scripts/{script_name}/versions/{version_id}": ["get"],
    "/accounts/{account_id}/workers/services/{service_name}": ["get", "delete"],
    "/accounts/{account_id}/workers/subdomain": ["get"],
  },
  neon: {
    "/projects/{project_id}": ["get"],
    "/projects/{project_id}/branches": ["get", "post"],
    "/projects/{project_id}/branches/{branch_id}": ["get", "patch", "delete"],
    "/projects/{project_id}/branches/{branch_id}/endpoints": ["get"],
    "/projects/{project_id}/branches/{branch_id}/restore": ["post"],
    "/projects/{project_id}/connection_uri": ["get"],
    "/projects/{project_id}/endpoints": ["get"],
    "/projects/{project_id}/operations/{operation_id}": ["get"],
  },
  github: {
    "/repos/{owner}/{repo}/issues/{issue_number}/comments": ["get", "post"],
    "/repos/{owner}/{repo}/issues/comments/{comment_id}": ["patch"],
    "/repos/{owner}/{repo}/pulls/{pull_number}": ["get"],
    "/repos/{owner}/{repo}/deployments": ["get", "post"],
    "/repos/{owner}/{repo}/deployments/{deployment_id}": ["delete"],
    "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses": ["get", "post"],
    "/repos/{owner}/{repo}/statuses/{sha}": ["post"],
    "/repos/{owner}/{repo}/commits/{ref}/status": ["get"],
    "/repos/{owner}/{repo}/collaborators/{username}/permission": ["get"],
  },
  stripe: {
    "/v1/webhook_endpoints": ["get", "post"],
    "/v1/webhook_endpoints/{webhook_endpoint}": ["get", "post", "delete"],
  },
};

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const PATH_FIELDS = ["summary", "description", "servers", "parameters"];

async function load(file) {
  const text = readFileSync(file, "utf8");
  if (/\.ya?ml$/i.test(file)) {
    const { parse } = await import("yaml");
    return parse(text, { maxAliasCount: -1 });
  }
  return JSON.parse(text);
}

const unescape = (token) => token.replace(/~1/g, "/").replace(/~0/g, "~");

/** Deep-copies `value` into `out` at `tokens`, creating objects on the way. */
function place(out, tokens, value) {
  let node = out;
  for (const token of tokens.slice(0, -1)) node = node[token] ??= {};
  node[tokens.at(-1)] = value;
}

export function trim(spec, keep) {
  if (typeof spec.openapi !== "string" || !spec.openapi.startsWith("3.")) {
    throw new Error(`not an OpenAPI 3 document (openapi: ${spec.openapi})`);
  }
  const out = {};
  for (const field of ["openapi", "info", "servers", "security", "externalDocs"]) {
    if (spec[field] !== undefined) out[field] = spec[field];
  }
  out.paths = {};
  const missing = [];
  const operations = [];
  for (const [path, methods] of Object.entries(keep)) {
    const item = spec.paths?.[path];
    if (!item) {
      missing.push(path);
      continue;
    }
    if (item.$ref) throw new Error(`path item ${path} is a $ref; not handled`);
    const kept = {};
    for (const field of PATH_FIELDS) if (item[field] !== undefined) kept[field] = item[field];
    for (const method of methods) {
      if (!item[method]) {
        missing.push(`${method.toUpperCase()} ${path}`);
        continue;
      }
      kept[method] = item[method];
      operations.push(item[method]);
    }
    // Keep the vendor's own method order.
    const ordered = {};
    for (const key of Object.keys(item)) if (key in kept) ordered[key] = kept[key];
    out.paths[path] = ordered;
  }

  // Transitive closure over internal $refs. Components are copied whole.
  const seen = new Set();
  const queue = [out.paths];
  const refs = [];
  const walk = (node) => {
    if (Array.isArray(node)) {
      for (const child of node) walk(child);
    } else if (node && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if (key === "$ref" && typeof value === "string") refs.push(value);
        else walk(value);
      }
    }
  };
  while (queue.length > 0) {
    walk(queue.pop());
    while (refs.length > 0) {
      const ref = refs.pop();
      if (!ref.startsWith("#/")) throw new Error(`external $ref not handled: ${ref}`);
      const tokens = ref.slice(2).split("/").map(unescape);
      if (tokens[0] !== "components" || tokens.length < 3) {
        throw new Error(`$ref outside #/components/<type>/<name>: ${ref}`);
      }
      const head = tokens.slice(0, 3);
      const key = head.join("/");
      if (seen.has(key)) continue;
      seen.add(key);
      const target = spec.components?.[head[1]]?.[head[2]];
      if (target === undefined) throw new Error(`dangling $ref: ${ref}`);
      place(out, head, target);
      queue.push(target);
    }
  }

  // Security schemes are named, not referenced.
  const schemes = new Set();
  for (const requirement of [
    ...(spec.security ?? []),
    ...operations.flatMap((o) => o.security ?? []),
  ]) {
    for (const name of Object.keys(requirement)) schemes.add(name);
  }
  for (const name of schemes) {
    const scheme = spec.components?.securitySchemes?.[name];
    if (scheme === undefined) throw new Error(`unknown security scheme: ${name}`);
    place(out, ["components", "securitySchemes", name], scheme);
  }

  const usedTags = new Set(operations.flatMap((o) => o.tags ?? []));
  const tags = (spec.tags ?? []).filter((tag) => usedTags.has(tag.name));
  if (tags.length > 0) out.tags = tags;

  // Components in the source's order, each section's entries in the source's order.
  if (out.components) {
    const ordered = {};
    for (const section of Object.keys(spec.components)) {
      if (!out.components[section]) continue;
      ordered[section] = {};
      for (const name of Object.keys(spec.components[section])) {
        if (name in out.components[section]) ordered[section][name] = out.components[section][name];
      }
    }
    out.components = ordered;
  }
  const order = [
    "openapi",
    "info",
    "servers",
    "security",
    "tags",
    "externalDocs",
    "paths",
    "components",
  ];
  const result = {};
  for (const key of order) if (out[key] !== undefined) result[key] = out[key];
  return { result, missing, components: seen.size + schemes.size };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [vendor, source, target] = process.argv.slice(2);
  if (!vendor || !source || !KEEP[vendor]) {
    console.error(`usage: node trim.mjs <${Object.keys(KEEP).join("|")}> <source> [output.json]`);
    process.exit(2);
  }
  const spec = await load(source);
  const { result, missing, components } = trim(spec, KEEP[vendor]);
  const output = target ?? join(dirname(fileURLToPath(import.meta.url)), `${vendor}.json`);
  const text = JSON.stringify(result, null, 2) + "\n";
  writeFileSync(output, text);
  const operations = Object.values(result.paths).reduce(
    (n, item) => n + METHODS.filter((m) => item[m]).length,
    0,
  );
  console.log(
    `${vendor}: ${Object.keys(result.paths).length} paths, ${operations} operations, ` +
      `${components} components, ${Buffer.byteLength(text)} bytes -> ${output}`,
  );
  if (missing.length > 0) {
    console.error(`${vendor}: not in the source: ${missing.join("; ")}`);
    process.exitCode = 1;
  }
}
