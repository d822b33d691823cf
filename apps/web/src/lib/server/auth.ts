import type { Cookies, RequestEvent } from "@sveltejs/kit";
import { isLocalOrigin, type SessionUser } from "./env";

export const SESSION_COOKIE = "codex_session";
const SESSION_MAX_AGE = 30 * 24 * 60 * 60;

/** The auth Worker's answer to signup or login. */
export type AuthResult =
  | { ok: true; token: string; session: SessionUser }
  | { ok: false; status: number; message: string; retryAfterSeconds?: number };

interface AuthErrorBody {
  error?: string;
  message?: string;
  retryAfterSeconds?: number;
}

/**
 * Talks to the auth Worker through its service binding. The hostname is a placeholder: a
 * service binding delivers the request to the bound Worker whatever the URL says.
 */
export class AuthClient {
  constructor(
    private readonly binding: Fetcher,
    private readonly clientIp: string,
  ) {}

  async signup(input: {
    email: string;
    password: string;
    displayName?: string;
  }): Promise<AuthResult> {
    return this.authenticate("/signup", input);
  }

  async login(input: { email: string; password: string }): Promise<AuthResult> {
    return this.authenticate("/login", input);
  }

  async logout(token: string): Promise<void> {
    await this.call("/logout", { method: "POST", headers: { authorization: `Bearer ${token}` } });
  }

  /** The user and plan for a token, or null when the token is unknown or expired. */
  async session(token: string): Promise<SessionUser | null> {
    const response = await this.call("/session", { headers: { authorization: `Bearer ${token}` } });
    if (response.status === 401) return null;
    if (!response.ok) throw new Error(`auth Worker answered ${response.status} to /session`);
    const body = (await response.json()) as SessionUser;
    return { user: body.user, plan: body.plan, periodEnd: body.periodEnd };
  }

  private async authenticate(path: string, input: object): Promise<AuthResult> {
    const response = await this.call(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(input),
    });
    if (response.ok) {
      const body = (await response.json()) as SessionUser & { token: string };
      return {
        ok: true,
        token: body.token,
        session: { user: body.user, plan: body.plan, periodEnd: body.periodEnd ?? null },
      };
    }
    if (response.status >= 500)
      throw new Error(`auth Worker answered ${response.status} to ${path}`);
    const body = (await response.json().catch(() => ({}))) as AuthErrorBody;
    return {
      ok: false,
      status: response.status,
      message: body.message ?? "Something went wrong. Please try again.",
      ...(body.retryAfterSeconds ? { retryAfterSeconds: body.retryAfterSeconds } : {}),
    };
  }

  private call(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    // The auth Worker rate-limits per client address; through a binding it sees only what we send.
    headers.set("cf-connecting-ip", this.clientIp);
    return this.binding.fetch(`https://auth.internal${path}`, { ...init, headers });
  }
}

export function authClient(event: Pick<RequestEvent, "locals" | "getClientAddress">): AuthClient {
  let ip = "unknown";
  try {
    ip = event.getClientAddress();
  } catch {
    // Not every runtime knows the client's address; the auth Worker then limits per email.
  }
  return new AuthClient(event.locals.env.AUTH, ip);
}

export function setSessionCookie(cookies: Cookies, url: URL, token: string): void {
  cookies.set(SESSION_COOKIE, token, {
    path: "/",
    httpOnly: true,
    sameSite: "lax",
    secure: !isLocalOrigin(url),
    maxAge: SESSION_MAX_AGE,
  });
}

export function clearSessionCookie(cookies: Cookies, url: URL): void {
  cookies.delete(SESSION_COOKIE, {
    path: "/",
    httpOnly: true,
    sameSite: "lax",
    secure: !isLocalOrigin(url),
  });
}

/** Only same-site paths are followed after login, never another origin. */
export function safeRedirectTarget(value: string | null, fallback = "/account"): string {
  if (!value || !value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) {
    return fallback;
  }
  return value;
}
