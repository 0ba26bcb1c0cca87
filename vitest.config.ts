import { defineConfig } from "vitest/config";

// CI cannot read vitest's summary: `.ci/run` asks for a JSON report here and counts from it.
const report = process.env.HERALD_TEST_REPORT;

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Test files share one Redis but every test uses its own queue prefix; two cores, so two forks.
    pool: "forks",
    maxWorkers: 2,
    // Resend limits are on by default and would refuse the suites' repeated sends to one test address;
    // the limit tests turn them on explicitly (test/limits).
    env: { HERALD_LIMITS: "0" },
    reporters: report ? ["default", ["json", { outputFile: report }]] : ["default"],
  },
});
