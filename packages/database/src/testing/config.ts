/** What the global setup hands each test file (through vitest's provide/inject). */
export interface TestDatabaseConfig {
  /** A URL on the test server with the right to CREATE and DROP databases. */
  serverUrl: string;
  /** The migrated template every suite's database is cloned from. */
  template: string;
  /** Prefix shared by every database of this run, so teardown can find them all. */
  prefix: string;
}

export const TEST_DATABASE_KEY = "codexTestDatabase";

declare module "vitest" {
  export interface ProvidedContext {
    codexTestDatabase: TestDatabaseConfig;
  }
}
