// Types of scripts/dist.mjs (plain JavaScript, so that bin/codex-pipeline.js runs it uncompiled).
export declare const DIST_DIR: string;
export type DistState = { current: true } | { current: false; reason: string };
export declare function distState(outdir?: string): DistState;
export declare function buildDist(options?: {
  packageDir?: string;
  outdir?: string;
  entries?: string[];
}): Promise<{ outdir: string; inputs: number }>;
