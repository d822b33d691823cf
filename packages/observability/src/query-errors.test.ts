import { DrizzleQueryError } from "drizzle-orm";
import postgres from "postgres";
import { beforeAll, describe, expect, it } from "vitest";
import { closeDb, createDb, type Database, sql, users } from "@codex/database";
import { hashPassword } from "@codex/database/password";
import { useTestDatabase } from "@codex/database/testing";
import { createObservability, memorySink, toJsonLine } from "./logger";
import { REDACTED } from "./redact";

const EMAIL = "ada.known@example.com";
const DISPLAY_NAME = "Ada Knownperson";

// Real errors from the drivers the Workers use (drizzle-orm 0.45.4 over postgres.js 3.4.9),
// provoked against this file's own Postgres database.
const database = useTestDatabase();
let db: Database;
beforeAll(async () => {
  db = createDb(database().url);
  // Rejects one known account, so that inserting it fails the way a real constraint would.
  await db.execute(
    sql.raw(`alter table users add constraint reject_known check (email <> '${EMAIL}') not valid`),
  );
  return () => closeDb(db);
});

let hash: string;
beforeAll(async () => {
  hash = await hashPassword("correct horse battery");
});

/** Everything personal in these tests, and the shape of any password hash, whole or cut. */
function personalData(): string[] {
  return [EMAIL, DISPLAY_NAME, hash, hash.split("$")[2] ?? hash, "pbkdf2-sha256$"];
}

async function failure(query: () => Promise<unknown>): Promise<unknown> {
  try {
    await query();
  } catch (error) {
    return error;
  }
  throw new Error("the query was expected to fail");
}

/** Logs `error` every way the Workers do, and returns the JSON lines a console would get. */
function logged(error: unknown): { lines: string[]; described: Record<string, unknown> } {
  const sink = memorySink();
  const obs = createObservability({ service: "test", environment: "test", sinks: [sink] });
  obs.trackError(error);
  obs.warn("health: database unreachable", { error });
  // A caller's own error that repeats the database error's message.
  const message = error instanceof Error ? error.message : String(error);
  obs.error("signup failed", { error: new Error(`signup failed: ${message}`, { cause: error }) });
  return {
    lines: sink.entries.map(toJsonLine),
    described: sink.entries[0]?.error as Record<string, unknown>,
  };
}

function expectNoPersonalData(lines: string[]): void {
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    for (const value of personalData()) {
      expect(line).not.toContain(value);
    }
  }
}

describe("a failed drizzle query (DrizzleQueryError)", () => {
  it("is logged with its SQL, without its parameters or the row PostgreSQL echoes", async () => {
    const error = await failure(() =>
      db.insert(users).values({ email: EMAIL, passwordHash: hash, displayName: DISPLAY_NAME }),
    );
    // The premise: drizzle puts the parameters in its message, and PostgreSQL the row
    // (its values cut to 64 bytes, so the hash does not appear whole) in the cause's detail.
    expect(error).toBeInstanceOf(DrizzleQueryError);
    const raw = error as DrizzleQueryError & { cause: { detail: string } };
    expect(raw.message).toContain(`params: ${EMAIL},${hash},${DISPLAY_NAME}`);
    expect(raw.cause.detail).toContain(EMAIL);
    expect(raw.cause.detail).toContain(hash.slice(0, 40));

    const { lines, described } = logged(error);
    expectNoPersonalData(lines);
    expect(described.message).toBe(`Failed query: ${raw.query}\nparams: ${REDACTED}`);
    expect(described.stack).toContain(`Failed query: ${raw.query}\nparams: ${REDACTED}\n`);
    expect(described.query).toBe(raw.query);
    expect(described.params).toBe(REDACTED);
    expect(described.cause).toMatchObject({
      name: "PostgresError",
      message: 'new row for relation "users" violates check constraint "reject_known"',
      code: "23514",
      table_name: "users",
      constraint_name: "reject_known",
      detail: REDACTED,
    });
  });

  it("keeps the SQL's placeholders when a parameter is a number", async () => {
    const error = await failure(() => db.execute(sql`select ${EMAIL}::uuid limit ${1}`));
    const { lines, described } = logged(error);
    expectNoPersonalData(lines);
    expect(described.message).toBe(`Failed query: select $1::uuid limit $2\nparams: ${REDACTED}`);
  });
});

describe("a postgres.js error with parameters", () => {
  it("loses a parameter that PostgreSQL repeats in its message", async () => {
    const error = await failure(() => db.$client.unsafe("select $1::uuid", [EMAIL]));
    // postgres.js 3.4.9 (src/connection.js, queryError) attaches the parameters to the error,
    // not enumerable; PostgreSQL quotes the value it could not read.
    const raw = error as Error & { parameters: unknown };
    expect(raw.message).toBe(`invalid input syntax for type uuid: "${EMAIL}"`);
    expect(raw.parameters).toEqual([EMAIL]);

    const { lines, described } = logged(error);
    expectNoPersonalData(lines);
    expect(described).toMatchObject({
      name: "PostgresError",
      message: `invalid input syntax for type uuid: "${REDACTED}"`,
      code: "22P02",
    });
  });

  it("redacts the parameters that postgres.js's debug option makes enumerable", async () => {
    const client = postgres(database().url, { max: 1, debug: true, onnotice: () => {} });
    try {
      const error = await failure(() =>
        client.unsafe(
          "insert into users (email, password_hash, display_name) values ($1, $2, $3)",
          [EMAIL, hash, DISPLAY_NAME],
        ),
      );
      expect(Object.keys(error as object)).toEqual(
        expect.arrayContaining(["query", "parameters", "args"]),
      );

      const { lines, described } = logged(error);
      expectNoPersonalData(lines);
      expect(described).toMatchObject({
        query: "insert into users (email, password_hash, display_name) values ($1, $2, $3)",
        parameters: REDACTED,
        args: REDACTED,
        detail: REDACTED,
        code: "23514",
      });
    } finally {
      await client.end();
    }
  });
});

describe("what stays in the description of a failed query", () => {
  it("keeps the SQL whole, words that hold a short parameter, and the stack's frames", () => {
    // Parameters that coincide with a table name and with part of a word and of a path.
    const query = 'select "id" from "users" where "plan" = $1 and "source" = $2';
    const cause = Object.assign(new Error('plan "pro" is unknown to users; still processing'), {
      code: "XX000",
    });
    const error = new DrizzleQueryError(query, ["pro", "users", "query-errors"], cause);

    const { described } = logged(error);
    expect(described.message).toBe(`Failed query: ${query}\nparams: ${REDACTED}`);
    expect(described.query).toBe(query);
    expect(described.stack).toContain("query-errors.test.ts");
    expect(described.cause).toMatchObject({
      message: `plan "${REDACTED}" is unknown to ${REDACTED}; still processing`,
    });
  });

  it("keeps PostgreSQL's detail when it describes the failure, not the data", () => {
    const deadlock = Object.assign(new Error("deadlock detected"), {
      code: "40P01",
      detail: "Process 101 waits for ShareLock on transaction 7; blocked by process 102.",
    });
    const { described } = logged(new DrizzleQueryError("update x set y = $1", [EMAIL], deadlock));
    expect(described.cause).toMatchObject({ code: "40P01", detail: deadlock.detail });
  });
});
