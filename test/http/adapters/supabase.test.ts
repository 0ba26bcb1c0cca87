import { randomBytes, randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { goJson } from "../../fixtures/adapters/go-json.js";
import { sendEmailPayload, sendSmsPayload, verifyUrl, type EmailData, type SupabaseUser } from "../../fixtures/adapters/supabase.js";
import { expectLink, startAdapterRig, type AdapterRig } from "./rig.js";

/** As Supabase shows a hook secret (Authentication → Hooks): `v1,whsec_<base64>`. */
const SECRET = `v1,whsec_${randomBytes(32).toString("base64")}`;

/** Supabase signs with the standard-webhooks library; the test signs with its JS sibling, not Herald's code. */
function signed(body: string, opts: { secret?: string; at?: Date; id?: string } = {}) {
  const id = opts.id ?? randomUUID();
  const at = opts.at ?? new Date();
  const secret = (opts.secret ?? SECRET).replace(/^v1,/, "");
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(id, at, body),
  };
}

let n = 0;
const user = (extra: Partial<SupabaseUser> = {}): SupabaseUser => {
  n++;
  return { id: randomUUID(), email: `supa-${n}@example.com`, phone: `4179123${String(4600 + n)}`, locale: "fr", fullName: "Ada Lovelace", ...extra };
};
const token = () => String(100000 + Math.floor(Math.random() * 899999));
const hash = () => `pkce_${randomBytes(20).toString("hex")}`;

