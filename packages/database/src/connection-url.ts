/**
 * Connection URLs as libpq writes them (Neon's, for example
 * `postgresql://neondb_owner:…@ep-…-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require`),
 * made fit for postgres.js.
 *
 * postgres.js 3.4.9 reads a few query parameters itself (`sslmode`, `connect_timeout`,
 * `target_session_attrs`, ...) and sends every other one to the server as a startup parameter
 * (`parseOptions` in postgres/src/index.js: `connection: { ..., ...Object.entries(query).reduce(
 * (acc, [k, v]) => (k in defaults || (acc[k] = v), acc), {}) }`, written into the
 * StartupMessage by src/connection.js). libpq's client-side keywords are no server setting:
 * Postgres refuses them (`unrecognized configuration parameter "channel_binding"`), and so does
 * Neon's pooler, PgBouncer (`unsupported startup parameter`). So they are dropped here, before
 * postgres.js sees the URL. What stays is passed on as it was: `sslmode` (postgres.js's `require`
 * is libpq's: TLS without checking the certificate; `verify-full` checks it), `options`
 * (Neon's endpoint ID for clients without SNI), `application_name` and real server settings.
 *
 * `channel_binding=require` asks libpq to insist on SCRAM-SHA-256-PLUS; postgres.js authenticates
 * with SCRAM-SHA-256 without channel binding (its SASL exchange sends the `n,,` GS2 header), so
 * it cannot honour it: use `sslmode=verify-full` where the server certificate must be checked.
 */

/**
 * libpq's connection keywords that are not server settings and that postgres.js does not read
 * (https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PARAMKEYWORDS).
 */
const CLIENT_ONLY = new Set([
  "channel_binding",
  "sslcert",
  "sslkey",
  "sslpassword",
  "sslcertmode",
  "sslrootcert",
  "sslcrl",
  "sslcrldir",
  "sslsni",
  "sslcompression",
  "requiressl",
  "require_auth",
  "ssl_min_protocol_version",
  "ssl_max_protocol_version",
  "gssencmode",
  "gsslib",
  "gssdelegation",
  "krbsrvname",
  "service",
  "passfile",
  "hostaddr",
  "keepalives",
  "keepalives_idle",
  "keepalives_interval",
  "keepalives_count",
  "tcp_user_timeout",
  "load_balance_hosts",
  "fallback_application_name",
]);

/**
 * `url` with libpq's client-only query parameters removed, so that postgres.js does not send
 * them to the server. Everything before the query string is kept byte for byte (a multi-host
 * URL, an encoded password). `sslrootcert=system` becomes `sslmode=verify-full`, as postgres.js
 * itself reads it.
 */
export function postgresJsUrl(url: string): string {
  const mark = url.indexOf("?");
  if (mark === -1) return url;
  const [base, rest] = [url.slice(0, mark), url.slice(mark + 1)];
  const hash = rest.indexOf("#");
  const query = new URLSearchParams(hash === -1 ? rest : rest.slice(0, hash));
  const kept = new URLSearchParams();
  if (query.get("sslrootcert") === "system" && !query.has("sslmode")) {
    kept.set("sslmode", "verify-full");
  }
  for (const [key, value] of query) {
    if (key === "sslmode" && query.get("sslrootcert") === "system") {
      kept.set("sslmode", "verify-full");
    } else if (!CLIENT_ONLY.has(key)) kept.append(key, value);
  }
  const text = kept.toString();
  return text ? `${base}?${text}` : base;
}
