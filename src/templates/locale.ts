/** `de-CH` → [`de-CH`, `de`, `en`]: the most specific locale Herald has texts for wins, English last. */
export function localeChain(requested: string | undefined, fallback = "en"): string[] {
  const chain: string[] = [];
  if (requested) {
    try {
      const parts = Intl.getCanonicalLocales(requested)[0]?.split("-") ?? [];
      for (let i = parts.length; i > 0; i--) chain.push(parts.slice(0, i).join("-"));
    } catch {
      // An invalid tag was rejected by the contract already; here it just means "no preference".
    }
  }
  if (!chain.includes(fallback)) chain.push(fallback);
  return chain;
}

// Per job the same few tags come again and again; Intl's look-ups (canonicalising, maximising) cost more than
// the rest of choosing. Remembered per available set, tag and fallback; bounded, since tags come from jobs.
const picked = new WeakMap<ReadonlySet<string>, Map<string, string>>();
const PICKED_MAX = 1000;

export function pickLocale(requested: string | undefined, available: ReadonlySet<string>, fallback = "en"): string {
  let cache = picked.get(available);
  if (!cache) {
    cache = new Map();
    picked.set(available, cache);
  }
  const key = `${requested ?? ""}|${fallback}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const locale = pickUncached(requested, available, fallback);
  if (cache.size >= PICKED_MAX) cache.clear();
  cache.set(key, locale);
  return locale;
}

function pickUncached(requested: string | undefined, available: ReadonlySet<string>, fallback: string): string {
  // `zh` texts are Simplified: a reader of Traditional Chinese (zh-TW, zh-HK, zh-Hant) gets zh-Hant or English, not them.
  const skip = requested && isTraditionalChinese(requested) ? "zh" : undefined;
  return localeChain(requested, fallback).find((l) => l !== skip && available.has(l)) ?? fallback;
}

function isTraditionalChinese(tag: string): boolean {
  try {
    const locale = new Intl.Locale(tag).maximize();
    return locale.language === "zh" && locale.script === "Hant";
  } catch {
    return false;
  }
}

const RTL = new Set(["ar", "he", "fa", "ur", "ps", "sd", "ug", "yi", "dv"]);

export function directionOf(locale: string): "ltr" | "rtl" {
  return RTL.has(locale.split("-")[0] ?? "") ? "rtl" : "ltr";
}

const unitFormats = new Map<string, Intl.NumberFormat>();

function unitFormat(locale: string, unit: "minute" | "hour" | "day"): Intl.NumberFormat {
  const key = `${locale}|${unit}`;
  let format = unitFormats.get(key);
  if (!format) {
    format = new Intl.NumberFormat(locale, { style: "unit", unit, unitDisplay: "long" });
    unitFormats.set(key, format);
  }
  return format;
}

/** "1 hour", "15 Minuten", "2 jours": how long a code stays valid, rounded to a unit people read at a glance. */
export function formatValidity(expiresAt: string | undefined, locale: string, now: number): string | undefined {
  if (!expiresAt) return undefined;
  const minutes = Math.max(1, Math.round((Date.parse(expiresAt) - now) / 60_000));
  if (minutes < 120 && minutes % 60 !== 0) return unitFormat(locale, "minute").format(minutes);
  const hours = Math.round(minutes / 60);
  if (hours < 48) return unitFormat(locale, "hour").format(hours);
  return unitFormat(locale, "day").format(Math.round(hours / 24));
}

const timeFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * "March 2, 2026 at 10:00 AM GMT+1", "2. März 2026 um 10:00 MEZ": when something happened, in the
 * recipient's language and time zone (UTC without one), with the zone named so nobody misreads the hour.
 */
export function formatTime(iso: string | undefined, locale: string, timeZone = "UTC"): string | undefined {
  if (!iso) return undefined;
  const key = `${locale}|${timeZone}`;
  let format = timeFormats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(locale, {
      year: "numeric",
      month: "long",
      day: "numeric",
      hour: "numeric",
      minute: "2-digit",
      timeZone,
      timeZoneName: "short",
    });
    timeFormats.set(key, format);
  }
  return format.format(Date.parse(iso));
}
