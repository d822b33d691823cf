/**
 * visual: what the visual diff against production adds to `preview-deploy --pr 1 --e2e` on the
 * local target, beside the e2e run's own time, and how big the summary's visual section is.
 *
 * Method. In a throwaway state folder and port: `production-deploy` (so that there is a baseline),
 * then `preview-deploy --pr 1 --e2e --skip-tests` (the whole Playwright suite; `--quick` runs the
 * visual spec alone, `--e2e-spec visual`). From the CLI's own step times:
 *  (e) "e2e against the preview": the suite against the preview, which writes the preview's shots;
 *  (p) "shoot production and compare the pages": the added time (the visual spec against
 *      production, then the diff of every pair);
 *  (r) the same step of the same deploy run again: production has not changed, so its shots
 *      are those (p) kept (visual.ts), and only the diff runs.
 * Then, in this process, the diff alone (d): compareShots over the same folders, timed N times
 * (default 3), min and median; (p) - (d) is the shooting. Sizes: the whole summary.md and its
 * visual section (renderVisualMarkdown), in bytes, and the number of pages and viewports.
 *
 * Usage: node --import tsx bench/visual.ts [--quick] [--runs N] [--verbose] [--keep]
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { compareShots, renderVisualMarkdown, visualFolders, type Summary } from "@codex/pipeline";
import {
  createSandbox,
  flags,
  intFlag,
  machine,
  median,
  min,
  note,
  runBench,
  runCli,
  seconds,
  table,
} from "./lib.ts";

const USAGE = `
usage: node --import tsx bench/visual.ts [--quick] [--runs N] [--verbose] [--keep]
  --quick    the visual spec alone (--e2e-spec visual), one diff run
  --runs N   runs of the diff alone (default 3)
  --verbose  echo the CLI's output to stderr
  --keep     keep the state folder (the host is still stopped)`;

const opts = flags(USAGE, { runs: { type: "string" } });
const runs = opts.quick ? 1 : intFlag(opts.runs, 3, "runs");

runBench(async () => {
  const load = machine();
  const sandbox = await createSandbox("visual");
  note("production-deploy (the baseline)");
  await runCli(sandbox, ["production-deploy"]);
  const args = ["preview-deploy", "--pr", "1", "--e2e", "--skip-tests"];
  if (opts.quick) args.push("--e2e-spec", "visual");
  note(args.join(" "));
  const deploy = await runCli(sandbox, args);
  const step = (name: string) => deploy.steps.find((s) => s.name === name)?.ms ?? Number.NaN;
  const e2e = step("e2e against the preview");
  const added = step("shoot production and compare the pages");
  // The next push: the same deploy again, production unchanged, so its shots are reused.
  note(`${args.join(" ")} (again: production's shots reused)`);
  const again = await runCli(sandbox, args);
  const reused =
    again.steps.find((s) => s.name === "shoot production and compare the pages")?.ms ?? Number.NaN;

  const envDir = join(sandbox.dir, "envs", "preview-1");
  const summary = JSON.parse(await readFile(join(envDir, "summary.json"), "utf8")) as Summary;
  const visual = summary.visual;
  if (!visual) throw new Error("the summary has no visual report: did the visual spec run?");
  const diffs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await compareShots({
      folders: visualFolders(envDir),
      baseline: visual.baseline,
      threshold: visual.threshold,
      relativeTo: envDir,
    });
    diffs.push(performance.now() - started);
  }
  const section = Buffer.byteLength(renderVisualMarkdown(visual));
  const whole = (await stat(join(envDir, "summary.md"))).size;
  const viewports = new Set(visual.pages.map((p) => p.viewport)).size;

  console.log(`visual diff against production (${load})`);
  console.log(
    `${visual.pages.length} page shots (${visual.pages.length / viewports} pages × ${viewports} viewports)`,
  );
  console.log(
    table(
      ["measure", "seconds"],
      [
        [`(e) e2e against the preview${opts.quick ? " (visual spec only)" : ""}`, seconds(e2e)],
        ["(p) added: shoot production and compare", seconds(added)],
        ["(r) added on the next push (production's shots reused)", seconds(reused)],
        [`(d) the diff alone, min of ${runs}`, seconds(min(diffs))],
        [`(d) the diff alone, median of ${runs}`, seconds(median(diffs))],
        ["(p) - (d): shooting production", seconds(added - median(diffs))],
      ],
    ),
  );
  console.log(
    table(
      ["size", "bytes"],
      [
        ["summary.md (the PR comment's text)", String(whole)],
        ["its visual section", String(section)],
      ],
    ),
  );
  await sandbox.dispose();
});
