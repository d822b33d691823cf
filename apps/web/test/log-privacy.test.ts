import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { closeDb, createDb, eq, sql, users, type Database } from "@codex/database";
import { useTestDatabase } from "@codex/database/testing";
import { startStack, type Stack } from "./stack";
import { Visitor } from "./client";

// Issue 10: a failed query reached the local host's log (the Workers' console output) with
// its parameters, a user's email and password hash. Here the whole stack runs in workerd as it
// deploys, and every line workerd writes, from all three Workers, is kept and searched.
const EMAIL = "alan.known@example.com";
const DISPLAY_NAME = "Alan Knownperson";
const PASSWORD = "correct horse battery";
// The shape of every stored password hash (packages/database/src/password.ts), which a
// failing row can also show cut short.
const HASH_PREFIX = "pbkdf2-sha256$";

const database = useTestDatabase();
let stack: Stack;
let db: Database;
const output: string[] = [];

beforeAll(async () => {
  db = createDb(database().url);
  // This file's own database refuses the known account, as a real constraint would.
  await db.execute(
    sql.raw(`alter table users add constraint reject_known check (email <> '${EMAIL}') not valid`),
  );
  stack = await startStack({
    databaseUrl: database().url,
    environment: "preview-7",
    stripeWebhookSecret: "whsec_codex_web_privacy_secret",
    sessionSecret: "web-privacy-session-secret-of-32-chars-or-more",
    logLevel: "warn",
    onOutput: (line) => output.push(line),
  });
});
afterAll(async () => {
  await Promise.all([stack?.dispose(), db && closeDb(db)]);
});
beforeEach(() => {
  output.length = 0;
});

/** Waits until workerd's output names the failed query: lines arrive through a pipe. */
async function failedQueryLogged(sqlStart: string): Promise<void> {
  await expect
    .poll(() => output.some((line) => line.includes(`Failed query: ${sqlStart}`)), {
      timeout: 5_000,
    })
    .toBe(true);
}

function expectNoneOf(values: string[]): void {
  for (const line of output) {
    for (const value of values) {
      expect(line).not.toContain(value);
    }
  }
}

describe("the Workers' console output when a query fails", () => {
  it("holds neither the email nor the password hash of a sign-up through the web app", async () => {
    const response = await new Visitor(stack.url).submit("/signup", {
      email: EMAIL,
      password: PASSWORD,
      displayName: DISPLAY_NAME,
    });
    expect(response.status).toBe(500);
    await failedQueryLogged('insert into \\"users\\"');
    expectNoneOf([EMAIL, DISPLAY_NAME, PASSWORD, HASH_PREFIX]);
  });

  it("holds no parameter of the web app's own failed query", async () => {
    const visitor = new Visitor(stack.url);
    const email = "barbara.account@example.com";
    expect((await visitor.submit("/signup", { email, password: PASSWORD })).status).toBe(303);
    const [user] = await db.select({ id: users.id }).from(users).where(eq(users.email, email));
    expect(user).toBeDefined();
    // Code that runs ahead of its schema: the account page's query names a missing column.
    await db.execute(sql`alter table payments rename column created_at to created_on`);

    const response = await visitor.get("/account");
    expect(response.status).toBe(500);
    await failedQueryLogged("select");
    expectNoneOf([user!.id, email, HASH_PREFIX]);
  });
});