describe("Supabase Auth hooks adapter", () => {
  let rig: AdapterRig;
  beforeAll(async () => {
    rig = await startAdapterRig({ HERALD_SUPABASE_HOOK_SECRET: SECRET });
  });
  afterAll(async () => {
    await rig?.close();
  });

  const post = (hook: "email" | "sms", body: string, headers: Record<string, string>) =>
    rig.h.app.inject({ method: "POST", url: `/v1/adapters/supabase/${hook}`, headers, payload: body });
  const hookCall = async (hook: "email" | "sms", payload: Record<string, unknown>) => {
    const body = goJson(payload);
    const res = await post(hook, body, signed(body));
    expect(res.statusCode, res.body).toBe(200);
    // What Supabase expects: 200, a JSON content type, and no error object.
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.json()).toEqual({});
  };

  const emailCases: { action: string; kind: string; link: boolean; showsCode: boolean; extra?: Partial<EmailData>; vars?: Record<string, unknown> }[] = [
    { action: "signup", kind: "email-verification", link: true, showsCode: true },
    { action: "invite", kind: "invite-user", link: true, showsCode: false },
    { action: "magiclink", kind: "otp-email", link: true, showsCode: true },
    { action: "email", kind: "otp-email", link: true, showsCode: true },
    { action: "recovery", kind: "password-reset", link: true, showsCode: true },
    { action: "reauthentication", kind: "otp-email", link: false, showsCode: true },
    { action: "password_changed_notification", kind: "password-changed", link: false, showsCode: false },
    { action: "mfa_factor_enrolled_notification", kind: "mfa-changed", link: false, showsCode: false, extra: { factor_type: "totp" }, vars: { added: true } },
    {
      action: "mfa_factor_unenrolled_notification",
      kind: "mfa-changed",
      link: false,
      showsCode: false,
      extra: { factor_type: "phone" },
      vars: { added: false },
    },
  ];

  it.each(emailCases)(
    "email_action_type $action → $kind, delivered in the user's language (fr) with code and link",
    async ({ action, kind, link, showsCode, extra, vars }) => {
      const u = user();
      const [code, tokenHash] = [token(), hash()];
      await hookCall("email", sendEmailPayload(u, { email_action_type: action, token: code, token_hash: tokenHash, ...extra }));
      const mail = await rig.mailTo(u.email, kind, "fr", vars);
      if (showsCode) expect(mail.parsed.text).toContain(code);
      if (link) expectLink(mail, verifyUrl(tokenHash, action));
      if (kind === "mfa-changed") expect(mail.parsed.text).toMatch(extra?.factor_type === "totp" ? /authentification/i : /SMS/);
      expect(mail.parsed.text).toContain("Ada Lovelace");
    },
  );

  it("email_changed_notification goes to the old address and names the new one masked", async () => {
    const u = user();
    await hookCall("email", sendEmailPayload(u, { email_action_type: "email_changed_notification", old_email: `old-${u.email}` }));
    const mail = await rig.mailTo(`old-${u.email}`, "email-changed", "fr");
    expect(mail.parsed.text).toContain("s***@example.com");
  });

  it("email_change without secure change: one code and link, to the new address", async () => {
    const u = user({ newEmail: `new-${n}@example.com` });
    const [code, tokenHash] = [token(), hash()];
    await hookCall("email", sendEmailPayload(u, { email_action_type: "email_change", token: code, token_hash: tokenHash }));
    const mail = await rig.mailTo(u.newEmail!, "email-verification", "fr");
    expect(mail.parsed.text).toContain(code);
    expectLink(mail, verifyUrl(tokenHash, "email_change"));
  });

  it("email_change with secure change: both addresses, each with its code and link (Supabase's token/hash pairing)", async () => {
    const u = user({ newEmail: `new-${n}@example.com` });
    const [current, next, hashForNew, hashForCurrent] = [token(), token(), hash(), hash()];
    await hookCall(
      "email",
      sendEmailPayload(u, { email_action_type: "email_change", token: current, token_new: next, token_hash: hashForNew, token_hash_new: hashForCurrent }),
    );
    const [toCurrent, second] = await rig.mailsTo([u.email, u.newEmail!], "email-verification", "fr");
    expect(toCurrent!.parsed.text).toContain(current);
    expectLink(toCurrent!, verifyUrl(hashForCurrent, "email_change"));
    expect(second!.parsed.text).toContain(next);
    expectLink(second!, verifyUrl(hashForNew, "email_change"));
  });

  it("SMS to a confirmed number → otp-sms; to a number not yet confirmed → phone-verification; sms_type mfa → otp-sms", async () => {
    const confirmed = user({ phoneConfirmed: true });
    const code1 = token();
    await hookCall("sms", sendSmsPayload(confirmed, { otp: code1, phone: confirmed.phone }));
    await rig.smsTo(`+${confirmed.phone}`, "otp-sms", "fr", code1);

    const fresh = user();
    const code2 = token();
    await hookCall("sms", sendSmsPayload(fresh, { otp: code2, phone: fresh.phone }));
    await rig.smsTo(`+${fresh.phone}`, "phone-verification", "fr", code2);

    const mfa = user({ phoneConfirmed: true });
    const code3 = token();
    await hookCall("sms", sendSmsPayload(mfa, { otp: code3, phone: `+${mfa.phone}`, sms_type: "mfa" }));
    await rig.smsTo(`+${mfa.phone}`, "otp-sms", "fr", code3);
  });

  it("Supabase's retry of one hook call (new webhook-id, same metadata.uuid) is delivered once", async () => {
    const u = user();
    const payload = sendEmailPayload(u, { email_action_type: "signup", token: token(), token_hash: hash() });
    const body = goJson(payload);
    expect((await post("email", body, signed(body))).statusCode).toBe(200);
    await rig.mailTo(u.email, "email-verification", "fr");
    const jobs = await rig.jobCount();
    expect((await post("email", body, signed(body))).statusCode).toBe(200);
    expect(await rig.jobCount()).toBe(jobs);
    expect(rig.smtp.mails.filter((m) => m.envelope.to.includes(u.email))).toHaveLength(1);
  });

  it("without metadata.uuid, a retry (new webhook-id) is delivered once, and another code to the same user is not taken for it", async () => {
    const u = user();
    const withoutUuid = (data: EmailData) => {
      const payload = sendEmailPayload(u, data);
      delete payload.metadata;
      return goJson(payload);
    };
    const body = withoutUuid({ email_action_type: "magiclink", token: token(), token_hash: hash() });
    expect((await post("email", body, signed(body))).statusCode).toBe(200);
    const jobs = await rig.jobCount();
    expect((await post("email", body, signed(body))).statusCode).toBe(200);
    expect(await rig.jobCount()).toBe(jobs);
    const other = withoutUuid({ email_action_type: "magiclink", token: token(), token_hash: hash() });
    expect((await post("email", other, signed(other))).statusCode).toBe(200);
    expect(await rig.jobCount()).toBe(jobs + 1);

    const phone = `+${u.phone}`;
    const code = token();
    const sms = sendSmsPayload(u, { otp: code, phone });
    delete sms.metadata;
    const smsBody = goJson(sms);
    expect((await post("sms", smsBody, signed(smsBody))).statusCode).toBe(200);
    expect((await post("sms", smsBody, signed(smsBody))).statusCode).toBe(200);
    expect(await rig.jobCount()).toBe(jobs + 2);
    await rig.mailsTo([u.email, u.email], "otp-email", "fr");
    await rig.smsTo(phone, "phone-verification", "fr", code);
  });

  it("?tenant= and ?locale= on the hook URL: the tenant is set, the locale applies to users without one", async () => {
    const u = user({ locale: undefined });
    const body = goJson(sendEmailPayload(u, { email_action_type: "signup", token: token(), token_hash: hash() }));
    const res = await rig.h.app.inject({ method: "POST", url: "/v1/adapters/supabase/email?tenant=acme&locale=de", headers: signed(body), payload: body });
    expect(res.statusCode).toBe(200);
    await rig.mailTo(u.email, "email-verification", "de");
  });

  describe("refusals in Supabase's error format, nothing queued", () => {
    const refused = async (res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, status: number, message: RegExp) => {
      expect(res.statusCode).toBe(status);
      expect(res.headers["content-type"]).toMatch(/^application\/json/);
      const body = res.json() as { error: { http_code: number; message: string } };
      expect(body.error.http_code).toBe(status);
      expect(body.error.message).toMatch(message);
    };
    const signup = () => goJson(sendEmailPayload(user(), { email_action_type: "signup", token: token(), token_hash: hash() }));

    it("another secret, a tampered body, missing headers: 401", async () => {
      const before = await rig.jobCount();
      const body = signup();
      await refused(await post("email", body, signed(body, { secret: `v1,whsec_${randomBytes(32).toString("base64")}` })), 401, /no webhook-signature matches/);
      await refused(await post("email", `${body} `, signed(body)), 401, /no webhook-signature matches/);
      await refused(await post("email", body, { "content-type": "application/json" }), 401, /missing webhook-id/);
      expect(await rig.jobCount()).toBe(before);
    });

    it("a stale timestamp: 401", async () => {
      const before = await rig.jobCount();
      const body = signup();
      await refused(await post("email", body, signed(body, { at: new Date(Date.now() - 10 * 60_000) })), 401, /too old/);
      expect(await rig.jobCount()).toBe(before);
    });

    it("an email_action_type, sms_type or factor_type Herald has no kind for: 422 naming it", async () => {
      const before = await rig.jobCount();
      const linked = goJson(sendEmailPayload(user(), { email_action_type: "identity_linked_notification" }));
      await refused(await post("email", linked, signed(linked)), 422, /email_data\.email_action_type "identity_linked_notification"/);
      const factor = goJson(sendEmailPayload(user(), { email_action_type: "mfa_factor_enrolled_notification", factor_type: "carrier_pigeon" }));
      await refused(await post("email", factor, signed(factor)), 422, /factor_type "carrier_pigeon"/);
      const sms = goJson(sendSmsPayload(user(), { otp: "123456", sms_type: "whatsapp_blast" }));
      await refused(await post("sms", sms, signed(sms)), 422, /sms\.sms_type "whatsapp_blast"/);
      expect(await rig.jobCount()).toBe(before);
    });

    it("no recipient: 400 naming user.email / sms.phone", async () => {
      const before = await rig.jobCount();
      const noEmail = goJson(sendEmailPayload(user({ email: "" }), { email_action_type: "signup", token: token(), token_hash: hash() }));
      await refused(await post("email", noEmail, signed(noEmail)), 400, /user\.email is required/);
      const noPhone = goJson(sendSmsPayload(user({ phone: "" }), { otp: "123456" }));
      await refused(await post("sms", noPhone, signed(noPhone)), 400, /sms\.phone is required/);
      expect(await rig.jobCount()).toBe(before);
    });

    it("a signup without token_hash (no link can be built): 400 naming it", async () => {
      const before = await rig.jobCount();
      const body = goJson(sendEmailPayload(user(), { email_action_type: "signup", token: token() }));
      await refused(await post("email", body, signed(body)), 400, /email_data\.token_hash is required/);
      expect(await rig.jobCount()).toBe(before);
    });
  });
});

