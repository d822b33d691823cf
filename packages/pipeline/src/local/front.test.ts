import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Summary } from "../core/summary";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeFrontServer, hostnameOf, startFrontServer, unknownHostPage } from "./front";
import type { LiveEnvironment } from "./miniflare-options";

const LIVE: LiveEnvironment[] = [
  {
    name: "preview-1",
    version: "v3",
    urls: { web: "http://pr-1.localhost:8787", auth: "", webhook: "" },
  },
];

/** A request to the front server on `port`, addressed by Host header as a browser does. */
function send(
  port: number,
  host: string,
  init: { method?: string; path?: string; headers?: Record<string, string>; body?: string[] } = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method: init.method ?? "GET",
        path: init.path ?? "/",
        headers: { host, ...init.headers },
      },
      (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    // Sent in pieces, as a streamed upload is.
    for (const piece of init.body ?? []) req.write(piece);
    req.end();
  });
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
}

describe("hostnameOf", () => {
  it.each([
    ["pr-1.localhost:8787", "pr-1.localhost"],
    ["PR-1-Auth.localhost", "pr-1-auth.localhost"],
    ["localhost:8787", "localhost"],
    ["[::1]:8787", "[::1]"],
    ["bad host", ""],
    [undefined, ""],
  ])("%s names %j", (host, hostname) => {
    expect(hostnameOf(host)).toBe(hostname);
  });
});

describe("unknownHostPage", () => {
  it("lists the live environments, escaping what it prints", () => {
    const page = unknownHostPage("<pr-9>.localhost:8787", "text/html", LIVE);
    expect(page.contentType).toBe("text/html; charset=utf-8");
    expect(page.body).toContain("<h1>No environment at &lt;pr-9&gt;.localhost:8787</h1>");
    expect(page.body).toContain(
      '<li><a href="http://pr-1.localhost:8787">preview-1</a> <small>v3</small></li>',
    );
  });

  it("says how to make one when none is live, and answers JSON to who asks for it", () => {
    expect(unknownHostPage("x", "text/html", []).body).toContain("pnpm preview-deploy --pr 1");
    const json = unknownHostPage("x:1", "application/json", LIVE);
    expect(JSON.parse(json.body)).toEqual({
      error: "unknown_host",
      host: "x:1",
      environments: LIVE,
    });
  });
});

