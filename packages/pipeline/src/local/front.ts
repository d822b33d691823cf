/**
 * The front server: the one port (CODEX_PORT) every environment is reached on. It reads the
 * hostname in the Host header and forwards the request, Host header and all, to the loopback
 * port of that environment's own Miniflare; Miniflare then routes among the environment's
 * Workers by the same header. The dashboard's host (codex.localhost, local/dashboard.ts) gets
 * the dashboard; any other hostname no live environment claims gets a 404 page listing the live
 * ones and pointing to the dashboard.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createProxyServer } from "http-proxy-3";
import { PipelineError } from "../errors";
import { DASHBOARD_HOSTNAME, dashboardUrl, serveDashboard } from "./dashboard";
import type { LiveEnvironment } from "./miniflare-options";

export interface FrontRoutes {
  /**
   * The environment serving `hostname` and its runtime's loopback port, if one is live, and what
   * to call once the request forwarded there is finished.
   */
  target(hostname: string): { environment: string; port: number; release?: () => void } | undefined;
  /** The environment's runtime could not be reached (it may have died). */
  unavailable?(environment: string): void;
  /** The environments the 404 page and the dashboard list. */
  live(): LiveEnvironment[];
  /** An environment's state folder, whose summaries the dashboard serves; no dashboard without. */
  envDir?: (name: string) => string;
}

/** The hostname a Host header names, lower-cased and without its port ("" when unreadable). */
export function hostnameOf(host: string | undefined): string {
  try {
    return host ? new URL(`http://${host}`).hostname : "";
  } catch {
    return "";
  }
}

const escape = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

/** What a hostname no live environment claims gets: HTML, or JSON when the client asks for it. */
export function unknownHostPage(
  host: string,
  accept: string,
  live: LiveEnvironment[],
  dashboard?: string,
): { contentType: string; body: string } {
  if (accept.includes("application/json")) {
    return {
      contentType: "application/json",
      body: JSON.stringify({
        error: "unknown_host",
        host,
        environments: live,
        ...(dashboard ? { dashboard } : {}),
      }),
    };
  }
  const rows = live
    .map(
      (e) =>
        `<li><a href="${escape(e.urls.web)}">${escape(e.name)}</a> <small>${escape(e.version)}</small></li>`,
    )
    .join("");
  const body =
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>No environment here</title></head><body>' +
    `<h1>No environment at ${escape(host)}</h1>` +
    (live.length
      ? `<p>Live environments:</p><ul>${rows}</ul>`
      : "<p>No environment is live. Run <code>pnpm preview-deploy --pr 1</code>.</p>") +
    (dashboard
      ? `<p>Every environment, its last summary and its screenshots: <a href="${escape(dashboard)}">${escape(dashboard)}</a></p>`
      : "") +
    "</body></html>";
  return { contentType: "text/html; charset=utf-8", body };
}

function reply(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
  });
  response.end(body);
}

/** Listens on `host:port` and forwards by Host header; rejects with the cause if it cannot listen. */
export async function startFrontServer(options: {
  host: string;
  port: number;
  routes: FrontRoutes;
}): Promise<Server> {
  const { routes } = options;
  // No connection pool to the runtimes: a runtime that restarts would leave pooled sockets to
  // its old process, and a request sent on one fails. A loopback connect costs microseconds.
  const proxy = createProxyServer({ xfwd: false, changeOrigin: false });
  // Connection headers describe one hop (RFC 9110, 7.6.1): the runtime's answer to the proxy's
  // one-request connection must not close the browser's keep-alive connection.
  proxy.on("proxyRes", (proxyRes) => {
    delete proxyRes.headers.connection;
    delete proxyRes.headers["keep-alive"];
  });

  const forward = (request: IncomingMessage) => {
    const target = routes.target(hostnameOf(request.headers.host));
    if (!target) return undefined;
    // Miniflare fills CF-Connecting-IP from the connection's peer, which is now this server;
    // set it to the real client (as Miniflare would have) so that rate limits stay per client.
    const headers: Record<string, string> = {};
    if (!request.headers["cf-connecting-ip"] && request.socket.remoteAddress) {
      headers["cf-connecting-ip"] = request.socket.remoteAddress;
    }
    return { ...target, options: { target: `http://127.0.0.1:${target.port}`, headers } };
  };

  const server = createServer((request, response) => {
    const { envDir } = routes;
    if (envDir && hostnameOf(request.headers.host) === DASHBOARD_HOSTNAME) {
      serveDashboard(request, response, { live: routes.live(), envDir }).catch((error: unknown) =>
        reply(response, 500, "application/json", JSON.stringify({ error: String(error) })),
      );
      return;
    }
    const route = forward(request);
    if (!route) {
      const host = request.headers.host ?? "";
      const page = unknownHostPage(
        hostnameOf(host) ? new URL(`http://${host}`).host : host,
        request.headers.accept ?? "",
        routes.live(),
        envDir
          ? dashboardUrl((server.address() as AddressInfo | null)?.port ?? options.port)
          : undefined,
      );
      return reply(response, 404, page.contentType, page.body);
    }
    response.once("close", () => route.release?.());
    proxy.web(request, response, route.options, (error) => {
      // The runtime died (it is restarted alone) or does not answer.
      routes.unavailable?.(route.environment);
      if (response.headersSent) return void response.destroy(error);
      const detail = `${route.environment}'s Workers did not answer (${error.message})`;
      reply(
        response,
        502,
        "application/json",
        JSON.stringify({
          error: "environment_unavailable",
          environment: route.environment,
          detail,
        }),
      );
    });
  });
  server.on("upgrade", (request: IncomingMessage, socket: Socket, head: Buffer) => {
    const route = forward(request);
    if (!route) return void socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
    socket.once("close", () => route.release?.());
    proxy.ws(request, socket, head, route.options, () => socket.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) =>
      reject(
        new PipelineError(
          "HOST_FAILED",
          `the local host cannot listen on ${options.host}:${options.port}: ${error.message}`,
          { cause: error },
        ),
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  return server;
}

/** Stops listening and drops open connections (browsers keep theirs alive). */
export function closeFrontServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
