import { describe, expect, it } from "vitest";
import { FACTORS, isTextRef, KIND_NAMES, kindDefinition, maskEmail, parseJob, ValidationError, type Job } from "../../src/contracts/index.js";

function issuesOf(kind: string, data: unknown): Record<string, string> {
  try {
    parseJob(kind, data);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return Object.fromEntries((error as ValidationError).issues.map((i) => [i.field, i.message]));
  }
  throw new Error("expected a ValidationError");
}

const valid = {
  "resend-initialization": { recipient: { userId: "u", email: "a@example.com" }, code: "C", url: "https://x.test/i" },
  "email-verification": { recipient: { userId: "u", email: "a@example.com" }, code: "C", url: "https://x.test/v" },
  "phone-verification": { recipient: { userId: "u", phone: "+41791234567" }, code: "C" },
  "password-reset": { recipient: { userId: "u", email: "a@example.com" }, code: "C", url: "https://x.test/r" },
  "passkey-link": { recipient: { userId: "u", email: "a@example.com" }, code: "C", codeId: "id", url: "https://x.test/p" },
  "otp-sms": { recipient: { userId: "u", phone: "+41791234567" }, code: "C" },
  "otp-email": { recipient: { userId: "u", email: "a@example.com" }, code: "C" },
  "invite-user": { recipient: { userId: "u", email: "a@example.com" }, inviter: { displayName: "Grace" }, url: "https://x.test/i" },
  "password-changed": { recipient: { userId: "u", email: "a@example.com" } },
  "email-changed": { recipient: { userId: "u", email: "a@example.com" } },
  "mfa-changed": { recipient: { userId: "u", email: "a@example.com" }, factor: "passkey", change: "added" },
} as const;

const CODE_KINDS = KIND_NAMES.filter((k) => !["invite-user", "password-changed", "email-changed", "mfa-changed"].includes(k));
const NOTICE_KINDS = ["password-changed", "email-changed", "mfa-changed"] as const;