describe("the front server", () => {
  let runtime: Server;
  let runtimePort: number;
  let front: Server;
  let frontPort: number;
  let deadPort: number;

  beforeAll(async () => {
    // Stands in for an environment's Miniflare: echoes what reached it.
    runtime = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      req.on("end", () => {
        res.writeHead(201, [
          ["content-type", "application/json"],
          ["set-cookie", "session=abc; HttpOnly"],
          ["set-cookie", "theme=dark"],
        ]);
        // Two writes: the answer is streamed back, not buffered into one piece.
        res.write(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }));
        setTimeout(() => res.end(`\n${body}`), 20);
      });
    });
    runtimePort = await listen(runtime);
    const dead = createServer();
    deadPort = await listen(dead);
    await new Promise((resolve) => dead.close(resolve));
    front = await startFrontServer({
      host: "127.0.0.1",
      port: 0,
      routes: {
        target: (hostname) =>
          ({
            "pr-1.localhost": { environment: "preview-1", port: runtimePort },
            "pr-1-auth.localhost": { environment: "preview-1", port: runtimePort },
            "pr-2.localhost": { environment: "preview-2", port: deadPort },
          })[hostname],
        live: () => LIVE,
      },
    });
    frontPort = (front.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await closeFrontServer(front);
    await new Promise((resolve) => runtime.close(resolve));
  });

  it("forwards method, path, headers and a streamed body, and returns status, cookies and body", async () => {
    const res = await send(frontPort, `pr-1-auth.localhost:${frontPort}`, {
      method: "POST",
      path: "/signup?next=%2Faccount",
      headers: { "content-type": "text/plain", "x-test": "yes" },
      body: ["first half, ", "second half"],
    });
    expect(res.status).toBe(201);
    expect(res.headers["set-cookie"]).toEqual(["session=abc; HttpOnly", "theme=dark"]);
    const [echo, body] = res.body.split("\n") as [string, string];
    const seen = JSON.parse(echo) as { method: string; url: string; headers: IncomingHttpHeaders };
    expect(seen.method).toBe("POST");
    expect(seen.url).toBe("/signup?next=%2Faccount");
    // The Host header reaches Miniflare as the browser sent it: its routes and the Workers'
    // origin checks depend on it.
    expect(seen.headers.host).toBe(`pr-1-auth.localhost:${frontPort}`);
    expect(seen.headers["x-test"]).toBe("yes");
    expect(body).toBe("first half, second half");
  });

  it("tells the runtime who the client is, unless the request already says", async () => {
    const plain = await send(frontPort, "pr-1.localhost");
    const said = await send(frontPort, "pr-1.localhost", {
      headers: { "cf-connecting-ip": "203.0.113.7" },
    });
    const ip = (r: { body: string }) =>
      (JSON.parse(r.body.split("\n")[0] ?? "") as { headers: IncomingHttpHeaders }).headers[
        "cf-connecting-ip"
      ];
    expect(ip(plain)).toBe("127.0.0.1");
    expect(ip(said)).toBe("203.0.113.7");
  });

  it("answers a host no environment claims with the 404 page, in HTML or JSON", async () => {
    const html = await send(frontPort, `pr-9.localhost:${frontPort}`, {
      headers: { accept: "text/html" },
    });
    expect(html.status).toBe(404);
    expect(html.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(html.body).toContain(`No environment at pr-9.localhost:${frontPort}`);
    expect(html.body).toContain("preview-1");
    const json = await send(frontPort, `pr-9.localhost:${frontPort}`, {
      headers: { accept: "application/json" },
    });
    expect(json.status).toBe(404);
    expect(JSON.parse(json.body)).toMatchObject({
      error: "unknown_host",
      host: `pr-9.localhost:${frontPort}`,
    });
  });

  it("answers 502 naming the environment when its runtime does not answer", async () => {
    const res = await send(frontPort, "pr-2.localhost");
    expect(res.status).toBe(502);
    const body = JSON.parse(res.body) as { error: string; detail: string };
    expect(body.error).toBe("environment_unavailable");
    expect(body.detail).toMatch(/^preview-2's Workers did not answer \(.*ECONNREFUSED/);
  });

  it("refuses a port already in use, saying which", async () => {
    await expect(
      startFrontServer({
        host: "127.0.0.1",
        port: frontPort,
        routes: { target: () => undefined, live: () => [] },
      }),
    ).rejects.toThrow(`the local host cannot listen on 127.0.0.1:${frontPort}: listen EADDRINUSE`);
  });
});

