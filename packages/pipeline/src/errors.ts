/**
 * One error type for the whole pipeline. A `user` error is something the person running the
 * command can fix (bad input, a port in use, a missing browser): it is printed without a stack
 * and exits 2. A `system` error is something that broke: it shows its cause and exits 1.
 */
export type ErrorKind = "user" | "system";

export type ErrorCode =
  | "INVALID_PR"
  | "INVALID_ENVIRONMENT"
  | "INVALID_ARGUMENT"
  | "NAME_TOO_LONG"
  | "UNKNOWN_SERVICE"
  | "CONFIG_INVALID"
  | "PORT_IN_USE"
  | "CHROMIUM_MISSING"
  | "LOCKED"
  | "HOST_FAILED"
  | "DATABASE_FAILED"
  | "MIGRATION_FAILED"
  | "LINT_FAILED"
  | "DESTRUCTIVE_CHANGE"
  | "SCHEMA_INCOMPATIBLE"
  | "BUILD_FAILED"
  | "TESTS_FAILED"
  | "SMOKE_FAILED"
  | "NOT_FOUND"
  | "NO_PREVIOUS_VERSION"
  | "CLOUD_FAILED";

export class PipelineError extends Error {
  override name = "PipelineError";
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  /** What to do about it, in one sentence. */
  readonly hint: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { kind?: ErrorKind; hint?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.kind = options.kind ?? "system";
    this.hint = options.hint;
  }

  /** The same error, remembering what caused it. */
  withCause(cause: unknown): this {
    Object.defineProperty(this, "cause", { value: cause, configurable: true, writable: true });
    return this;
  }
}

/** A user error: bad input or a fixable local condition. */
export function userError(code: ErrorCode, message: string, hint?: string): PipelineError {
  return new PipelineError(code, message, { kind: "user", ...(hint ? { hint } : {}) });
}
