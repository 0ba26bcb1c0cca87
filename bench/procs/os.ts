// What the benchmark reads about processes from /proc (Linux): CPU time and resident memory of a process
// and its children (herald worker --processes N forks).
import { readdirSync, readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100;

function children(pid: number): number[] {
  const found: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const list = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
      if (list) found.push(...list.split(/\s+/).map(Number));
    }
  } catch {
    // gone
  }
  return found;
}

/** The process and every descendant. */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...children(all[i] as number));
  return all;
}

/** User + system CPU time of the process (and its descendants), in ms. */
export function cpuMs(pid: number, tree = true): number {
  let ticks = 0;
  for (const p of tree ? processTree(pid) : [pid]) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/** Resident memory of the process (and its descendants), in MB. */
export function rssMb(pid: number, tree = true): number {
  let kb = 0;
  for (const p of tree ? processTree(pid) : [pid]) {
    try {
      const match = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"));
      kb += Number(match?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return Math.round(kb / 102.4) / 10;
}
