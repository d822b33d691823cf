/**
 * Finding and stopping processes a dead run left behind. A process killed with SIGKILL cannot
 * take its children with it: the host's workerd and Postgres, or a build's vite, live on as
 * orphans and hold ports and files. We record them and stop them on the next run.
 * Linux only (/proc); elsewhere these are no-ops.
 */
import { readdirSync, readFileSync } from "node:fs";

export interface ProcessRecord {
  pid: number;
  /** The process name when recorded; a different name means the pid was reused. */
  comm: string;
}

function readStat(pid: number): { comm: string; ppid: number; pgrp: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm is in parentheses and may contain spaces; fields after it are space-separated.
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const fields = stat.slice(close + 2).split(" ");
    return { comm, ppid: Number(fields[1]), pgrp: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  try {
    return readdirSync("/proc")
      .filter((d) => /^\d+$/.test(d))
      .map(Number);
  } catch {
    return [];
  }
}

/** The processes still in process group `pgid` (its leader may be long dead). */
export function groupMembers(pgid: number): ProcessRecord[] {
  const members: ProcessRecord[] = [];
  for (const pid of allPids()) {
    const stat = readStat(pid);
    if (stat && stat.pgrp === pgid) members.push({ pid, comm: stat.comm });
  }
  return members;
}

/** Every descendant of `root` (children, their children, ...). */
export function descendants(root: number): ProcessRecord[] {
  let pids: number[];
  try {
    pids = readdirSync("/proc")
      .filter((d) => /^\d+$/.test(d))
      .map(Number);
  } catch {
    return [];
  }
  const parent = new Map<number, { comm: string; ppid: number }>();
  for (const pid of pids) {
    const stat = readStat(pid);
    if (stat) parent.set(pid, stat);
  }
  const found: ProcessRecord[] = [];
  const frontier = [root];
  while (frontier.length) {
    const current = frontier.pop() as number;
    for (const [pid, stat] of parent) {
      if (stat.ppid === current) {
        found.push({ pid, comm: stat.comm });
        frontier.push(pid);
      }
    }
  }
  return found;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kills the recorded processes that still run under the same name. */
export function killRecorded(records: ProcessRecord[], signal: NodeJS.Signals = "SIGKILL"): number {
  let killed = 0;
  for (const record of records) {
    const stat = readStat(record.pid);
    if (!stat || stat.comm !== record.comm) continue;
    try {
      process.kill(record.pid, signal);
      killed++;
    } catch {
      // Gone in the meantime.
    }
  }
  return killed;
}

/** Kills a whole process group (a detached child and everything it started). */
export function killGroup(pgid: number, signal: NodeJS.Signals = "SIGKILL"): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // No such group: nothing left to stop.
  }
}

export async function waitUntilGone(pids: number[], timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!pids.some(isAlive)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !pids.some(isAlive);
}

/** The name of a running process, or undefined when there is none. */
export function processName(pid: number): string | undefined {
  return readStat(pid)?.comm;
}
