import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { closeDb, createDb, type Database, eq, sql, users } from "@codex/database";
import { hashPassword } from "@codex/database/password";
import { useTestDatabase } from "@codex/database/testing";
import { captureLogs, type LogCapture } from "@codex/observability/testing";
import { call, type CallOptions } from "./test-helpers";

// Issue 10: a failed query was logged with its parameters, a user's email and password hash.
const EMAIL = "grace.known@example.com";
const DISPLAY_NAME = "Grace Knownperson";
const PASSWORD = "correct horse battery";
// With the salt pinned, the hash the Worker computes is known to the test in advance.
const SALT = Uint8Array.from({ length: 16 }, (_, i) => 7 * i + 1);
const SALT_BASE64 = btoa(String.fromCharCode(...SALT));

const database = useTestDatabase();
let db: Database;
beforeAll(async () => {
  db = createDb(database().url);
  // This file's own database refuses the known account, in both tables its email reaches,
  // so that the Worker's queries fail the way a real constraint violation does.
  for (const table of ["users", "login_attempts"]) {
    await db.execute(
      sql.raw(
        `alter table ${table} add constraint ${table}_reject_known check (email <> '${EMAIL}') not valid`,
      ),
    );
  }
  return () => closeDb(db);
});

let logs: LogCapture;
beforeEach(() => {
  logs = captureLogs();
});
afterEach(() => {
  logs.restore();
  vi.restoreAllMocks();
});

const send = (path: string, options: CallOptions = {}) =>
  call(path, { ...options, env: { DATABASE_URL: database().url, ANALYTICS: logs.dataset } });

/** Makes every 16-byte salt the Worker draws the known one. */
function pinSalt(): void {
  const random = crypto.getRandomValues.bind(crypto);
  vi.spyOn(crypto, "getRandomValues").mockImplementation((array) => {
    if (array instanceof Uint8Array && array.length === SALT.length) {
      array.set(SALT);
      return array;
    }
    return random(array);
  });
}

function expectQueryFailureLoggedWithout(table: string, values: string[]): void {
  expect(logs.lines.some((line) => line.includes(`Failed query: insert into \\"${table}\\"`))).toBe(
    true,
  );
  for (const line of logs.lines) {
    for (const value of values) {
      expect(line).not.toContain(value);
    }
  }
}

describe("a failed query in the auth Worker", () => {
  it("on signup, is logged without the email, the display name or the password hash", async () => {
    pinSalt();
    const hash = await hashPassword(PASSWORD);
    expect(hash.split("$")[2]).toBe(SALT_BASE64);
    // The premise: with the salt pinned, the Worker stores exactly this hash.
    const other = await send("/signup", {
      json: { email: "grace.other@example.com", password: PASSWORD },
    });
    expect(other.status).toBe(201);
    const [stored] = await db
      .select({ hash: users.passwordHash })
      .from(users)
      .where(eq(users.email, "grace.other@example.com"));
    expect(stored?.hash).toBe(hash);

    const res = await send("/signup", {
      json: { email: EMAIL, password: PASSWORD, displayName: DISPLAY_NAME },
    });
    expect(res.status).toBe(500);
    // PostgreSQL cuts each value of the failing row it echoes to 64 bytes, so the hash can
    // appear cut short: its salt and its scheme prefix are looked for too.
    expectQueryFailureLoggedWithout("users", [
      EMAIL,
      DISPLAY_NAME,
      PASSWORD,
      hash,
      SALT_BASE64,
      "pbkdf2-sha256$",
    ]);
  });

  it("on login, is logged without the email", async () => {
    const res = await send("/login", {
      json: { email: EMAIL.toUpperCase(), password: PASSWORD },
      headers: { "cf-connecting-ip": "203.0.113.99" },
    });
    expect(res.status).toBe(500);
    expectQueryFailureLoggedWithout("login_attempts", [EMAIL, PASSWORD, "203.0.113.99"]);
  });
});
