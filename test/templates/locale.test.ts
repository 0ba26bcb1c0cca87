import { describe, expect, it } from "vitest";
import { directionOf, formatValidity, localeChain, pickLocale } from "../../src/templates/locale.js";

describe("locale choice", () => {
  const available = new Set(["en", "de", "fr", "zh", "ar"]);
  it("falls back de-CH → de → en", () => {
    expect(localeChain("de-CH")).toEqual(["de-CH", "de", "en"]);
    expect(pickLocale("de-CH", available)).toBe("de");
    expect(pickLocale("sw-KE", available)).toBe("en");
    expect(pickLocale(undefined, available)).toBe("en");
  });
  it("does not give Simplified Chinese to readers of Traditional", () => {
    expect(pickLocale("zh-CN", available)).toBe("zh");
    expect(pickLocale("zh-TW", available)).toBe("en");
    expect(pickLocale("zh-Hant", available)).toBe("en");
    expect(pickLocale("zh-TW", new Set([...available, "zh-Hant"]))).toBe("en"); // zh-TW's chain is zh-TW, zh, en
  });
  it("knows right-to-left scripts", () => {
    expect(directionOf("ar")).toBe("rtl");
    expect(directionOf("de-CH")).toBe("ltr");
  });
  it("formats validity in the recipient's language", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(formatValidity("2026-01-01T13:00:00Z", "en", now)).toBe("1 hour");
    expect(formatValidity("2026-01-01T12:15:00Z", "de", now)).toBe("15 Minuten");
    expect(formatValidity("2026-01-03T12:00:00Z", "en", now)).toBe("2 days");
    expect(formatValidity(undefined, "en", now)).toBeUndefined();
  });
});
