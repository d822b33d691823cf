import { redact } from "./redact";

/** Severity of a log line, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Every level, lowest first. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** One structured log line, after redaction. */
export interface LogEntry {
  level: LogLevel;
  message: string;
  /** When the line was written, as an ISO 8601 string. */
  timestamp: string;
  /** Deployment environment, e.g. "production" or "pr-123"; from `env.ENVIRONMENT` in Workers. */
  environment: string;
  /** The Worker or package that wrote the line. */
  service: string;
  /** Correlates every line of one request, across service bindings. */
  requestId?: string;
  durationMs?: number;
  [field: string]: unknown;
}

/** Where log lines go. `write` must not throw; the client guards against it anyway. */
export interface LogSink {
  write(entry: LogEntry): void;
}

/** Options shared by {@link ObservabilityClient} and {@link createObservability}. */
export interface ObservabilityOptions {
  service: string;
  environment: string;
  requestId?: string;
  /** Defaults to a single {@link consoleSink}. */
  sinks?: LogSink[];
  /** Lines below this level are dropped. Defaults to "debug" (nothing dropped). */
  minLevel?: LogLevel;
  /** Fields added to every line; {@link ObservabilityClient.child} fills this. */
  fields?: Record<string, unknown>;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

// Written by the client itself; a caller's field of the same name must not forge them.
const RESERVED_FIELDS = new Set(["level", "message", "timestamp", "environment", "service"]);

/** Whether `value` names a log level (for reading one from configuration). */
export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === "string" && Object.hasOwn(LEVEL_RANK, value);
}

/**
 * Writes structured, redacted log lines to a set of sinks.
 *
 * Every line (message and every field, however deeply nested) passes through `redact` before
 * any sink sees it, so a sink never has to think about secrets. Logging never throws: a failure
 * to build a line or a failing sink loses that line, not the request.
 */
export class ObservabilityClient {
  readonly service: string;
  readonly environment: string;
  readonly requestId: string | undefined;
  readonly #sinks: readonly LogSink[];
  readonly #minLevel: LogLevel;
  readonly #fields: Readonly<Record<string, unknown>>;

  constructor(options: ObservabilityOptions) {
    this.service = options.service;
    this.environment = options.environment;
    this.requestId = options.requestId;
    this.#sinks = options.sinks ?? [consoleSink()];
    this.#minLevel = options.minLevel ?? "debug";
    this.#fields = { ...options.fields };
  }

