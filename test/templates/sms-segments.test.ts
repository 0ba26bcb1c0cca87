import { describe, expect, it } from "vitest";
import { smsSegments } from "../../src/templates/sms-segments.js";

const a = (n: number) => "a".repeat(n);
const aAcute = (n: number) => "á".repeat(n); // á is not GSM-7: forces UCS-2, one unit each
const EMOJI = "😀"; // outside the BMP: a surrogate pair, two UTF-16 units

describe("smsSegments: GSM-7", () => {
  it("fits 160 plain characters in one segment and splits 161 as 153 + 8", () => {
    expect(smsSegments(a(160))).toEqual({ encoding: "GSM-7", units: 160, segments: 1 });
    expect(smsSegments(a(161))).toEqual({ encoding: "GSM-7", units: 161, segments: 2 });
  });

  it("counts every extension-table character as two septets", () => {
    for (const c of ["^", "{", "}", "\\", "[", "~", "]", "|", "€", "\f"]) {
      expect(smsSegments(c), JSON.stringify(c)).toEqual({ encoding: "GSM-7", units: 2, segments: 1 });
    }
    expect(smsSegments(a(80).replace(/a/g, "€")).segments).toBe(1); // 160 septets
  });

  it("lets one € push a 159-character text into a second segment", () => {
    expect(smsSegments(a(159) + "a")).toMatchObject({ units: 160, segments: 1 });
    expect(smsSegments(a(159) + "€")).toEqual({ encoding: "GSM-7", units: 161, segments: 2 });
  });

  it("keeps the basic table's accented letters, and Ç but not ç, in GSM-7", () => {
    expect(smsSegments("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà\n\r").encoding).toBe("GSM-7");
    for (const c of ["ç", "á", "í", "ó", "ú", "ê", "ã", "õ", "ą", "ł", "È", "\u00a0", "’", "`"]) {
      expect(smsSegments(`a${c}a`).encoding, JSON.stringify(c)).toBe("UCS-2");
    }
  });

  it("splits multipart messages at 153 septets", () => {
    expect(smsSegments(a(306))).toMatchObject({ encoding: "GSM-7", segments: 2 });
    expect(smsSegments(a(307))).toMatchObject({ encoding: "GSM-7", segments: 3 });
  });

  it("never splits an escape pair across segments", () => {
    // 152 + 2 + 152 = 306 septets would fill two segments exactly, but the € would straddle the first boundary,
    // so it moves whole into segment two, which then overflows into a third.
    expect(smsSegments(a(152) + "€" + a(152))).toEqual({ encoding: "GSM-7", units: 306, segments: 3 });
    // Same text with the € one place earlier: fits its pair into segment one, so two segments.
    expect(smsSegments(a(151) + "€" + a(153))).toMatchObject({ units: 306, segments: 2 });
  });
});

describe("smsSegments: UCS-2", () => {
  it("switches the whole message to UCS-2 for one non-GSM character", () => {
    expect(smsSegments(a(100))).toMatchObject({ encoding: "GSM-7", segments: 1 });
    expect(smsSegments(a(100) + "á")).toEqual({ encoding: "UCS-2", units: 101, segments: 2 });
  });

  it("fits 70 units in one segment, not 71", () => {
    expect(smsSegments(aAcute(70))).toEqual({ encoding: "UCS-2", units: 70, segments: 1 });
    expect(smsSegments(aAcute(71))).toEqual({ encoding: "UCS-2", units: 71, segments: 2 });
  });

  it("counts an emoji as two UTF-16 units", () => {
    expect(smsSegments(EMOJI)).toEqual({ encoding: "UCS-2", units: 2, segments: 1 });
    expect(smsSegments(a(68) + EMOJI)).toMatchObject({ units: 70, segments: 1 });
    expect(smsSegments(a(69) + EMOJI)).toMatchObject({ units: 71, segments: 2 });
  });

  it("counts the CJK and Arabic texts as one unit per character", () => {
    expect(smsSegments("验证码")).toEqual({ encoding: "UCS-2", units: 3, segments: 1 });
    expect(smsSegments("رمز")).toEqual({ encoding: "UCS-2", units: 3, segments: 1 });
  });

  it("splits multipart messages at 67 units", () => {
    expect(smsSegments(aAcute(134))).toMatchObject({ encoding: "UCS-2", segments: 2 });
    expect(smsSegments(aAcute(135))).toMatchObject({ encoding: "UCS-2", segments: 3 });
  });

  it("never splits a surrogate pair across segments", () => {
    expect(smsSegments(aAcute(66) + EMOJI + aAcute(66))).toEqual({ encoding: "UCS-2", units: 134, segments: 3 });
    expect(smsSegments(aAcute(65) + EMOJI + aAcute(67))).toMatchObject({ units: 134, segments: 2 });
  });
});