describe("job contracts", () => {
  it.each(KIND_NAMES)("%s: a minimal valid job passes", (kind) => {
    expect(() => parseJob(kind, valid[kind])).not.toThrow();
  });

  it.each(CODE_KINDS)("%s: every required field missing is named", (kind) => {
    const issues = issuesOf(kind, {});
    expect(issues).toHaveProperty("recipient", "is required");
    expect(issues).toHaveProperty("code", "is required");
  });

  it.each(NOTICE_KINDS)("%s: a security notice has no code and no expiry, and says so by name", (kind) => {
    const issues = issuesOf(kind, { ...valid[kind], code: "123456", expiresAt: "2030-01-01T00:00:00Z" });
    expect(issues).toEqual({ "code, expiresAt": "are not allowed" });
    expect(kindDefinition(kind).showsCode).toBe(false);
  });

  it.each(NOTICE_KINDS)("%s: occurredAt is kept as given, defaults to the time of validation, and must be an ISO time", (kind) => {
    expect((parseJob(kind, { ...valid[kind], occurredAt: "2030-01-31T11:58:00+01:00" }) as Job<typeof kind>).occurredAt).toBe("2030-01-31T11:58:00+01:00");
    const before = Date.now();
    const stamped = Date.parse((parseJob(kind, valid[kind]) as Job<typeof kind>).occurredAt);
    expect(stamped).toBeGreaterThanOrEqual(before - 1);
    expect(stamped).toBeLessThanOrEqual(Date.now() + 1);
    expect(issuesOf(kind, { ...valid[kind], occurredAt: "yesterday" }).occurredAt).toMatch(/ISO 8601/);
  });

  it.each(NOTICE_KINDS)("%s: the link is optional, and a template cannot ask for a code the notice does not have", (kind) => {
    expect(() => parseJob(kind, { ...valid[kind], urlTemplate: "https://x.test/secure?u={{userId}}&org={{tenantId}}" })).not.toThrow();
    expect(issuesOf(kind, { ...valid[kind], urlTemplate: "https://x.test/secure?c={{code}}" })).toHaveProperty(
      "urlTemplate",
      "uses {{code}} but the job has no code",
    );
    expect(issuesOf(kind, { ...valid[kind], recipient: { userId: "u", phone: "+41791234567" } })).toHaveProperty(
      ["recipient.email"],
      "is required for an email",
    );
  });

  it("invite-user needs the inviter's name and a link; its code is optional and may go into the link", () => {
    const { inviter: _, url: __, ...bare } = valid["invite-user"];
    expect(issuesOf("invite-user", bare)).toEqual({ inviter: "is required", url: "is required (or give urlTemplate)" });
    expect(issuesOf("invite-user", { ...valid["invite-user"], inviter: { displayName: " " } })).toHaveProperty(["inviter.displayName"], "must not be empty");
    expect(issuesOf("invite-user", { ...valid["invite-user"], inviter: { displayName: "G", email: "g@x.test" } })).toHaveProperty(
      ["inviter.email"],
      "is not allowed",
    );
    const { url: ___, ...noUrl } = valid["invite-user"];
    expect(issuesOf("invite-user", { ...noUrl, urlTemplate: "https://x.test/i?c={{code}}" })).toHaveProperty(
      "urlTemplate",
      "uses {{code}} but the job has no code",
    );
    expect(() => parseJob("invite-user", { ...noUrl, code: "INV1", urlTemplate: "https://x.test/i?c={{code}}" })).not.toThrow();
    expect(kindDefinition("invite-user").showsCode).toBe(false);
  });

  it("otp-email: the code is required, the link optional; otp-sms needs a phone", () => {
    expect(() => parseJob("otp-email", { ...valid["otp-email"], url: "https://x.test/login" })).not.toThrow();
    expect(issuesOf("otp-sms", { ...valid["otp-sms"], recipient: { userId: "u", email: "a@example.com" } })).toHaveProperty(
      ["recipient.phone"],
      "is required for an SMS",
    );
  });

  it("mfa-changed names the factor and the change from fixed lists; each factor has a text of its own", () => {
    const issues = issuesOf("mfa-changed", { ...valid["mfa-changed"], factor: "sms", change: "toggled" });
    expect(issues.factor).toBe('must be one of "otp-app", "otp-sms", "otp-email", "passkey", "u2f"');
    expect(issues.change).toBe('must be "added" or "removed"');
    expect(issuesOf("mfa-changed", { recipient: valid["mfa-changed"].recipient })).toEqual({ factor: "is required", change: "is required" });
    const definition = kindDefinition("mfa-changed");
    for (const factor of Object.keys(FACTORS)) {
      const vars = definition.textVars!(parseJob("mfa-changed", { ...valid["mfa-changed"], factor, change: "removed" }));
      expect(vars.added, factor).toBe(false);
      expect(isTextRef(vars.factor), factor).toBe(true);
      expect(definition.textKeys, factor).toContain((vars.factor as { textKey: string }).textKey);
    }
  });

  it("email-changed: the new address is validated and shown masked", () => {
    expect(issuesOf("email-changed", { ...valid["email-changed"], newEmail: "nope" })).toHaveProperty("newEmail", "must be a valid email address");
    const job = parseJob("email-changed", { ...valid["email-changed"], newEmail: "ada.lovelace@example.org" });
    expect(kindDefinition("email-changed").textVars!(job)).toEqual({ newEmail: "a***@example.org" });
    expect(kindDefinition("email-changed").textVars!(parseJob("email-changed", valid["email-changed"]))).toEqual({ newEmail: undefined });
    expect(maskEmail("é@x.test")).toBe("é***@x.test");
  });

  it.each(KIND_NAMES)("%s: recipient.userId is required", (kind) => {
    const job = structuredClone(valid[kind]) as { recipient: Record<string, unknown> };
    delete job.recipient.userId;
    expect(issuesOf(kind, job)).toHaveProperty(["recipient.userId"], "is required");
  });

  it("email kinds need a valid email, SMS needs an E.164 number", () => {
    expect(issuesOf("email-verification", { ...valid["email-verification"], recipient: { userId: "u" } })).toHaveProperty(
      ["recipient.email"],
      "is required for an email",
    );
    expect(issuesOf("email-verification", { ...valid["email-verification"], recipient: { userId: "u", email: "not-an-address" } })).toHaveProperty(
      ["recipient.email"],
      "must be a valid email address",
    );
    expect(issuesOf("phone-verification", { ...valid["phone-verification"], recipient: { userId: "u", phone: "0791234567" } })["recipient.phone"]).toMatch(
      /E\.164/,
    );
    expect(issuesOf("phone-verification", { ...valid["phone-verification"], recipient: { userId: "u", phone: "+999123" } })["recipient.phone"]).toMatch(
      /valid phone number/,
    );
    expect(issuesOf("password-reset", { ...valid["password-reset"], channel: "sms" })).toHaveProperty(["recipient.phone"], "is required for an SMS");
  });

  it("links: one of url or urlTemplate, http(s) only, known placeholders only", () => {
    const { url: _, ...noLink } = valid["password-reset"];
    expect(issuesOf("password-reset", noLink)).toHaveProperty("url", "is required (or give urlTemplate)");
    expect(issuesOf("password-reset", { ...valid["password-reset"], url: "javascript:alert(1)" })).toHaveProperty("url", "must be an http(s) URL");
    expect(issuesOf("password-reset", { ...noLink, urlTemplate: "https://x.test/?c={{code}}&p={{password}}" }).urlTemplate).toMatch(
      /unknown placeholder.*\{\{password\}\}/,
    );
    expect(issuesOf("password-reset", { ...valid["password-reset"], urlTemplate: "https://x.test/{{code}}" })).toHaveProperty(
      "urlTemplate",
      "must not be given together with url",
    );
    // SMS resets carry the code only: no link needed
    expect(() => parseJob("password-reset", { channel: "sms", recipient: { userId: "u", phone: "+41791234567" }, code: "C" })).not.toThrow();
  });

  it("a blank code and a urlTemplate with an unclosed placeholder are refused, the field named (the link would carry no code)", () => {
    const { url: _, ...noLink } = valid["password-reset"];
    for (const code of [" ", "   ", "\t\n"])
      expect(issuesOf("password-reset", { ...valid["password-reset"], code })).toHaveProperty("code", "must not be blank");
    expect(parseJob("password-reset", { ...valid["password-reset"], code: " K7Q-44P " }).code).toBe(" K7Q-44P "); // passed on as given
    for (const urlTemplate of [
      "https://x.test/r?c={{code",
      "https://x.test/r?c={{code}&u={{userId}}",
      "https://x.test/r?c=code}}",
      "https://x.test/r?c={{ }}",
      "https://x.test/r?c={{co de}}",
    ]) {
      expect(issuesOf("password-reset", { ...noLink, urlTemplate }).urlTemplate, urlTemplate).toMatch(/unclosed or malformed placeholder|unknown placeholder/);
    }
    expect(() => parseJob("password-reset", { ...noLink, urlTemplate: "https://x.test/r?c={{ code }}&u={{userId}}" })).not.toThrow();
    // The SDK refuses it before anything reaches Redis, with the field named.
    expect(() => parseJob("password-reset", { ...noLink, urlTemplate: "https://x.test/r?c={{code" })).toThrow(
      /urlTemplate has an unclosed or malformed placeholder/,
    );
  });

  it("rejects unknown fields (typos) by name, bad locale, colour, time and channel", () => {
    const issues = issuesOf("email-verification", {
      ...valid["email-verification"],
      emial: "x",
      recipient: { userId: "u", email: "a@example.com", locale: "not a locale" },
      tenant: { branding: { primaryColor: "red", logoUrl: "ftp://x" } },
      expiresAt: "tomorrow",
    });
    expect(issues).toHaveProperty("emial", "is not allowed");
    expect(issues["recipient.locale"]).toMatch(/BCP 47/);
    expect(issues["tenant.branding.primaryColor"]).toMatch(/hex colour/);
    expect(issues["tenant.branding.logoUrl"]).toMatch(/http/);
    expect(issues.expiresAt).toMatch(/ISO 8601/);
    expect(issuesOf("password-reset", { ...valid["password-reset"], channel: "pigeon" }).channel).toMatch(/"email" or "sms"/);
  });

  it("passkey-link needs codeId; an unknown kind is named", () => {
    const { codeId: _, ...job } = valid["passkey-link"];
    expect(issuesOf("passkey-link", job)).toHaveProperty("codeId", "is required");
    expect(issuesOf("newsletter", {}).kind).toMatch(/unknown/);
  });

  it("refuses text that is not valid Unicode (a lone surrogate cannot go into a link or header)", () => {
    expect(issuesOf("email-verification", { ...valid["email-verification"], code: "ab\ud800" })).toHaveProperty("code", "must be valid Unicode text");
    expect(issuesOf("email-verification", { ...valid["email-verification"], recipient: { userId: "\udfff", email: "a@example.com" } })).toHaveProperty(
      ["recipient.userId"],
      "must be valid Unicode text",
    );
  });

  it("names each problem once, and a job that is not an object just as that", () => {
    const error = (() => {
      try {
        parseJob("email-verification", { ...valid["email-verification"], recipient: { userId: "u", email: "a@example.com", locale: "x y" } });
      } catch (e) {
        return e as ValidationError;
      }
    })();
    expect(error?.issues.filter((i) => i.field === "recipient.locale")).toHaveLength(1);
    expect(Object.keys(issuesOf("email-verification", []))).toEqual([""]);
  });

  it("normalises phone numbers to E.164", () => {
    const job = parseJob("phone-verification", { recipient: { userId: "u", phone: "+41 79 123 45 67" }, code: "1" });
    expect(job.recipient.phone).toBe("+41791234567");
  });
});
