/**
 * The Neon stub with a real Postgres behind it: an embedded server where each Neon branch is a
 * database of its own, copied from its parent's (`CREATE DATABASE … TEMPLATE`), dropped with
 * the branch, and re-copied on a restore. Main is created, migrated and seeded.
 *
 * The connection URIs have Neon's shape, so that the pipeline's real code reads them:
 * `postgresql://neondb_owner:<password>@ep-….us-east-2.aws.neon.tech:<port>/<database>?sslmode=require&channel_binding=require`,
 * the pooled one with `-pooler` in the host. The differences from Neon's, and why:
 * - the host names resolve to 127.0.0.1 only where ./neon-dns.cjs is loaded (the tests load it
 *   in their process and put it in the CLI's NODE_OPTIONS; see NEON_DNS_PRELOAD);
 * - they carry a port (Neon's use 5432): the direct one is the server's, the pooled one a relay's
 *   (below);
 * - the database in the path is the branch's own copy (Neon gives every branch a database of
 *   the same name on its own compute; here the branches share one server).
 * The server speaks TLS with a self-signed certificate made for the run (`openssl`), as
 * `sslmode=require` demands a TLS handshake and, like libpq's `require`, checks no
 * certificate. Postgres itself refuses an unknown startup parameter (`channel_binding`), as
 * Neon's pooler does. The pooled host leads to a TCP relay in front of the same server that
 * counts its connections: Neon's pooler is PgBouncer in transaction mode, where schema
 * migrations do not belong (https://neon.com/docs/connect/connection-pooling), so a test can
 * check that nothing but the Workers' URL goes through it.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import postgres from "postgres";
import { startEmbeddedServer } from "@codex/database/embedded";
import { migrate } from "@codex/database/migrate";
import { seed } from "@codex/database/seed";
import { listenOnLoopback } from "./listen";
import { startNeonStub, type NeonStub, type NeonStubOptions } from "./neon";

/** The file to `--require` (NODE_OPTIONS) so that a process resolves the stub's Neon hosts. */
export const NEON_DNS_PRELOAD = fileURLToPath(new URL("./neon-dns.cjs", import.meta.url));

/** A self-signed certificate for the stub's hosts, made with the openssl command. */
async function selfSignedCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const [certFile, keyFile] = [join(dir, "tls.crt"), join(dir, "tls.key")];
  try {
    await promisify(execFile)(
      "openssl",
      [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
        ...["-nodes", "-days", "2", "-keyout", keyFile, "-out", certFile],
        ...["-subj", "/CN=*.us-east-2.aws.neon.tech"],
        ...["-addext", "subjectAltName=DNS:*.us-east-2.aws.neon.tech"],
      ],
      { timeout: 30_000 },
    );
  } catch (error) {
    throw new Error(
      `the Neon stub needs the openssl command to make its TLS certificate: ${(error as Error).message}`,
    );
  }
  return { cert: await readFile(certFile, "utf8"), key: await readFile(keyFile, "utf8") };
}

export interface NeonOnPostgres {
  neon: NeonStub;
  /** The password in every connection URI: a secret the tests look for. */
  password: string;
  /** A plain loopback URI of the branch named `branch` ("main", "pr-7"...), for the tests. */
  branchUrl(branch: string): string;
  /** The URI Neon's API hands out for the branch: the pooler's or the compute's own. */
  uri(branch: string, pooled: boolean): string;
  /** Connections made so far through the pooled host (the relay standing in for the pooler). */
  poolerConnections(): number;
  /** Whether the branch's database exists. */
  exists(branch: string): Promise<boolean>;
  /** Runs one query on the branch's database. */
  query<T extends object>(branch: string, text: string): Promise<T[]>;
  stop(): Promise<void>;
}

export interface NeonOnPostgresOptions extends Omit<
  NeonStubOptions,
  "backend" | "defaultBranchName"
> {
  /**
   * Connection URIs that name 127.0.0.1 (the ports as above) with TLS off (`sslmode=disable`),
   * for a test whose Workers run in workerd against a branch (the old-code check): workerd
   * resolves names itself, so ./neon-dns.cjs cannot reach it, and it trusts only public CAs, so
   * it refuses the self-signed certificate. Neon's own URIs never look like this.
   */
  loopbackUris?: boolean;
}

