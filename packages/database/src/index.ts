export { closeDb, createDb, type CreateDbOptions, type Database } from "./client";
export * from "./schema/index";
export { postgresJsUrl } from "./connection-url";
// Query operators, re-exported so that every package builds queries with the same drizzle-orm
// instance as the schema (two copies would not recognise each other's SQL objects).
export { and, asc, count, desc, eq, gt, gte, isNull, lt, min, or, sql } from "drizzle-orm";
