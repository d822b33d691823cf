import { vi } from "vitest";

/** What a test sees of everything a Worker logged. */
export interface LogCapture {
  /** One entry per console call and per Analytics Engine data point, as text. */
  readonly lines: string[];
  /** Pass as the Worker's `ANALYTICS` binding: its data points join {@link lines}. */
  readonly dataset: AnalyticsEngineDataset;
  /** Puts the console back. */
  restore(): void;
}

const CONSOLE_METHODS = ["debug", "info", "log", "warn", "error"] as const;

/**
 * Captures every console line (what `wrangler tail`, Workers Logs and the local host's log
 * receive) and every Analytics Engine data point, for tests that look for what must not be
 * logged. Works in Node and in workerd, where a test shares the Worker's console.
 */
export function captureLogs(): LogCapture {
  const lines: string[] = [];
  const spies = CONSOLE_METHODS.map((method) =>
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      lines.push(args.map(asText).join(" "));
    }),
  );
  return {
    lines,
    dataset: {
      writeDataPoint(point) {
        lines.push(asText(point));
      },
    },
    restore() {
      for (const spy of spies) spy.mockRestore();
    },
  };
}

// Errors are written out with their stack and own fields, as a console would show them.
function asText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return `${value.stack ?? value.message} ${JSON.stringify(value)}`;
  return JSON.stringify(value) ?? String(value);
}
