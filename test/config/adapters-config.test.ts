import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { loadHttpConfig } from "../../src/http/index.js";

describe("adapter settings fail closed", () => {
  it("a Supabase secret that is not v1,whsec_<base64> stops start-up naming the variable, without echoing it", () => {
    expect(() => loadHttpConfig({ HERALD_SUPABASE_HOOK_SECRET: "v1,not-a-secret-at-all" })).toThrow(
      /HERALD_SUPABASE_HOOK_SECRET must be the secret Supabase shows/,
    );
    expect(() => loadHttpConfig({ HERALD_SUPABASE_HOOK_SECRET: "v1,not-a-secret-at-all" })).not.toThrow(/not-a-secret-at-all/);
    // Too short a key (whsec_ of 8 bytes), and the second of a rotation named.
    expect(() => loadHttpConfig({ HERALD_SUPABASE_HOOK_SECRET: "v1,whsec_c2hvcnRrZXk=" })).toThrow(/HERALD_SUPABASE_HOOK_SECRET/);
    const good = `v1,whsec_${Buffer.alloc(32, 7).toString("base64")}`;
    expect(() => loadHttpConfig({ HERALD_SUPABASE_HOOK_SECRET: `${good}|v1,oops` })).toThrow(/entry 2/);
    expect(loadHttpConfig({ HERALD_SUPABASE_HOOK_SECRET: `${good}|${good.slice(3)}` }).HERALD_SUPABASE_HOOK_SECRET).toEqual([good.slice(3), good.slice(3)]);
  });

  it("a ZITADEL signing key or Kratos API key shorter than 16 characters stops start-up naming it", () => {
    expect(() => loadHttpConfig({ HERALD_ZITADEL_SIGNING_KEY: "short" })).toThrow(/HERALD_ZITADEL_SIGNING_KEY must be at least 16 characters/);
    expect(() => loadHttpConfig({ HERALD_ZITADEL_SIGNING_KEY: `${"e".repeat(32)},short` })).toThrow(/HERALD_ZITADEL_SIGNING_KEY entry 2/);
    expect(loadHttpConfig({ HERALD_ZITADEL_SIGNING_KEY: ` ${"e".repeat(32)} , ${"s".repeat(32)}` }).HERALD_ZITADEL_SIGNING_KEY).toEqual([
      "e".repeat(32),
      "s".repeat(32),
    ]);
    expect(() => loadHttpConfig({ HERALD_KRATOS_API_KEY: "short" })).toThrow(/HERALD_KRATOS_API_KEY must be at least 16 characters/);
  });

  it("unset or empty: the adapter is off, and the variables are known to the unknown-variable check", () => {
    const config = loadHttpConfig({ HERALD_ZITADEL_SIGNING_KEY: "", HERALD_KRATOS_API_KEY: "" });
    expect(config.HERALD_ZITADEL_SIGNING_KEY).toBeUndefined();
    expect(config.HERALD_KRATOS_API_KEY).toBeUndefined();
    expect(config.HERALD_SUPABASE_HOOK_SECRET).toBeUndefined();
    const full = loadConfig({
      HERALD_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString("base64"),
      HERALD_EMAIL_CHANNEL: "outbox",
      HERALD_SMS_CHANNEL: "outbox",
      HERALD_ZITADEL_SIGNING_KEY: "z".repeat(32),
      HERALD_KRATOS_API_KEY: "k".repeat(32),
      HERALD_ADAPTER_TENANT: "acme",
    });
    expect(full.warnings).toEqual([]);
    expect(full.HERALD_ADAPTER_TENANT).toBe("acme");
  });
});
