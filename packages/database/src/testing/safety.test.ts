import { describe, expect, it } from "vitest";
import {
  assertSafeServerUrl,
  assertSafeTestDatabaseName,
  databaseNameOf,
  UnsafeTestDatabaseError,
  withDatabase,
} from "./safety";

describe("test database guards", () => {
  it.each(["main", "production", "prod", "codex_main", "app_production_copy", "PRIMARY", "live"])(
    "refuses %s",
    (name) => {
      expect(() => assertSafeTestDatabaseName(name.toLowerCase())).toThrow(UnsafeTestDatabaseError);
    },
  );

  it.each(["codex_test_abc123_tpl", "codex_test_x_0123456789", "domain_tests"])(
    "accepts %s",
    (name) => {
      expect(() => assertSafeTestDatabaseName(name)).not.toThrow();
    },
  );

  it("refuses names that are not plain identifiers", () => {
    expect(() => assertSafeTestDatabaseName('x"; drop database y; --')).toThrow(/only a-z/);
    expect(() => assertSafeTestDatabaseName("a".repeat(64))).toThrow(/at most 63/);
  });

  it("reads and replaces the database of a URL", () => {
    expect(databaseNameOf("postgres://u:p@h:5432/neondb?sslmode=require")).toBe("neondb");
    expect(databaseNameOf("postgres://u:p@h:5432")).toBe("postgres");
    expect(withDatabase("postgres://u:p@h:5432/neondb?sslmode=require", "other")).toBe(
      "postgres://u:p@h:5432/other?sslmode=require",
    );
  });

  it("refuses a TEST_DATABASE_URL that names main or production", () => {
    expect(() => assertSafeServerUrl("postgres://u:p@h/production")).toThrow(
      /looks like main or production/,
    );
    expect(() => assertSafeServerUrl("postgres://u:p@h/main")).toThrow(UnsafeTestDatabaseError);
    expect(() => assertSafeServerUrl("not a url")).toThrow(/not a valid/);
    expect(() => assertSafeServerUrl("postgres://u:p@h/ci")).not.toThrow();
  });
});
