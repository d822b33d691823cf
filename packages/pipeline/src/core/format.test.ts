import { describe, expect, it } from "vitest";
import { formatDuration, formatRatio } from "./format";

describe("formatDuration", () => {
  it.each([
    [0, "0 ms"],
    [850, "850 ms"],
    [999.4, "999 ms"],
    [999.6, "1.0 s"],
    [1000, "1.0 s"],
    [1234, "1.2 s"],
    [12_345, "12.3 s"],
    [59_949, "59.9 s"],
    [59_950, "1 min 0 s"],
    [125_000, "2 min 5 s"],
    [3_780_000, "1 h 3 min"],
    [-1, "–"],
    [Number.NaN, "–"],
    [Number.POSITIVE_INFINITY, "–"],
  ])("%s ms reads %s", (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });
});

describe("formatRatio", () => {
  it.each([
    [0, "0%"],
    [0.00004, "0.004%"],
    [0.0321, "3.2%"],
    [0.123, "12%"],
    [1, "100%"],
  ])("%s reads %s", (ratio, expected) => {
    expect(formatRatio(ratio)).toBe(expected);
  });
});
