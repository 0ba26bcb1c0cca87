import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS } from "../../scripts/preview-images.js";

/**
 * The real browser the board and gallery tests drive. A missing browser must fail those tests (as
 * failed, not skipped: a throw in beforeAll would skip them), so each suite asks `missing` in a test of
 * its own and calls `need()` in the others.
 */
export function browserUnderTest(suite: string) {
  const missing = existsSync(CHROMIUM)
    ? undefined
    : `Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or point HERALD_CHROMIUM at a Chromium binary. The ${suite} tests need a real browser and do not skip.`;
  return {
    missing,
    need(): void {
      if (missing) throw new Error(missing);
    },
    /** Undefined when there is no browser: the tests then fail through `need()`. */
    async launch(): Promise<Browser | undefined> {
      return missing ? undefined : chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    },
  };
}