  /** Writes one line at `level`, unless it is below the client's `minLevel`. */
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void {
    if (LEVEL_RANK[level] < LEVEL_RANK[this.#minLevel]) {
      return;
    }
    let entry: LogEntry;
    try {
      entry = redact(this.#buildEntry(level, message, fields));
    } catch {
      // Only reachable through a throwing getter on `fields`; redact itself never throws.
      return;
    }
    for (const sink of this.#sinks) {
      try {
        sink.write(entry);
      } catch {
        // One broken sink (a full buffer, a misconfigured binding) must not silence the others.
      }
    }
  }

  debug(message: string, fields?: Record<string, unknown>): void {
    this.log("debug", message, fields);
  }

  info(message: string, fields?: Record<string, unknown>): void {
    this.log("info", message, fields);
  }

  warn(message: string, fields?: Record<string, unknown>): void {
    this.log("warn", message, fields);
  }

  error(message: string, fields?: Record<string, unknown>): void {
    this.log("error", message, fields);
  }

  /**
   * Writes the one "request" line of a request: `method`, `path`, `status` and `durationMs`.
   * Level is "error" for a 5xx status and "info" otherwise (a 4xx is the client's mistake).
   *
   * `path` is the pathname only: query strings routinely carry tokens (magic links, OAuth
   * codes, signed URLs).
   */
  trackRequest(
    request: Request,
    response: { status: number },
    durationMs: number,
    fields?: Record<string, unknown>,
  ): void {
    const status = response.status;
    this.log(status >= 500 ? "error" : "info", "request", {
      ...fields,
      method: request.method,
      path: pathOf(request.url),
      status,
      durationMs: Number.isFinite(durationMs) ? Math.max(0, durationMs) : 0,
    });
  }

  /**
   * Writes an "error" line for `error` with `error: { name, message, stack, cause }`, all
   * redacted, a failed query's parameters included (see `redact`). The stack belongs in logs
   * only; never send it to a client.
   */
  trackError(error: unknown, fields?: Record<string, unknown>): void {
    const described = describeError(error);
    this.log("error", described.message || described.name, { ...fields, error: described });
  }

  /** A client that writes to the same sinks with `fields` (and `requestId`) on every line. */
  child(fields: { requestId?: string; [k: string]: unknown }): ObservabilityClient {
    const { requestId, ...rest } = fields;
    return new ObservabilityClient({
      service: this.service,
      environment: this.environment,
      requestId: requestId ?? this.requestId,
      sinks: [...this.#sinks],
      minLevel: this.#minLevel,
      fields: { ...this.#fields, ...rest },
    });
  }

  #buildEntry(level: LogLevel, message: string, fields?: Record<string, unknown>): LogEntry {
    // Reserved fields first, so every JSON line starts the same way and is easy to scan.
    const entry: LogEntry = {
      level,
      message,
      timestamp: new Date().toISOString(),
      environment: this.environment,
      service: this.service,
    };
    if (this.requestId !== undefined) {
      entry.requestId = this.requestId;
    }
    for (const source of [this.#fields, fields ?? {}]) {
      for (const [key, value] of Object.entries(source)) {
        if (!RESERVED_FIELDS.has(key) && !(key === "requestId" && this.requestId !== undefined)) {
          entry[key] = value;
        }
      }
    }
    return entry;
  }
}

/** Creates an {@link ObservabilityClient}. */
export function createObservability(options: ObservabilityOptions): ObservabilityClient {
  return new ObservabilityClient(options);
}

/**
 * Writes each entry as one JSON line: `console.log` for debug and info, `console.warn` for
 * warn, `console.error` for error. In Workers these become Workers Logs / `wrangler tail` lines.
 */
export function consoleSink(): LogSink {
  return {
    write(entry) {
      const line = toJsonLine(entry);
      if (entry.level === "error") {
        console.error(line);
      } else if (entry.level === "warn") {
        console.warn(line);
      } else {
        console.log(line);
      }
    },
  };
}

/**
 * Column layout of the data points {@link analyticsEngineSink} writes, for writing SQL against
 * the dataset: `blobs[i]` is the SQL column `blob${i + 1}`, `doubles[i]` is `double${i + 1}`,
 * `indexes[0]` is `index1`. Columns are positional, so only ever append to these lists.
 */
export const ANALYTICS_ENGINE_COLUMNS = {
  indexes: ["service"],
  blobs: ["level", "service", "environment", "message", "requestId", "path", "method", "errorName"],
  doubles: ["durationMs", "status"],
} as const;

// Analytics Engine rejects an index over 96 bytes, and all blobs of one point together over
// 16 KB; a rejected point is lost, so every blob is cut to a length that keeps the sum under
// the limit whatever the text (8 blobs x 640 UTF-16 units x at most 3 UTF-8 bytes each).
const MAX_INDEX_BYTES = 96;
const MAX_BLOB_CHARS = 640;

/** Options for {@link analyticsEngineSink}. */
export interface AnalyticsEngineSinkOptions {
  /**
   * Lines below this level are not written. Defaults to "info": Analytics Engine accepts at
   * most 250 data points per invocation, and debug lines are not worth spending them on.
   */
  minLevel?: LogLevel;
}

/**
 * Writes each entry as an Analytics Engine data point (see {@link ANALYTICS_ENGINE_COLUMNS}).
 * Never throws: an unbound or failing dataset loses the data point, not the request.
 */
export function analyticsEngineSink(
  dataset: AnalyticsEngineDataset,
  options: AnalyticsEngineSinkOptions = {},
): LogSink {
  const minRank = LEVEL_RANK[options.minLevel ?? "info"];
  return {
    write(entry) {
      if (LEVEL_RANK[entry.level] < minRank) {
        return;
      }
      try {
        const error = entry.error as { name?: unknown } | undefined;
        dataset.writeDataPoint({
          indexes: [truncateUtf8(entry.service, MAX_INDEX_BYTES)],
          blobs: [
            entry.level,
            entry.service,
            entry.environment,
            entry.message,
            entry.requestId,
            entry.path,
            entry.method,
            error?.name,
          ].map(blobField),
          doubles: [numberField(entry.durationMs), numberField(entry.status)],
        });
      } catch {
        // Bindings throw when misconfigured or over their limits; analytics is never worth a 500.
      }
    },
  };
}

/** A sink that keeps entries in memory, for tests (pass it through `sinks`). */
export interface MemorySink extends LogSink {
  readonly entries: LogEntry[];
}

/** Creates a {@link MemorySink}. */
export function memorySink(): MemorySink {
  const entries: LogEntry[] = [];
  return {
    entries,
    write(entry) {
      entries.push(entry);
    },
  };
}

/** Serializes an entry as a single line of JSON. */
export function toJsonLine(entry: LogEntry): string {
  // JSON.stringify throws on a bigint; redact leaves them alone, so they are handled here.
  // Newlines inside strings come out escaped, so the line is always exactly one line.
  return JSON.stringify(entry, (_key, value: unknown) =>
    typeof value === "bigint" ? value.toString() : value,
  );
}

interface DescribedError {
  name: string;
  message: string;
  stack?: string;
  [field: string]: unknown;
}

function describeError(error: unknown): DescribedError {
  if (error instanceof Error || Object.prototype.toString.call(error) === "[object Error]") {
    // redact turns an Error into { name, message, stack, cause, ...ownFields }.
    return redact(error) as unknown as DescribedError;
  }
  if (typeof error === "string") {
    return { name: "NonError", message: error };
  }
  // The value goes into a field, not the message, so redaction still sees its keys.
  return { name: "NonError", message: `non-error value thrown (${typeof error})`, value: error };
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url.split(/[?#]/, 1)[0] ?? "";
  }
}

function blobField(value: unknown): string {
  const text = typeof value === "string" ? value : typeof value === "number" ? String(value) : "";
  return text.slice(0, MAX_BLOB_CHARS);
}

function numberField(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function truncateUtf8(text: string, maxBytes: number): string {
  const encoder = new TextEncoder();
  let result = text;
  while (encoder.encode(result).byteLength > maxBytes) {
    result = result.slice(0, -1);
  }
  return result;
}
