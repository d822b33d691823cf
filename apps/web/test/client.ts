/** A tiny browser stand-in without JavaScript: forms, cookies and manual redirects. */
export class Visitor {
  private readonly cookies = new Map<string, string>();

  constructor(readonly origin: URL) {}

  get cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  async get(path: string): Promise<Response> {
    return this.request(path, { method: "GET" });
  }

  /** Submits a form the way a browser without JavaScript does. */
  async submit(
    path: string,
    fields: Record<string, string>,
    origin = this.origin.origin,
  ): Promise<Response> {
    return this.request(path, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin },
      body: new URLSearchParams(fields).toString(),
    });
  }

  async request(path: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    // As a browser: SvelteKit answers form posts with redirects only to HTML clients.
    if (!headers.has("accept")) headers.set("accept", "text/html");
    if (this.cookies.size) headers.set("cookie", this.cookieHeader);
    const response = await fetch(new URL(path, this.origin), {
      ...init,
      headers,
      redirect: "manual",
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === "";
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }
}

export function location(response: Response): string | null {
  return response.headers.get("location");
}
