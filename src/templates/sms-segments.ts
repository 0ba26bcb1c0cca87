/**
 * How many SMS segments a text costs, by the rules carriers bill by (3GPP TS 23.038 / GSM 03.38).
 *
 * A text whose every character is in the GSM 7-bit default alphabet (basic table, or extension table via an
 * escape septet) is sent as GSM-7; one character outside it makes the whole message UCS-2 (UTF-16 in practice).
 */

// The basic table, in code order 0x00–0x7F; 0x1B (escape) is left out, it only introduces the extension table.
// Only the capital Ç is here (0x09): the small ç, and â ê î ô û á í ó ú ã õ ą ł …, are not GSM-7 at all.
const BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" + "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

// Extension table: each is sent as escape + septet, so it costs 2 septets.
const EXTENSION = "\f^{}\\[~]|€";

const GSM_BASIC = new Set(BASIC);
const GSM_EXTENSION = new Set(EXTENSION);

/** One segment alone; a concatenated message loses 7 septets / 3 UCS-2 units per segment to the UDH. */
export const SMS_LIMITS = {
  "GSM-7": { single: 160, multi: 153 },
  "UCS-2": { single: 70, multi: 67 },
} as const;

export interface SmsSegments {
  encoding: "GSM-7" | "UCS-2";
  /** Septets (GSM-7, extension characters count 2) or UTF-16 code units (UCS-2, a surrogate pair counts 2). */
  units: number;
  segments: number;
}

export function smsSegments(text: string): SmsSegments {
  // Iterating by code point keeps a surrogate pair together as one item of cost 2.
  const chars = [...text];
  const gsm = chars.every((c) => GSM_BASIC.has(c) || GSM_EXTENSION.has(c));
  const encoding = gsm ? "GSM-7" : "UCS-2";
  const costs = chars.map((c) => (gsm ? (GSM_EXTENSION.has(c) ? 2 : 1) : c.length));
  const units = costs.reduce((sum, cost) => sum + cost, 0);
  const limit = SMS_LIMITS[encoding];
  if (units <= limit.single) return { encoding, units, segments: 1 };

  // Multipart: fill each segment greedily; an escape pair or a surrogate pair that does not fit whole
  // moves to the next segment (a split one would be garbled on the handset), leaving a unit unused.
  let segments = 1;
  let used = 0;
  for (const cost of costs) {
    if (used + cost > limit.multi) {
      segments++;
      used = 0;
    }
    used += cost;
  }
  return { encoding, units, segments };
}

/** "1 segment, GSM-7, 52 of 160 septets" / "2 segments, UCS-2, 95 UTF-16 units (67 per segment)". */
export function describeSegments(s: SmsSegments): string {
  const unit = s.encoding === "GSM-7" ? "septets" : "UTF-16 units";
  const { single, multi } = SMS_LIMITS[s.encoding];
  return s.segments === 1
    ? `1 segment, ${s.encoding}, ${s.units} of ${single} ${unit}`
    : `${s.segments} segments, ${s.encoding}, ${s.units} ${unit} (${multi} per segment)`;
}
