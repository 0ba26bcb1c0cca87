import { setFlagsFromString } from "node:v8";

/**
 * How far V8 lets the old generation grow past what survived the last full collection before it collects
 * again (`--heap-growing-percent`). V8's own choice grows it up to 4 × when collecting looks cheap, which a
 * worker allocating a 14 KB mail per job turns into 220–265 MB of RSS with a live heap of about 30 MB; at
 * 20 % RSS stays at 143–156 MB at the same throughput (docs/performance.md). Unlike a heap-size cap this cannot
 * run the process out of memory, and unlike the other heap flags V8 reads it at every collection, so it can
 * be set from inside the process. A `--heap-growing-percent` given to node itself wins (Node refuses it in
 * NODE_OPTIONS).
 */
export function limitHeapGrowth(percent: number, nodeFlags = process.execArgv): number | undefined {
  if (percent === 0 || nodeFlags.some((flag) => /heap[-_]growing[-_]percent/.test(flag))) return undefined;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}
