import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Files share one Redis but each test uses its own queue prefix; two cores, so two forks.
    pool: "forks",
    maxWorkers: 2,
  },
});
