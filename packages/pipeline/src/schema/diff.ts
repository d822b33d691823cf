/**
 * The schema diff: what the pending migrations change in the real schema, read from Postgres's
 * catalogs (pg_catalog) of main and of a migrated copy of it, never from the migration text.
 * Tables, columns (type, nullability, default), indexes, constraints, enums, sequences and views,
 * outside Postgres's own schemas and drizzle's bookkeeping (`drizzle.__drizzle_migrations`).
 * A removed or narrowed table or column is destructive: its data is lost or may no longer fit,
 * or the code production runs now can no longer write it.
 */
import { closeDb, createDb } from "@codex/database";
import type { SchemaChange } from "../core/summary";

export interface ColumnInfo {
  /** As format_type() prints it: "text", "character varying(20)", "integer". */
  type: string;
  notNull: boolean;
  /** The default's expression, as pg_get_expr() prints it; null without one. */
  default: string | null;
}

/** A schema as plain data, every object by its name (`table`, `table.column`, `table.constraint`). */
export interface SchemaSnapshot {
  tables: Record<string, true>;
  columns: Record<string, ColumnInfo>;
  /** Index name → its table and definition (indexes behind a constraint are the constraint's). */
  indexes: Record<string, { table: string; definition: string }>;
  /** `table.constraint` → its definition (primary keys, uniques, foreign keys, checks, exclusions). */
  constraints: Record<string, string>;
  /** Enum name → its labels in order. */
  enums: Record<string, string[]>;
  sequences: Record<string, true>;
  views: Record<string, string>;
}

/** "users" for public.users, "audit.events" elsewhere. */
function qualified(schema: string, name: string): string {
  return schema === "public" ? name : `${schema}.${name}`;
}

/** Reads the schema of the database at `url` from its catalogs. */
export async function introspect(url: string): Promise<SchemaSnapshot> {
  const db = createDb(url);
  const sql = db.$client;
  // Every query leaves out Postgres's own schemas, and drizzle's (its migrations table changes
  // with every migration).
  try {
    const [relations, columns, indexes, constraints, enums] = await Promise.all([
      sql<{ schema: string; name: string; kind: string; definition: string | null }[]>`
        select n.nspname as schema, c.relname as name, c.relkind as kind,
               case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid) end as definition
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'v', 'm', 'S') and n.nspname not in ('pg_catalog', 'information_schema', 'drizzle') and n.nspname !~ '^pg_'`,
      sql<
        {
          schema: string;
          table: string;
          name: string;
          type: string;
          not_null: boolean;
          default: string | null;
        }[]
      >`
        select n.nspname as schema, c.relname as table, a.attname as name,
               format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null,
               pg_get_expr(d.adbin, d.adrelid) as default
        from pg_attribute a
        join pg_class c on c.oid = a.attrelid
        join pg_namespace n on n.oid = c.relnamespace
        left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
          and n.nspname not in ('pg_catalog', 'information_schema', 'drizzle') and n.nspname !~ '^pg_'`,
      sql<{ schema: string; table: string; name: string; definition: string }[]>`
        select n.nspname as schema, t.relname as table, ci.relname as name,
               pg_get_indexdef(i.indexrelid) as definition
        from pg_index i
        join pg_class ci on ci.oid = i.indexrelid
        join pg_class t on t.oid = i.indrelid
        join pg_namespace n on n.oid = ci.relnamespace
        where n.nspname not in ('pg_catalog', 'information_schema', 'drizzle') and n.nspname !~ '^pg_'
          and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid
                          and k.contype in ('p', 'u', 'x'))`,
      sql<{ schema: string; table: string; name: string; definition: string }[]>`
        select n.nspname as schema, t.relname as table, k.conname as name,
               pg_get_constraintdef(k.oid) as definition
        from pg_constraint k
        join pg_class t on t.oid = k.conrelid
        join pg_namespace n on n.oid = t.relnamespace
        where k.contype in ('p', 'u', 'f', 'c', 'x') and n.nspname not in ('pg_catalog', 'information_schema', 'drizzle') and n.nspname !~ '^pg_'`,
      // As JSON text: the connection skips fetching array types (createDb's fetch_types: false).
      sql<{ schema: string; name: string; labels: string }[]>`
        select n.nspname as schema, t.typname as name,
               json_agg(e.enumlabel order by e.enumsortorder)::text as labels
        from pg_type t
        join pg_enum e on e.enumtypid = t.oid
        join pg_namespace n on n.oid = t.typnamespace
        where n.nspname not in ('pg_catalog', 'information_schema', 'drizzle') and n.nspname !~ '^pg_'
        group by n.nspname, t.typname`,
    ]);
    const snapshot: SchemaSnapshot = {
      tables: {},
      columns: {},
      indexes: {},
      constraints: {},
      enums: {},
      sequences: {},
      views: {},
    };
    for (const r of relations) {
      const name = qualified(r.schema, r.name);
      if (r.kind === "S") snapshot.sequences[name] = true;
      else if (r.kind === "v" || r.kind === "m") snapshot.views[name] = oneLine(r.definition ?? "");
      else snapshot.tables[name] = true;
    }
    for (const c of columns) {
      snapshot.columns[`${qualified(c.schema, c.table)}.${c.name}`] = {
        type: c.type,
        notNull: c.not_null,
        default: c.default,
      };
    }
    for (const i of indexes) {
      snapshot.indexes[qualified(i.schema, i.name)] = {
        table: qualified(i.schema, i.table),
        definition: i.definition,
      };
    }
    for (const k of constraints) {
      snapshot.constraints[`${qualified(k.schema, k.table)}.${k.name}`] = k.definition;
    }
    for (const e of enums) {
      snapshot.enums[qualified(e.schema, e.name)] = JSON.parse(e.labels) as string[];
    }
    return snapshot;
  } finally {
    await closeDb(db);
  }
}

