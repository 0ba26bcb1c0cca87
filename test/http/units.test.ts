import { describe, expect, it } from "vitest";
import { ApiAuth, allows, maskDeadLetterForDisplay, maskForDisplay } from "../../src/http/index.js";

describe("ApiAuth", () => {
  const auth = new ApiAuth([
    { scope: "enqueue", token: "enqueue-token-0000000001" },
    { scope: "enqueue", token: "enqueue-token-0000000002" },
    { scope: "admin", token: "admin-token-00000000000001" },
  ]);
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

  it("maps bearer tokens to their scope; anything else to none", () => {
    expect(auth.scopeOfBearer("Bearer enqueue-token-0000000001")).toBe("enqueue");
    expect(auth.scopeOfBearer("bearer   enqueue-token-0000000002")).toBe("enqueue");
    expect(auth.scopeOfBearer("Bearer admin-token-00000000000001")).toBe("admin");
    for (const header of [
      undefined,
      "",
      "Bearer",
      "Bearer ",
      "Bearer enqueue-token-000000000",
      "Bearer enqueue-token-00000000012",
      "Token enqueue-token-0000000001",
      "Bearer a b",
    ]) {
      expect(auth.scopeOfBearer(header), String(header)).toBeUndefined();
    }
  });

  it("admin may do what enqueue may, not the other way round", () => {
    expect(allows("admin", "enqueue")).toBe(true);
    expect(allows("admin", "admin")).toBe(true);
    expect(allows("enqueue", "enqueue")).toBe(true);
    expect(allows("enqueue", "admin")).toBe(false);
  });

  it("Basic: user admin with an admin token, nothing else", () => {
    expect(auth.isAdminBasic(basic("admin", "admin-token-00000000000001"))).toBe(true);
    expect(auth.isAdminBasic(basic("admin", "enqueue-token-0000000001"))).toBe(false);
    expect(auth.isAdminBasic(basic("root", "admin-token-00000000000001"))).toBe(false);
    expect(auth.isAdminBasic(basic("admin", "admin-token-00000000000001:x"))).toBe(false);
    expect(auth.isAdminBasic("Basic !!!")).toBe(false);
    expect(auth.isAdminBasic(undefined)).toBe(false);
  });

  it("open (dev, no tokens) lets everything through as admin", () => {
    const open = new ApiAuth([], true);
    expect(open.scopeOfBearer(undefined)).toBe("admin");
    expect(open.isAdminBasic(undefined)).toBe(true);
  });
});

describe("board masking", () => {
  const envelope = {
    v: 1,
    kind: "password-reset",
    job: {
      recipient: { userId: "u1", email: "ada@example.com", phone: "+41791234567", displayName: "Ada Lovelace", loginName: "ada@example.com", locale: "de-CH" },
      tenant: { id: "acme", name: "Acme <support@acme.test>", branding: { logoUrl: "https://cdn.acme.test/logo.png", primaryColor: "#123456" } },
      channel: "email",
    },
    sealed: "v1.abc.def",
    enqueuedAt: 1,
  };

  it("masks addresses, names, links and sealed secrets; keeps ids, kind, locale and colours", () => {
    const masked = maskForDisplay(envelope) as typeof envelope;
    expect(masked.job.recipient).toEqual({
      userId: "u1",
      email: "[redacted]",
      phone: "[redacted]",
      displayName: "[redacted]",
      loginName: "[redacted]",
      locale: "de-CH",
    });
    expect(masked.sealed).toBe("[redacted]");
    expect(masked.job.tenant).toEqual({ id: "acme", name: "Acme <[email]>", branding: { logoUrl: "[link]", primaryColor: "#123456" } });
    expect(masked.kind).toBe("password-reset");
    expect(JSON.stringify(masked)).not.toMatch(/ada@example|41791234567|Lovelace|acme\.test/);
    expect(envelope.job.recipient.email).toBe("ada@example.com"); // the input is not changed
  });

  it("keeps a delivery result's message id, and a dead letter's error code while masking its nested data", () => {
    expect(maskForDisplay({ provider: "smtp", messageId: "<x@acme.test>", acceptedAt: "2026-01-01T00:00:00Z" })).toEqual({
      provider: "smtp",
      messageId: "<x@acme.test>",
      acceptedAt: "2026-01-01T00:00:00Z",
    });
    const letter = maskDeadLetterForDisplay({
      kind: "password-reset",
      queue: "email",
      originalJobId: "1",
      data: envelope,
      code: "smtp-550",
      reason: "550 <ada@example.com> unknown",
    }) as Record<string, unknown>;
    expect(letter.code).toBe("smtp-550");
    expect(letter.reason).toBe("550 <[email]> unknown");
    expect(JSON.stringify(letter)).not.toMatch(/ada@example|v1\.abc/);
  });
});