describe("Supabase Auth hooks adapter under Herald's resend limits", () => {
  let rig: AdapterRig;
  beforeAll(async () => {
    rig = await startAdapterRig({ HERALD_SUPABASE_HOOK_SECRET: SECRET }, { HERALD_LIMITS: "1", HERALD_LIMIT_COOLDOWN_S: "30" });
  });
  afterAll(async () => {
    await rig?.close();
  });

  it("a second code to the same address within the cooldown: 429 with Retry-After, in Supabase's error format, nothing queued", async () => {
    const someone = user();
    const first = goJson(sendEmailPayload(someone, { email_action_type: "reauthentication", token: token() }));
    const ok = await rig.h.app.inject({ method: "POST", url: "/v1/adapters/supabase/email", headers: signed(first), payload: first });
    expect(ok.statusCode, ok.body).toBe(200);
    const before = await rig.jobCount();
    const again = goJson(sendEmailPayload(someone, { email_action_type: "reauthentication", token: token() }));
    const res = await rig.h.app.inject({ method: "POST", url: "/v1/adapters/supabase/email", headers: signed(again), payload: again });
    expect(res.statusCode).toBe(429);
    expect(Number(res.headers["retry-after"])).toBeGreaterThan(0);
    expect(Number(res.headers["retry-after"])).toBeLessThanOrEqual(30);
    const body = res.json() as { error: { http_code: number; message: string } };
    expect(body.error.http_code).toBe(429);
    expect(body.error.message).toMatch(/Nothing was queued/);
    expect(await rig.jobCount()).toBe(before);
  });
});
