/**
 * Cloudflare's REST API, for what wrangler does not print as data: the one place that speaks
 * HTTP to it (the same token and base URL as wrangler).
 */
import { PipelineError } from "../../../errors";

const CLOUDFLARE_API = "https://api.cloudflare.com/client/v4";
// Cloudflare's "script not found": the Worker does not exist (yet, or any more).
const SCRIPT_NOT_FOUND = 10007;

export interface ApiOptions {
  apiToken: string;
  accountId: string;
  /** CLOUDFLARE_API_BASE_URL, including /client/v4; Cloudflare's own API when unset. */
  apiBaseUrl?: string;
}

/**
 * One call below /accounts/<id>; `what` says what it was for, in errors ("list the account's
 * Workers"). A Worker that does not exist is `undefined` where `missingIsUndefined` says so.
 */
async function call<T>(
  options: ApiOptions,
  method: string,
  path: string,
  what: string,
  missingIsUndefined = false,
): Promise<T | undefined> {
  const base = (options.apiBaseUrl ?? CLOUDFLARE_API).replace(/\/+$/, "");
  const url = `${base}/accounts/${encodeURIComponent(options.accountId)}${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${options.apiToken}`, accept: "application/json" },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new PipelineError("CLOUD_FAILED", `could not ${what}: ${(error as Error).message}`, {
      hint: "Check the network, or CLOUDFLARE_API_BASE_URL if it is set.",
      cause: error,
    });
  }
  const body = (await response.json().catch(() => ({}))) as {
    success?: boolean;
    errors?: { code?: number; message?: string }[];
    result?: unknown;
  };
  if (missingIsUndefined && body.errors?.some((e) => e.code === SCRIPT_NOT_FOUND)) {
    return undefined;
  }
  if (!response.ok || body.success === false) {
    const why = body.errors?.[0]?.message ?? `HTTP ${response.status}`;
    const denied = response.status === 401 || response.status === 403;
    throw new PipelineError("CLOUD_FAILED", `Cloudflare refused to ${what}: ${why}`, {
      kind: denied ? "user" : "system",
      hint: denied
        ? "CLOUDFLARE_API_TOKEN needs the Account › Workers Scripts › Edit permission on CLOUDFLARE_ACCOUNT_ID."
        : "Run the command again; Cloudflare's API may be having trouble.",
    });
  }
  return body.result as T;
}

const script = (name: string) => `/workers/scripts/${encodeURIComponent(name)}`;

/** The account's Workers, from the Cloudflare API. */
export async function listScripts(
  options: ApiOptions,
): Promise<{ name: string; modifiedOn: string }[]> {
  const what = "list the account's Workers";
  const result = await call<{ id?: string; modified_on?: string }[]>(
    options,
    "GET",
    "/workers/scripts",
    what,
  );
  if (!Array.isArray(result)) throw new PipelineError("CLOUD_FAILED", `Cloudflare did not ${what}`);
  return result
    .filter((r): r is { id: string; modified_on?: string } => typeof r.id === "string")
    .map((r) => ({ name: r.id, modifiedOn: r.modified_on ?? "" }));
}

/** One Worker version as the versions list gives it. */
export interface ApiVersion {
  id: string;
  number: number;
  /** workers/tag and workers/message (as uploaded), workers/triggered_by (upload, secret...). */
  annotations: Record<string, string>;
}

/**
 * A Worker's versions that can still be deployed (rolled back to), oldest first; undefined when
 * the Worker does not exist. "List Versions" with `deployable=true` ignores pagination
 * (https://developers.cloudflare.com/api/resources/workers/subresources/scripts/subresources/versions/methods/list/).
 */
export async function listVersions(
  options: ApiOptions,
  name: string,
): Promise<ApiVersion[] | undefined> {
  const result = await call<{ items?: Partial<ApiVersion>[] }>(
    options,
    "GET",
    `${script(name)}/versions?deployable=true`,
    `list the versions of ${name}`,
    true,
  );
  if (!result) return undefined;
  return (result.items ?? [])
    .filter((v): v is ApiVersion => typeof v.id === "string" && typeof v.number === "number")
    .map((v) => ({ id: v.id, number: v.number, annotations: v.annotations ?? {} }))
    .sort((a, b) => a.number - b.number);
}

/**
 * The names of the secrets a Worker holds now ("List secrets bound to a script"), or undefined
 * when the Worker does not exist.
 */
export async function listSecretNames(
  options: ApiOptions,
  name: string,
): Promise<string[] | undefined> {
  const result = await call<{ name?: string }[]>(
    options,
    "GET",
    `${script(name)}/secrets`,
    `list the secrets of ${name}`,
    true,
  );
  return result?.map((s) => s.name).filter((n): n is string => typeof n === "string");
}

/**
 * Deletes one secret from a Worker ("Delete secret from Worker"): Cloudflare makes a new version
 * without it and deploys it. Only the name travels.
 */
export async function deleteSecret(options: ApiOptions, name: string, secret: string) {
  await call(
    options,
    "DELETE",
    `${script(name)}/secrets/${encodeURIComponent(secret)}`,
    `delete the secret ${secret} of ${name}`,
  );
}
