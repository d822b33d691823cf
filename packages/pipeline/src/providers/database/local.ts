/**
 * Database branches on the local host's embedded Postgres: one database per environment,
 * created with CREATE DATABASE ... TEMPLATE from a snapshot of main. CREATE DATABASE refuses a
 * template that has sessions, so the snapshot (`main_tpl`) is a separate database nobody may
 * connect to, refreshed from main on purpose (after production deploys, and on first use).
 * Local branch creation is O(size of main); Neon's is O(1).
 */
import postgres from "postgres";
import { embeddedUrl } from "@codex/database/embedded";
import { migrate } from "@codex/database/migrate";
import { seed } from "@codex/database/seed";
import { databaseName, environmentFromDatabase, type Environment } from "../../core/environments";
import { PipelineError } from "../../errors";
import type { Branch, BranchInfo, DatabaseBranches } from "./shared";

const MAIN = "main";
const TEMPLATE = "main_tpl";
const SCRATCH_PREFIX = "scratch_";

/** Serializes changes to main and its snapshot across concurrent runs (see withLock). */
export type MainLock = <T>(fn: () => Promise<T>) => Promise<T>;

export class LocalDatabaseBranches implements DatabaseBranches {
  constructor(
    private readonly pgPort: number,
    private readonly lockMain: MainLock = (fn) => fn(),
  ) {}

  private urlOf(database: string): string {
    return embeddedUrl(this.pgPort, database);
  }

  private async admin<T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
    const sql = postgres(this.urlOf("postgres"), {
      max: 1,
      onnotice: () => {},
      connect_timeout: 10,
    });
    try {
      return await fn(sql);
    } catch (error) {
      if (error instanceof PipelineError) throw error;
      throw new PipelineError("DATABASE_FAILED", `local Postgres: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      await sql.end({ timeout: 5 });
    }
  }

  private exists(sql: postgres.Sql, name: string): Promise<boolean> {
    return sql`select 1 from pg_database where datname = ${name}`.then((rows) => rows.length > 0);
  }

  ensureMain(): Promise<{ url: string; directUrl: string; created: boolean }> {
    return this.lockMain(() => this.ensureMainUnlocked());
  }

  private async ensureMainUnlocked(): Promise<{
    url: string;
    directUrl: string;
    created: boolean;
  }> {
    const created = await this.admin(async (sql) => {
      if (await this.exists(sql, MAIN)) return false;
      await sql.unsafe(`create database "${MAIN}"`);
      return true;
    });
    const url = this.urlOf(MAIN);
    if (created) {
      await migrate(url);
      await seed(url);
    }
    if (created || !(await this.admin((sql) => this.exists(sql, TEMPLATE)))) {
      await this.refreshUnlocked();
    }
    // No pooler locally: the Workers and migrations share one URL.
    return { url, directUrl: url, created };
  }

  refreshFromMain(): Promise<void> {
    return this.lockMain(() => this.refreshUnlocked());
  }

  private async refreshUnlocked(): Promise<void> {
    await this.admin(async (sql) => {
      if (await this.exists(sql, TEMPLATE)) {
        await sql.unsafe(
          `alter database "${TEMPLATE}" with is_template false allow_connections true`,
        );
        await sql.unsafe(`drop database "${TEMPLATE}" with (force)`);
      }
      // Copying main needs a moment without sessions on it; production's Workers open them per
      // request, so retry briefly rather than cut them off.
      const deadline = Date.now() + 15_000;
      for (;;) {
        try {
          await sql.unsafe(`create database "${TEMPLATE}" template "${MAIN}" strategy file_copy`);
          break;
        } catch (error) {
          if ((error as { code?: string }).code !== "55006" || Date.now() > deadline) throw error;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      await sql.unsafe(
        `alter database "${TEMPLATE}" with is_template true allow_connections false`,
      );
    });
  }

  async ensure(environment: Environment, options: { reset?: boolean } = {}): Promise<Branch> {
    const name = databaseName(environment);
    if (name === MAIN) {
      const main = await this.ensureMain();
      return { name, environment: environment.name, ...main };
    }
    // Under the main lock: the snapshot it copies may be being refreshed.
    const created = await this.lockMain(() =>
      this.admin(async (sql) => {
        const exists = await this.exists(sql, name);
        if (exists && !options.reset) return false;
        if (exists) await sql.unsafe(`drop database "${name}" with (force)`);
        await sql.unsafe(`create database "${name}" template "${TEMPLATE}" strategy file_copy`);
        return true;
      }),
    );
    const url = this.urlOf(name);
    return { name, environment: environment.name, url, directUrl: url, created };
  }

  async url(environment: Environment): Promise<string> {
    return this.urlOf(databaseName(environment));
  }

  async list(): Promise<BranchInfo[]> {
    return this.admin(async (sql) => {
      const rows = await sql<{ datname: string }[]>`
        select datname from pg_database where datname ~ '^(pr_[0-9]+|staging)$' order by datname`;
      return rows.flatMap(({ datname }) => {
        const environment = environmentFromDatabase(datname)?.name;
        return environment ? [{ name: datname, environment }] : [];
      });
    });
  }

  async delete(environment: Environment): Promise<boolean> {
    const name = databaseName(environment);
    if (name === MAIN) throw new PipelineError("INVALID_ENVIRONMENT", "refusing to delete main");
    return this.admin(async (sql) => {
      if (!(await this.exists(sql, name))) return false;
      await sql.unsafe(`drop database "${name}" with (force)`);
      return true;
    });
  }

  async scratch(label: string): Promise<{ url: string; drop(): Promise<void> }> {
    const name =
      `${SCRATCH_PREFIX}${label.replace(/[^a-z0-9_]/g, "_")}_${Date.now().toString(36)}`.slice(
        0,
        63,
      );
    await this.admin(async (sql) => {
      // A fresh copy of main as it is now, not the (possibly older) template.
      const deadline = Date.now() + 15_000;
      for (;;) {
        try {
          await sql.unsafe(`create database "${name}" template "${MAIN}" strategy file_copy`);
          return;
        } catch (error) {
          if ((error as { code?: string }).code !== "55006" || Date.now() > deadline) throw error;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    });
    return {
      url: this.urlOf(name),
      drop: () =>
        this.admin((sql) => sql.unsafe(`drop database if exists "${name}" with (force)`)).then(
          () => {},
        ),
    };
  }
}
