import { ensureStackBuilt } from "./stack";

/** Builds the bundles once per run (skipped when they are newer than every source). */
export default async function setup(): Promise<void> {
  await ensureStackBuilt((line) => console.log(`[web] ${line}`));
}
