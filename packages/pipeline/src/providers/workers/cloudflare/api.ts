/**
 * Cloudflare's REST API, for what wrangler does not print as data: the one place that speaks
 * HTTP to it (the same token and base URL as wrangler).
 */
import { PipelineError } from "../../../errors";

const CLOUDFLARE_API = "https://api.cloudflare.com/client/v4";

export interface ApiOptions {
  apiToken: string;
  accountId: string;
  /** CLOUDFLARE_API_BASE_URL, including /client/v4; Cloudflare's own API when unset. */
  apiBaseUrl?: string;
}

/** The account's Workers, from the Cloudflare API. */
export async function listScripts(
  options: ApiOptions,
): Promise<{ name: string; modifiedOn: string }[]> {
  const result = await get(options, "/workers/scripts", "list the account's Workers");
  if (!Array.isArray(result.body)) throw result.error();
  return (result.body as { id?: string; modified_on?: string }[])
    .filter((r): r is { id: string; modified_on?: string } => typeof r.id === "string")
    .map((r) => ({ name: r.id, modifiedOn: r.modified_on ?? "" }));
}

/**
 * The names of the secrets a Worker holds (never their values: Cloudflare does not return
 * them), or undefined when there is no such Worker. "List script secrets":
 * https://developers.cloudflare.com/api/resources/workers/subresources/scripts/subresources/secrets/methods/list/
 */
export async function listSecretNames(
  options: ApiOptions,
  script: string,
): Promise<string[] | undefined> {
  const path = `/workers/scripts/${encodeURIComponent(script)}/secrets`;
  const result = await get(options, path, `list the secrets of ${script}`, true);
  if (result.status === 404) return undefined;
  if (!Array.isArray(result.body)) throw result.error();
  return (result.body as { name?: unknown }[])
    .map((s) => s.name)
    .filter((name): name is string => typeof name === "string");
}

/** A GET below the account; `result` is the envelope's result, `error()` the failure to throw. */
async function get(
  options: ApiOptions,
  path: string,
  what: string,
  allowNotFound = false,
): Promise<{ status: number; body: unknown; error: () => PipelineError }> {
  const base = (options.apiBaseUrl ?? CLOUDFLARE_API).replace(/\/+$/, "");
  const url = `${base}/accounts/${encodeURIComponent(options.accountId)}${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
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
  const why = body.errors?.[0]?.message ?? `HTTP ${response.status}`;
  const denied = response.status === 401 || response.status === 403;
  const error = () =>
    new PipelineError("CLOUD_FAILED", `Cloudflare refused to ${what}: ${why}`, {
      kind: denied ? "user" : "system",
      hint: denied
        ? "CLOUDFLARE_API_TOKEN needs the Account › Workers Scripts › Edit permission on CLOUDFLARE_ACCOUNT_ID."
        : "Run the command again; Cloudflare's API may be having trouble.",
    });
  if (allowNotFound && response.status === 404) return { status: 404, body: undefined, error };
  if (!response.ok || body.success === false) throw error();
  return { status: response.status, body: body.result, error };
}
