import { createHash, createHmac, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { goJson } from "../../fixtures/adapters/go-json.js";
import { FIVE_MINUTES_NS, zitadelPayload, zitadelUrls, type ZitadelMessage, type ZitadelUser } from "../../fixtures/adapters/zitadel.js";
import { dumpValues } from "../../support/herald.js";
import { expectLink, startAdapterRig, type AdapterRig } from "./rig.js";

/** ZITADEL gives the email and the SMS provider a signing key each. */
const KEY = randomBytes(24).toString("hex");
const SMS_KEY = randomBytes(24).toString("hex");

/** ZITADEL's signature, written here from its description (pkg/actions/signing.go), apart from Herald's verifier. */
function zitadelSignature(key: string, body: string, at = Date.now()): string {
  const t = Math.floor(at / 1000);
  return `t=${t},v1=${createHmac("sha256", key).update(`${t}.${body}`).digest("hex")}`;
}

let n = 0;
const user = (): ZitadelUser => {
  n++;
  return {
    userID: `2851810145678134${String(n).padStart(2, "0")}`,
    email: `zitadel-${n}@example.com`,
    phone: `+4179123${String(4500 + n)}`,
    firstName: "Ada",
    lastName: "Lovelace",
  };
};

describe("ZITADEL HTTP provider adapter", () => {
  let rig: AdapterRig;
  beforeAll(async () => {
    rig = await startAdapterRig({ HERALD_ZITADEL_SIGNING_KEY: `${KEY},${SMS_KEY}` });
  });
  afterAll(async () => {
    await rig?.close();
  });

  const post = (channel: "email" | "sms", body: string, signature?: string, query = "?locale=de") =>
    rig.h.app.inject({
      method: "POST",
      url: `/v1/adapters/zitadel/${channel}${query}`,
      headers: { "content-type": "application/json", ...(signature === undefined ? {} : { "zitadel-signature": signature }) },
      payload: body,
    });
  const send = async (u: ZitadelUser, m: ZitadelMessage) => {
    const body = goJson(zitadelPayload(u, m));
    const res = await post(m.channel, body, zitadelSignature(m.channel === "email" ? KEY : SMS_KEY, body));
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };

  const emailCases: { event: string; kind: string; build: (u: ZitadelUser, code: string) => Partial<ZitadelMessage>; link: boolean; showsCode: boolean }[] = [
    {
      event: "user.human.initialization.code.added",
      kind: "resend-initialization",
      build: (u, c) => ({ code: c, url: zitadelUrls.init(u, c) }),
      link: true,
      showsCode: true,
    },
    {
      event: "user.human.email.code.added",
      kind: "email-verification",
      build: (u, c) => ({ code: c, url: zitadelUrls.verifyEmail(u, c) }),
      link: true,
      showsCode: true,
    },
    {
      event: "user.human.password.code.added",
      kind: "password-reset",
      build: (u, c) => ({ code: c, url: zitadelUrls.passwordReset(u, c) }),
      link: true,
      showsCode: true,
    },
    {
      event: "user.human.passwordless.initialization.code.requested",
      kind: "passkey-link",
      build: (u, c) => ({ code: c, url: zitadelUrls.passwordless(u, "291004583451", c), args: { codeID: "291004583451" } }),
      link: true,
      showsCode: false,
    },
    {
      event: "user.human.mfa.otp.email.code.added",
      kind: "otp-email",
      build: (_u, c) => ({ code: c, url: zitadelUrls.login(), args: { oTP: c, expiry: FIVE_MINUTES_NS } }),
      link: true,
      showsCode: true,
    },
    {
      event: "session.otp.email.challenged",
      kind: "otp-email",
      build: (_u, c) => ({ code: c, args: { oTP: c, expiry: FIVE_MINUTES_NS } }),
      link: false,
      showsCode: true,
    },
    {
      event: "user.human.invite.code.added",
      kind: "invite-user",
      build: (u, c) => ({ code: c, url: zitadelUrls.invite(u, c), args: { applicationName: "Acme Portal" } }),
      link: true,
      showsCode: false,
    },
    { event: "user.human.password.changed", kind: "password-changed", build: () => ({ url: zitadelUrls.login() }), link: true, showsCode: false },
  ];

  it.each(emailCases)("email $event → $kind, delivered in German with code and link", async ({ event, kind, build, link, showsCode }) => {
    const u = user();
    const code = `Z${randomBytes(3).toString("hex").toUpperCase()}`;
    const m = { eventType: event, channel: "email" as const, ...build(u, code) };
    const accepted = await send(u, m);
    expect(accepted).toMatchObject({ kind, channel: "email", deduplicated: false });
    const mail = await rig.mailTo(u.email, kind, "de");
    if (showsCode) expect(mail.parsed.text).toContain(code);
    if (link) expectLink(mail, m.url!);
    if (kind === "invite-user") expect(mail.parsed.text).toContain("Acme Portal");
    expect(mail.parsed.text).toContain("Ada");
  });

  const smsCases = [
    { event: "user.human.phone.code.added", kind: "phone-verification" },
    { event: "user.human.mfa.otp.sms.code.added", kind: "otp-sms" },
    { event: "session.otp.sms.challenged", kind: "otp-sms" },
    { event: "user.human.password.code.added", kind: "password-reset" },
  ];

  it.each(smsCases)("SMS $event → $kind, sent in German with the code", async ({ event, kind }) => {
    const u = user();
    const code = String(100000 + n);
    const args = kind === "otp-sms" ? { oTP: code, expiry: FIVE_MINUTES_NS } : {};
    expect(await send(u, { eventType: event, channel: "sms", code, args })).toMatchObject({ kind, channel: "sms" });
    const sms = await rig.smsTo(u.phone, kind, "de", code);
    if (kind === "otp-sms") expect(sms.Body).toContain("5 Minuten");
  });

  it("without ?locale= the tenant's default (English here) is used", async () => {
    const u = user();
    const body = goJson(
      zitadelPayload(u, { eventType: "user.human.email.code.added", channel: "email", code: "EN1234", url: zitadelUrls.verifyEmail(u, "EN1234") }),
    );
    const res = await post("email", body, zitadelSignature(KEY, body), "");
    expect(res.statusCode).toBe(200);
    await rig.mailTo(u.email, "email-verification", "en");
  });

  it("the same notification sent again (ZITADEL's retry, newly signed) is delivered once", async () => {
    const u = user();
    const m: ZitadelMessage = { eventType: "user.human.email.code.added", channel: "email", code: "TWICE1", url: zitadelUrls.verifyEmail(u, "TWICE1") };
    const first = await send(u, m);
    await rig.mailTo(u.email, "email-verification", "de");
    const jobs = await rig.jobCount();
    const again = await send(u, m);
    expect(again).toMatchObject({ id: first.id, deduplicated: true });
    expect(await rig.jobCount()).toBe(jobs);
    expect(rig.smtp.mails.filter((mail) => mail.envelope.to.includes(u.email))).toHaveLength(1);
  });

  it("the idempotency key is keyed: Redis holds no unkeyed hash from which a 6-digit code could be brute-forced", async () => {
    const u = user();
    const code = "482913";
    const eventType = "user.human.mfa.otp.sms.code.added";
    await send(u, { eventType, channel: "sms", code, args: { oTP: code, expiry: FIVE_MINUTES_NS } });
    await rig.smsTo(u.phone, "otp-sms", "de", code);
    const stored = await dumpValues(rig.h.redis, rig.h.config.HERALD_PREFIX);
    const parts = (c: string) => [eventType, u.phone, u.userID, "", c, ""].join("\u0000");
    // What the key was before: SHA-256 of the message's parts, which 10^6 guesses of the code recover.
    const unkeyed = (c: string) => createHash("sha256").update(parts(c)).digest("base64url");
    expect(stored).not.toContain(unkeyed(code));
    expect(stored).toContain(`otp-sms:zitadel:${rig.h.herald.idempotencyHash("adapter:zitadel", parts(code))}`);
    expect(stored).not.toContain(code);
  });

  it("password.changed without changeDate: two different notices are two mails, one notice sent twice is one", async () => {
    const u = user();
    const notice = (sequence: number) =>
      goJson(
        zitadelPayload(u, { eventType: "user.human.password.changed", channel: "email", url: zitadelUrls.login(), args: { changeDate: undefined, sequence } }),
      );
    const post1 = async (body: string) => {
      const res = await post("email", body, zitadelSignature(KEY, body));
      expect(res.statusCode, res.body).toBe(200);
      return res.json();
    };
    const first = await post1(notice(1));
    expect(await post1(notice(1))).toMatchObject({ id: first.id, deduplicated: true });
    const second = await post1(notice(2));
    expect(second).toMatchObject({ deduplicated: false });
    expect(second.id).not.toBe(first.id);
    await rig.mailsTo([u.email, u.email], "password-changed", "de");
    expect(rig.smtp.mails.filter((mail) => mail.envelope.to.includes(u.email))).toHaveLength(2);
  });

  it("is documented in /openapi.json (both routes, tagged adapters)", async () => {
    const doc = (await rig.h.app.inject({ method: "GET", url: "/openapi.json" })).json();
    for (const channel of ["email", "sms"]) expect(doc.paths[`/v1/adapters/zitadel/${channel}`]?.post?.tags).toEqual(["adapters"]);
  });

  describe("refusals: nothing is queued", () => {
    const valid = () => {
      const u = user();
      return goJson(
        zitadelPayload(u, { eventType: "user.human.email.code.added", channel: "email", code: "NOPE42", url: zitadelUrls.verifyEmail(u, "NOPE42") }),
      );
    };
    const refused = async (res: { statusCode: number; json(): unknown; headers: Record<string, unknown> }, status: number, detail: RegExp) => {
      expect(res.statusCode).toBe(status);
      expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
      expect((res.json() as { detail: string }).detail).toMatch(detail);
    };

    it("a signature with another key, a missing and a malformed header: 401", async () => {
      const before = await rig.jobCount();
      const body = valid();
      await refused(await post("email", body, zitadelSignature("another-key-0123456789", body)), 401, /No ZITADEL-Signature matches/);
      await refused(await post("email", body), 401, /header is missing/);
      await refused(await post("email", body, "v1=abcd"), 401, /malformed/);
      // The signature of another body (a tampered payload).
      await refused(await post("email", body, zitadelSignature(KEY, `${body} `)), 401, /No ZITADEL-Signature matches/);
      expect(await rig.jobCount()).toBe(before);
    });

    it("a stale timestamp (ZITADEL's tolerance is 5 minutes): 401", async () => {
      const before = await rig.jobCount();
      const body = valid();
      await refused(await post("email", body, zitadelSignature(KEY, body, Date.now() - 6 * 60_000)), 401, /more than 300 s/);
      expect(await rig.jobCount()).toBe(before);
    });

    it("an event type Herald has no kind for, or sent to the wrong channel: 422 naming it", async () => {
      const before = await rig.jobCount();
      const u = user();
      const unknown = goJson(zitadelPayload(u, { eventType: "user.human.domain.claimed.sent", channel: "email", code: "X" }));
      const res = await post("email", unknown, zitadelSignature(KEY, unknown));
      await refused(res, 422, /user\.human\.domain\.claimed\.sent/);
      expect(res.json()).toMatchObject({ type: "urn:herald:problem:unknown-message-type", errors: [{ field: "contextInfo.eventType" }] });
      const phoneOnEmail = goJson(zitadelPayload(u, { eventType: "user.human.phone.code.added", channel: "email", code: "123456" }));
      await refused(await post("email", phoneOnEmail, zitadelSignature(KEY, phoneOnEmail)), 422, /user\.human\.phone\.code\.added/);
      expect(await rig.jobCount()).toBe(before);
    });

    it("no recipient: 400 naming contextInfo.recipientEmailAddress / recipientPhoneNumber", async () => {
      const before = await rig.jobCount();
      const u = user();
      const email = goJson(
        zitadelPayload(u, { eventType: "user.human.email.code.added", channel: "email", code: "C1", url: zitadelUrls.verifyEmail(u, "C1"), noRecipient: true }),
      );
      const res = await post("email", email, zitadelSignature(KEY, email));
      await refused(res, 400, /contextInfo\.recipientEmailAddress is required/);
      expect(res.json()).toMatchObject({ errors: [{ field: "contextInfo.recipientEmailAddress", message: "is required" }] });
      const sms = goJson(zitadelPayload(u, { eventType: "user.human.phone.code.added", channel: "sms", code: "123456", noRecipient: true }));
      await refused(await post("sms", sms, zitadelSignature(KEY, sms)), 400, /contextInfo\.recipientPhoneNumber is required/);
      expect(await rig.jobCount()).toBe(before);
    });

    it("no code, or a link that is required missing: 400 naming the payload field", async () => {
      const before = await rig.jobCount();
      const u = user();
      const noCode = goJson(zitadelPayload(u, { eventType: "user.human.email.code.added", channel: "email", url: zitadelUrls.verifyEmail(u, "x") }));
      await refused(await post("email", noCode, zitadelSignature(KEY, noCode)), 400, /args\.code is required/);
      const noLink = goJson(zitadelPayload(u, { eventType: "user.human.email.code.added", channel: "email", code: "C2" }));
      await refused(await post("email", noLink, zitadelSignature(KEY, noLink)), 400, /templateData\.url is required/);
      expect(await rig.jobCount()).toBe(before);
    });
  });
});

describe("ZITADEL adapter not configured", () => {
  let rig: AdapterRig;
  beforeAll(async () => {
    rig = await startAdapterRig({});
  });
  afterAll(async () => {
    await rig?.close();
  });

  it("is not mounted: 404", async () => {
    const res = await rig.h.app.inject({ method: "POST", url: "/v1/adapters/zitadel/email", headers: { "content-type": "application/json" }, payload: "{}" });
    expect(res.statusCode).toBe(404);
  });
});