export async function startNeonOnPostgres(
  options: NeonOnPostgresOptions = {},
): Promise<NeonOnPostgres> {
  const { loopbackUris = false, ...stubOptions } = options;
  const dir = await mkdtemp(join(tmpdir(), "codex-neon-pg-"));
  // As root, Postgres runs as the `postgres` user, which must be able to enter the folder.
  await chmod(dir, 0o755);
  const server = await startEmbeddedServer({
    dataDir: join(dir, "pg"),
    durable: false,
    tls: await selfSignedCertificate(dir),
  });
  // The pooler: a relay to the same server (TLS passes through it untouched).
  let poolerConnections = 0;
  const sockets = new Set<Socket>();
  const pooler = await listenOnLoopback(
    createServer((client) => {
      poolerConnections++;
      const upstream = connect(server.port, "127.0.0.1");
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        socket.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    }),
  );
  const password = `pw${randomBytes(16).toString("hex")}`;
  const dbName = (branch: string) => `neon_${branch.replace(/[^a-z0-9]/g, "_")}`;
  const branchUrl = (branch: string) =>
    `postgres://neondb_owner:${password}@127.0.0.1:${server.port}/${dbName(branch)}`;

  async function withSql<T>(url: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      return await fn(sql);
    } finally {
      await sql.end({ timeout: 5 });
    }
  }
  const admin = <T>(fn: (sql: postgres.Sql) => Promise<T>) => withSql(server.adminUrl, fn);

  async function copy(name: string, parent: string): Promise<void> {
    await admin(async (sql) => {
      // A template must have no connections: a migration may have just closed its own.
      await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${dbName(parent)} and pid <> pg_backend_pid()`;
      await sql.unsafe(
        `create database "${dbName(name)}" template "${dbName(parent)}" owner neondb_owner`,
      );
    });
  }
  async function drop(name: string): Promise<void> {
    await admin((sql) => sql.unsafe(`drop database if exists "${dbName(name)}" with (force)`));
  }

  const neonUri = (branch: string, host: string, pooled: boolean) =>
    loopbackUris
      ? `postgresql://neondb_owner:${password}@127.0.0.1:${pooled ? pooler.port : server.port}/${dbName(branch)}?sslmode=disable`
      : `postgresql://neondb_owner:${password}@${host}:${pooled ? pooler.port : server.port}/${dbName(branch)}?sslmode=require&channel_binding=require`;

  await admin(async (sql) => {
    await sql.unsafe(`create role neondb_owner login superuser password '${password}'`);
    await sql.unsafe(`create database "${dbName("main")}" owner neondb_owner`);
  });
  await migrate(branchUrl("main"));
  await seed(branchUrl("main"));

  const neon = await startNeonStub({
    ...stubOptions,
    defaultBranchName: "main",
    backend: {
      created: copy,
      deleted: drop,
      restored: async (name, parent) => {
        await drop(name);
        await copy(name, parent);
      },
      uri: neonUri,
    },
  });

  return {
    neon,
    password,
    branchUrl,
    poolerConnections: () => poolerConnections,
    uri(branch, pooled) {
      const id = neon.branch(branch)?.id;
      const endpoint = neon.state.endpoints.find((e) => e.branch_id === id);
      if (!endpoint) throw new Error(`the Neon stub has no compute for branch "${branch}"`);
      const host = pooled ? endpoint.host.replace(/^([^.]+)\./, "$1-pooler.") : endpoint.host;
      return neonUri(branch, host, pooled);
    },
    exists: (branch) =>
      admin(
        async (sql) =>
          (await sql`select 1 from pg_database where datname = ${dbName(branch)}`).length > 0,
      ),
    query: (branch, text) =>
      withSql(branchUrl(branch), async (sql) => (await sql.unsafe(text)) as unknown as never[]),
    async stop() {
      await neon.close();
      for (const socket of sockets) socket.destroy();
      await pooler.close();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
