import { z } from "zod";
import { parsePhoneNumberFromString } from "libphonenumber-js";

// Error texts name what is wrong in words an operator can act on; the path names the field.
const required = (what: string) => ({
  error: (issue: { input: unknown }) => (issue.input === undefined ? "is required" : `must be ${what}`),
});

// A lone UTF-16 surrogate is valid JSON but cannot be encoded into a link, a header or a message.
const wellFormed = (value: string) => value.isWellFormed();

export const text = (max: number) =>
  z
    .string(required("a string"))
    .trim()
    .min(1, "must not be empty")
    .max(max, `must be at most ${max} characters`)
    .refine(wellFormed, "must be valid Unicode text");

export const emailAddress = z
  .email({ error: (i) => (i.input === undefined ? "is required" : "must be a valid email address") })
  .max(254, "must be at most 254 characters");

/** E.164 only (`+41791234567`): an identity server knows the full number, and guessing a country is how SMS go astray. */
export const phoneNumber = z
  .string(required("a phone number in E.164 form, e.g. +41791234567"))
  .trim()
  .transform((v, ctx) => {
    // Parsed once (validity and the E.164 form from one parse), exactly as isValidPhoneNumber parses: no extracting from text.
    const parsed = v.startsWith("+") ? parsePhoneNumberFromString(v, { extract: false }) : undefined;
    if (parsed?.isValid()) return parsed.number;
    ctx.addIssue({ code: "custom", message: "must be a valid phone number in E.164 form, e.g. +41791234567" });
    return z.NEVER;
  });

/** BCP 47 language tag, e.g. `de-CH`, `en`, `zh-Hant-TW`. */
export const locale = z.string(required("a BCP 47 language tag")).refine(isLocaleTag, "must be a BCP 47 language tag such as de-CH or en");

// The same few tags come with every job; Intl's check is the costly part. Bounded: tags come from producers.
const checkedTags = new Map<string, boolean>();

function isLocaleTag(v: string): boolean {
  const known = checkedTags.get(v);
  if (known !== undefined) return known;
  let valid = false;
  if (/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(v)) {
    try {
      valid = Intl.getCanonicalLocales(v).length === 1;
    } catch {
      valid = false;
    }
  }
  if (checkedTags.size >= 1000) checkedTags.clear();
  checkedTags.set(v, valid);
  return valid;
}

/** Zones already checked (a formatter per check is costly, and every job is parsed twice); bounded like checkedTags. */
const checkedZones = new Map<string, boolean>();

export const timeZone = z.string(required("an IANA time zone")).refine((v) => {
  const known = checkedZones.get(v);
  if (known !== undefined) return known;
  let valid = true;
  try {
    new Intl.DateTimeFormat("en", { timeZone: v });
  } catch {
    valid = false;
  }
  if (checkedZones.size >= 1000) checkedZones.clear();
  checkedZones.set(v, valid);
  return valid;
}, "must be an IANA time zone such as Europe/Zurich");

export const hexColor = z.string(required("a colour")).regex(/^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/, "must be a hex colour such as #0a7cff");

export const httpsUrl = z
  .url({ protocol: /^https?$/, error: (i) => (i.input === undefined ? "is required" : "must be an http(s) URL") })
  .max(2048, "must be at most 2048 characters");

export const isoTime = z.iso.datetime({
  offset: true,
  error: (i) => (i.input === undefined ? "is required" : "must be an ISO 8601 time with zone, e.g. 2026-01-31T12:00:00Z"),
});

// Not trimmed (a secret is passed on exactly as given), but a code of spaces alone would send a message without one.
export const secretCode = z
  .string(required("a string"))
  .min(1, "must not be empty")
  .max(256, "must be at most 256 characters")
  .refine((v) => v.trim().length > 0, "must not be blank")
  .refine(wellFormed, "must be valid Unicode text");
