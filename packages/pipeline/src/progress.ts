/**
 * Progress for long commands: each step prints its name when it starts and its elapsed time when
 * it ends; a step still running says so every few seconds. Every command ends with a summary.
 */
import { formatDuration } from "./core/format";
import type { StepResult } from "./core/summary";

export interface ProgressOptions {
  write?: (line: string) => void;
  /** How often a running step reports its elapsed time. */
  tickMs?: number;
}

/** The first line of an error's message: what a step's row says about its failure. */
function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split("\n")[0] ?? "").replace(/:$/, "");
}

export class Progress {
  readonly steps: StepResult[] = [];
  private readonly write: (line: string) => void;
  private readonly tickMs: number;
  private readonly started = Date.now();

  constructor(options: ProgressOptions = {}) {
    this.write = options.write ?? ((line) => process.stdout.write(`${line}\n`));
    this.tickMs = options.tickMs ?? 10_000;
  }

  /** Runs one step; its failure is recorded, printed and rethrown. */
  async step<T>(
    name: string,
    fn: () => Promise<T>,
    detail?: (value: T) => string | undefined,
  ): Promise<T> {
    const started = Date.now();
    this.write(`▸ ${name}`);
    const ticker = setInterval(
      () => this.write(`  … ${name} (${formatDuration(Date.now() - started)})`),
      this.tickMs,
    );
    ticker.unref();
    try {
      const value = await fn();
      const durationMs = Date.now() - started;
      const note = detail?.(value);
      this.steps.push({ name, status: "ok", durationMs, ...(note ? { detail: note } : {}) });
      this.write(`  ✓ ${name} (${formatDuration(durationMs)})${note ? ` — ${note}` : ""}`);
      return value;
    } catch (error) {
      const durationMs = Date.now() - started;
      const why = firstLine(error);
      this.steps.push({ name, status: "failed", durationMs, detail: why });
      this.write(`  ✗ ${name} (${formatDuration(durationMs)})${why ? ` — ${why}` : ""}`);
      throw error;
    } finally {
      clearInterval(ticker);
    }
  }

  skip(name: string, why: string): void {
    this.steps.push({ name, status: "skipped", durationMs: 0, detail: why });
    this.write(`▸ ${name}: skipped (${why})`);
  }

  get elapsedMs(): number {
    return Date.now() - this.started;
  }

  line(text = ""): void {
    this.write(text);
  }
}
