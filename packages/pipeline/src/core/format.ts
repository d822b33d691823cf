/** Formatting shared by the terminal's progress lines and the review's renderings. */

/** "850 ms", "1.2 s", "2 min 5 s", "1 h 3 min"; "–" for a negative or non-finite value. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "–";
  // Rounded before choosing the unit, so 999.7 ms reads "1.0 s" and not "1000 ms".
  if (Math.round(ms) < 1000) return `${Math.round(ms)} ms`;
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A ratio as a percentage that keeps small values readable: 0.001 → "0.1%", 0.00004 → "0.004%". */
export function formatRatio(ratio: number): string {
  const percent = ratio * 100;
  if (percent === 0) return "0%";
  if (percent >= 10) return `${percent.toFixed(0)}%`;
  return `${Number(percent.toPrecision(2))}%`;
}
