import { describe, expect, it } from "vitest";
import { limitHeapGrowth } from "../../src/cli/heap.js";
import { loadConfig } from "../../src/config/index.js";

describe("the heap growth limit of the long-running commands", () => {
  it("is 20 % by default, 0 turns it off, and a value out of range stops start-up naming the variable", () => {
    expect(loadConfig({ HERALD_DEV: "1" }).HERALD_HEAP_GROWING_PERCENT).toBe(20);
    expect(loadConfig({ HERALD_DEV: "1", HERALD_HEAP_GROWING_PERCENT: "0" }).HERALD_HEAP_GROWING_PERCENT).toBe(0);
    expect(() => loadConfig({ HERALD_DEV: "1", HERALD_HEAP_GROWING_PERCENT: "-5" })).toThrow(/HERALD_HEAP_GROWING_PERCENT/);
  });

  it("is set unless it is 0 or the process was started with its own --heap-growing-percent", () => {
    expect(limitHeapGrowth(20, [])).toBe(20);
    expect(limitHeapGrowth(0, [])).toBeUndefined();
    expect(limitHeapGrowth(20, ["--heap-growing-percent=50"])).toBeUndefined();
    expect(limitHeapGrowth(20, ["--enable-source-maps", "--heap-growing-percent=30"])).toBeUndefined();
    expect(limitHeapGrowth(20, ["--heap_growing_percent=40"])).toBeUndefined();
    expect(limitHeapGrowth(35, ["--max-old-space-size=256"])).toBe(35);
  });
});