/** "text NOT NULL DEFAULT ''", "integer NULL". */
export function describeColumn(column: ColumnInfo): string {
  return `${column.type} ${column.notNull ? "NOT NULL" : "NULL"}${column.default === null ? "" : ` DEFAULT ${column.default}`}`;
}

/** Whether values of `before` always fit `after` unchanged (a widening, not a narrowing). */
export function widens(before: string, after: string): boolean {
  if (before === after) return true;
  const order = ["smallint", "integer", "bigint"];
  if (order.includes(before) && order.includes(after))
    return order.indexOf(after) >= order.indexOf(before);
  if (before === "real" && after === "double precision") return true;
  const text = /^(character varying|character)(?:\((\d+)\))?$/;
  const from = text.exec(before);
  if (from) {
    if (after === "text") return true;
    const to = /^character varying(?:\((\d+)\))?$/.exec(after);
    if (!to) return false;
    if (to[1] === undefined) return true;
    return from[2] !== undefined && Number(to[1]) >= Number(from[2]);
  }
  const numeric = /^numeric(?:\((\d+),(\d+)\))?$/;
  const a = numeric.exec(before);
  const b = numeric.exec(after);
  if (a && b) {
    if (b[1] === undefined) return true;
    if (a[1] === undefined) return false;
    return Number(b[2]) === Number(a[2]) && Number(b[1]) >= Number(a[1]);
  }
  return false;
}

/** What changed from `before` (main) to `after` (the migrated copy), in a stable order. */
export function diffSchemas(before: SchemaSnapshot, after: SchemaSnapshot): SchemaChange[] {
  const changes: SchemaChange[] = [];
  const tablesAdded = new Set(keysOnlyIn(after.tables, before.tables));
  const tablesRemoved = new Set(keysOnlyIn(before.tables, after.tables));
  // A column, index or constraint of a table added or removed as a whole is part of that change.
  const ofWholeTable = (name: string) => tablesAdded.has(name) || tablesRemoved.has(name);
  const tableOf = (name: string) => name.slice(0, name.lastIndexOf("."));

  for (const name of tablesRemoved) {
    const columns = Object.keys(before.columns).filter((c) => tableOf(c) === name).length;
    changes.push({
      change: "removed",
      kind: "table",
      name,
      before: `${columns} columns`,
      destructive: true,
    });
  }
  for (const name of tablesAdded) {
    const columns = Object.keys(after.columns).filter((c) => tableOf(c) === name).length;
    changes.push({
      change: "added",
      kind: "table",
      name,
      after: `${columns} columns`,
      destructive: false,
    });
  }

  for (const name of union(before.columns, after.columns)) {
    if (ofWholeTable(tableOf(name))) continue;
    const was = before.columns[name];
    const now = after.columns[name];
    if (was && !now) {
      changes.push({
        change: "removed",
        kind: "column",
        name,
        before: describeColumn(was),
        destructive: true,
      });
    } else if (!was && now) {
      // Old code inserting rows does not know the column: NOT NULL without a default breaks it.
      changes.push({
        change: "added",
        kind: "column",
        name,
        after: describeColumn(now),
        destructive: now.notNull && now.default === null,
      });
    } else if (was && now && describeColumn(was) !== describeColumn(now)) {
      const narrowed = !widens(was.type, now.type) || (!was.notNull && now.notNull);
      changes.push({
        change: "changed",
        kind: "column",
        name,
        before: describeColumn(was),
        after: describeColumn(now),
        destructive: narrowed,
      });
    }
  }

  for (const name of union(before.indexes, after.indexes)) {
    const was = before.indexes[name];
    const now = after.indexes[name];
    const table = was?.table ?? now?.table;
    if (table !== undefined && ofWholeTable(table)) continue;
    pushPlain(changes, "index", name, was?.definition, now?.definition);
  }
  for (const name of union(before.constraints, after.constraints)) {
    if (ofWholeTable(tableOf(name))) continue;
    pushPlain(changes, "constraint", name, before.constraints[name], after.constraints[name]);
  }
  for (const name of union(before.enums, after.enums)) {
    const was = before.enums[name];
    const now = after.enums[name];
    if (was && now && was.join(",") === now.join(",")) continue;
    // A removed label (or enum) leaves rows holding it nowhere to go.
    const lost = was ? was.some((label) => !now?.includes(label)) : false;
    changes.push({
      change: !was ? "added" : !now ? "removed" : "changed",
      kind: "enum",
      name,
      ...(was ? { before: was.join(", ") } : {}),
      ...(now ? { after: now.join(", ") } : {}),
      destructive: lost,
    });
  }
  for (const name of union(before.sequences, after.sequences)) {
    pushPlain(
      changes,
      "sequence",
      name,
      before.sequences[name] && "sequence",
      after.sequences[name] && "sequence",
    );
  }
  for (const name of union(before.views, after.views)) {
    pushPlain(changes, "view", name, before.views[name], after.views[name]);
  }
  return changes;
}

function pushPlain(
  changes: SchemaChange[],
  kind: SchemaChange["kind"],
  name: string,
  was: string | undefined,
  now: string | undefined,
): void {
  if (was === now) return;
  changes.push({
    change: was === undefined ? "added" : now === undefined ? "removed" : "changed",
    kind,
    name,
    ...(was !== undefined && kind !== "sequence" ? { before: was } : {}),
    ...(now !== undefined && kind !== "sequence" ? { after: now } : {}),
    destructive: false,
  });
}

function keysOnlyIn(a: object, b: object): string[] {
  return Object.keys(a)
    .filter((k) => !(k in b))
    .sort();
}

function union(a: object, b: object): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
