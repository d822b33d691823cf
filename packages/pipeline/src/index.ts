/**
 * The pipeline's public entry, for code outside this package (the web app's tests, the
 * benchmarks): the build, the per-environment derivation, and the Miniflare options the local
 * target serves an environment with, and the process and host helpers the benchmarks drive the CLI
 * with. The commands are reached through the codex-pipeline CLI.
 */
export {
  BUILD_PATHS,
  buildStack,
  codeHash,
  versionHash,
  webCodeHash,
  type BuildResult,
} from "./build";
export {
  deriveStack,
  loadStack,
  type DerivedStack,
  type WorkerKind,
  type WranglerConfig,
} from "./core/derive";
export { localHostnames, parseEnvironment, PRODUCTION } from "./core/environments";
export { environmentOptions, type EnvironmentInputs } from "./local/miniflare-options";
export { killTracked, run } from "./exec";
export { stopHost } from "./local/host-client";
export { descendants, isAlive } from "./local/processes";
export { REPO_ROOT, statePaths, withLock } from "./state";
export { compareShots, visualFolders } from "./visual";
export { renderVisualMarkdown } from "./providers/review/render";
export type { Summary } from "./core/summary";
