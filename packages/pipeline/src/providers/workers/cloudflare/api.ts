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
  const base = (options.apiBaseUrl ?? CLOUDFLARE_API).replace(/\/+$/, "");
  const url = `${base}/accounts/${encodeURIComponent(options.accountId)}/workers/scripts`;
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { authorization: `Bearer ${options.apiToken}`, accept: "application/json" },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new PipelineError(
      "CLOUD_FAILED",
      `could not list the account's Workers: ${(error as Error).message}`,
      { hint: "Check the network, or CLOUDFLARE_API_BASE_URL if it is set.", cause: error },
    );
  }
  const body = (await response.json().catch(() => ({}))) as {
    success?: boolean;
    errors?: { code?: number; message?: string }[];
    result?: { id?: string; modified_on?: string }[];
  };
  if (!response.ok || body.success === false || !Array.isArray(body.result)) {
    const why = body.errors?.[0]?.message ?? `HTTP ${response.status}`;
    const denied = response.status === 401 || response.status === 403;
    throw new PipelineError(
      "CLOUD_FAILED",
      `Cloudflare refused to list the account's Workers: ${why}`,
      {
        kind: denied ? "user" : "system",
        hint: denied
          ? "CLOUDFLARE_API_TOKEN needs the Account › Workers Scripts › Edit permission on CLOUDFLARE_ACCOUNT_ID."
          : "Run the command again; Cloudflare's API may be having trouble.",
      },
    );
  }
  return body.result
    .filter((r): r is { id: string; modified_on?: string } => typeof r.id === "string")
    .map((r) => ({ name: r.id, modifiedOn: r.modified_on ?? "" }));
}