describe("the dashboard at codex.localhost", () => {
  let state: string;
  let front: Server;
  let port: number;
  const PNG_BYTES = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const envDir = (name: string) => join(state, "envs", name);
  const get = (path: string, headers: Record<string, string> = {}) =>
    send(port, `codex.localhost:${port}`, { path, headers });

  beforeAll(async () => {
    state = await mkdtemp(join(tmpdir(), "codex-dashboard-"));
    const dir = envDir("preview-1");
    await mkdir(join(dir, "e2e", "visual", "diff", "desktop"), { recursive: true });
    await mkdir(join(dir, "e2e", "visual", "preview", "desktop"), { recursive: true });
    const summary: Summary = {
      environment: "preview-1",
      target: "local",
      status: "deployed",
      urls: LIVE[0]!.urls,
      database: null,
      version: "v3",
      steps: [],
      e2e: {
        passed: 6,
        failed: 0,
        skipped: 0,
        durationMs: 1,
        reportDir: "e2e/html/index.html",
        screenshots: [],
      },
      visual: {
        baseline: "v2",
        threshold: 0.001,
        pages: [
          {
            page: "pricing",
            viewport: "desktop",
            status: "changed",
            ratio: 0.012,
            preview: "e2e/visual/preview/desktop/pricing.png",
            production: "e2e/visual/production/desktop/pricing.png",
            diff: "e2e/visual/diff/desktop/pricing.png",
          },
          { page: "home", viewport: "desktop", status: "unchanged", ratio: 0 },
        ],
      },
      updatedAt: "2026-12-06T23:00:00.000Z",
    };
    await writeFile(join(dir, "summary.json"), JSON.stringify(summary));
    await writeFile(join(dir, "summary.html"), "<!doctype html><title>summary</title>");
    await writeFile(join(dir, "secrets.json"), JSON.stringify({ SESSION_SECRET: "not served" }));
    await writeFile(join(dir, "e2e", "visual", "diff", "desktop", "pricing.png"), PNG_BYTES);
    await writeFile(join(state, "outside.txt"), "outside the environment's folder");
    // A link inside the e2e folder that leads out of it.
    await symlink(join(state, "outside.txt"), join(dir, "e2e", "escape.txt"));
    await symlink(join(dir, "secrets.json"), join(dir, "e2e", "secrets-link.json"));
    front = await startFrontServer({
      host: "127.0.0.1",
      port: 0,
      routes: { target: () => undefined, live: () => LIVE, envDir },
    });
    port = (front.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await closeFrontServer(front);
    await rm(state, { recursive: true, force: true });
  });

  it("lists each live environment with its URLs, version, last summary and visual verdict", async () => {
    const res = await get("/", { accept: "text/html" });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.body).toContain('<a href="http://pr-1.localhost:8787">preview-1</a>');
    expect(res.body).toContain("<code>v3</code>");
    expect(res.body).toContain('<a href="/envs/preview-1/summary.html">summary.html</a>');
    expect(res.body).toContain('<span class="changed">1 changed</span>, 1 unchanged');
    expect(res.body).toContain("against production v2");
    expect(res.body).toContain('href="/envs/preview-1/e2e/visual/diff/desktop/pricing.png"');
    expect(res.body).toContain("6 passed, 0 failed");
  });

  it("answers JSON to who asks for it", async () => {
    const res = await get("/", { accept: "application/json" });
    expect(res.headers["content-type"]).toBe("application/json");
    const body = JSON.parse(res.body) as { environments: { name: string; visual: unknown }[] };
    expect(body.environments).toMatchObject([
      {
        name: "preview-1",
        version: "v3",
        status: "deployed",
        summary: { html: "/envs/preview-1/summary.html" },
        visual: { baseline: "v2", changed: 1, unchanged: 1 },
      },
    ]);
  });

  it("serves an environment's summary and e2e files from its state folder", async () => {
    const html = await get("/envs/preview-1/summary.html");
    expect(html.status).toBe(200);
    expect(html.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(html.body).toContain("<title>summary</title>");
    const png = await get("/envs/preview-1/e2e/visual/diff/desktop/pricing.png");
    expect(png.status).toBe(200);
    expect(png.headers["content-type"]).toBe("image/png");
    expect(png.headers["x-content-type-options"]).toBe("nosniff");
  });

  it.each([
    "/envs/preview-1/secrets.json",
    "/envs/preview-1/summary.json",
    "/envs/preview-1/../../outside.txt",
    "/envs/preview-1/e2e/../secrets.json",
    "/envs/preview-1/e2e/%2e%2e/secrets.json",
    "/envs/preview-1/e2e%2F..%2Fsecrets.json",
    "/envs/..%2F..%2Fetc/passwd",
    "/envs/%2e%2e/outside.txt",
    "/envs/preview-1/e2e/escape.txt",
    "/envs/preview-1/e2e/secrets-link.json",
    "/envs/preview-1/e2e/missing.png",
    "/envs/preview-1/%E0%A4%A.png",
    "/etc/passwd",
  ])(
    "refuses %s with a 404 (no way out of the environment's summaries and e2e folder)",
    async (path) => {
      const res = await get(path);
      expect(res.status).toBe(404);
      expect(res.body).not.toContain("not served");
      expect(res.body).not.toContain("outside the environment");
    },
  );

  it("refuses anything but GET and HEAD", async () => {
    const res = await send(port, `codex.localhost:${port}`, { method: "POST", path: "/" });
    expect(res.status).toBe(405);
  });

  it("points any unknown host to the dashboard", async () => {
    const res = await send(port, `nowhere.localhost:${port}`, { headers: { accept: "text/html" } });
    expect(res.status).toBe(404);
    expect(res.body).toContain(`<a href="http://codex.localhost:${port}/">`);
    const json = await send(port, `nowhere.localhost:${port}`, {
      headers: { accept: "application/json" },
    });
    expect(JSON.parse(json.body)).toMatchObject({ dashboard: `http://codex.localhost:${port}/` });
  });
});
