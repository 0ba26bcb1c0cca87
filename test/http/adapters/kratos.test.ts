import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identity, kratosBody, REGISTRATION_REQUEST_URL, REQUEST_URL, type KratosIdentity, type KratosMessage } from "../../fixtures/adapters/kratos.js";
import { expectLink, startAdapterRig, type AdapterRig } from "./rig.js";

const API_KEY = randomBytes(24).toString("hex");
/** What Kratos sends with `auth: {type: api_key, config: {name: Authorization, value: "Bearer …", in: header}}`. */
const bearer = (key = API_KEY) => ({ authorization: `Bearer ${key}` });
/** …and with `auth: {type: basic_auth, config: {user: kratos, password: …}}` (Go's SetBasicAuth). */
const basic = (key = API_KEY, user = "kratos") => ({ authorization: `Basic ${Buffer.from(`${user}:${key}`).toString("base64")}` });

let n = 0;
const person = (locale = "es"): KratosIdentity => {
  n++;
  return { id: randomUUID(), email: `kratos-${n}@example.com`, phone: `+4179123${String(4700 + n)}`, locale, first: "Ada", last: "Lovelace" };
};
const code = () => String(100000 + Math.floor(Math.random() * 899999));

describe("Ory Kratos courier adapter", () => {
  let rig: AdapterRig;
  beforeAll(async () => {
    rig = await startAdapterRig({ HERALD_KRATOS_API_KEY: API_KEY });
  });
  afterAll(async () => {
    await rig?.close();
  });

  const post = (body: unknown, headers: Record<string, string> = bearer(), query = "") =>
    rig.h.app.inject({
      method: "POST",
      url: `/v1/adapters/kratos${query}`,
      headers: { "content-type": "application/json", ...headers },
      payload: JSON.stringify(body),
    });
  const deliver = async (m: KratosMessage, headers?: Record<string, string>) => {
    const res = await post(kratosBody(m), headers);
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };

  const emailCases: {
    template: string;
    kind: string;
    data: (i: KratosIdentity, c: string) => Record<string, unknown>;
    link?: (c: string) => string;
    showsCode: boolean;
    vars?: Record<string, unknown>;
  }[] = [
    {
      template: "recovery_code_valid",
      kind: "password-reset",
      data: (i, c) => ({ to: i.email, recovery_code: c, identity: identity(i), request_url: REQUEST_URL, transient_payload: {}, expires_in_minutes: 60 }),
      link: () => REQUEST_URL,
      showsCode: true,
    },
    {
      template: "recovery_valid",
      kind: "password-reset",
      data: (i, c) => ({
        to: i.email,
        recovery_url: `https://kratos.acme.test/self-service/recovery?flow=1c2f&token=${c}`,
        identity: identity(i),
        request_url: REQUEST_URL,
        expires_in_minutes: 60,
      }),
      link: (c) => `https://kratos.acme.test/self-service/recovery?flow=1c2f&token=${c}`,
      showsCode: true,
    },
    {
      template: "verification_code_valid",
      kind: "email-verification",
      data: (i, c) => ({
        to: i.email,
        verification_code: c,
        verification_url: `https://kratos.acme.test/self-service/verification?flow=8e1a&code=${c}`,
        identity: identity(i),
        request_url: REQUEST_URL,
        expires_in_minutes: 60,
      }),
      link: (c) => `https://kratos.acme.test/self-service/verification?flow=8e1a&code=${c}`,
      showsCode: true,
    },
    {
      template: "verification_valid",
      kind: "email-verification",
      data: (i, c) => ({
        to: i.email,
        verification_url: `https://kratos.acme.test/self-service/verification?flow=8e1b&token=${c}`,
        identity: identity(i),
        expires_in_minutes: 60,
      }),
      link: (c) => `https://kratos.acme.test/self-service/verification?flow=8e1b&token=${c}`,
      showsCode: true,
    },
    {
      template: "login_code_valid",
      kind: "otp-email",
      data: (i, c) => ({ to: i.email, login_code: c, identity: identity(i), request_url: REQUEST_URL, expires_in_minutes: 15 }),
      showsCode: true,
    },
    {
      template: "registration_code_valid",
      kind: "email-verification",
      // No identity yet at registration: the traits the person entered.
      data: (i, c) => ({ to: i.email, traits: identity(i).traits, registration_code: c, request_url: REGISTRATION_REQUEST_URL, expires_in_minutes: 15 }),
      link: () => REGISTRATION_REQUEST_URL,
      showsCode: true,
    },
    {
      template: "verifiable_address_changed",
      kind: "email-changed",
      data: (i) => ({ to: i.email, identity: identity(i), changed_at: "2026-12-02T08:00:00Z" }),
      showsCode: false,
    },
    {
      template: "authenticator_key_added",
      kind: "mfa-changed",
      data: (i) => ({ to: i.email, identity: identity(i), added_at: "2026-12-02T08:00:00Z" }),
      showsCode: false,
      vars: { added: true },
    },
  ];

  it.each(emailCases)(
    "email $template → $kind, delivered in the identity's language (es) with code and link",
    async ({ template, kind, data, link, showsCode, vars }) => {
      const i = person();
      const c = code();
      expect(await deliver({ template_type: template, message_type: "email", recipient: i.email, template_data: data(i, c) })).toMatchObject({
        kind,
        channel: "email",
      });
      const mail = await rig.mailTo(i.email, kind, "es", vars);
      if (showsCode) expect(mail.parsed.text).toContain(c);
      if (link) expectLink(mail, link(c));
      expect(mail.parsed.text).toContain("Ada");
    },
  );

  const smsCases = [
    { template: "recovery_code_valid", kind: "password-reset", key: "verification_code" },
    { template: "verification_code_valid", kind: "phone-verification", key: "verification_code" },
    { template: "login_code_valid", kind: "otp-sms", key: "login_code" },
    { template: "registration_code_valid", kind: "phone-verification", key: "registration_code" },
  ];

  it.each(smsCases)("SMS $template → $kind, sent in the identity's language with the code (basic auth)", async ({ template, kind, key }) => {
    const i = person("de");
    const c = code();
    const data = { to: i.phone, [key]: c, identity: identity(i), request_url: REQUEST_URL, request_url_domain: "kratos.acme.test", expires_in_minutes: 10 };
    expect(await deliver({ template_type: template, message_type: "sms", recipient: i.phone, template_data: data }, basic())).toMatchObject({
      kind,
      channel: "sms",
    });
    const sms = await rig.smsTo(i.phone, kind, "de", c);
    expect(sms.Body).toContain("10 Minuten");
  });

  it("an older Kratos without message_type: the channel is told by the recipient", async () => {
    const i = person("it");
    const c = code();
    await deliver({
      template_type: "login_code_valid",
      recipient: i.email,
      template_data: { to: i.email, login_code: c, identity: identity(i), expires_in_minutes: 15 },
    });
    expect((await rig.mailTo(i.email, "otp-email", "it")).parsed.text).toContain(c);
  });

  it("the courier sending one message again (after a failed attempt) delivers it once", async () => {
    const i = person();
    const m: KratosMessage = {
      template_type: "login_code_valid",
      message_type: "email",
      recipient: i.email,
      template_data: { to: i.email, login_code: code(), identity: identity(i), expires_in_minutes: 15 },
    };
    const first = await deliver(m);
    await rig.mailTo(i.email, "otp-email", "es");
    const jobs = await rig.jobCount();
    expect(await deliver(m)).toMatchObject({ id: first.id, deduplicated: true });
    expect(await rig.jobCount()).toBe(jobs);
    expect(rig.smtp.mails.filter((mail) => mail.envelope.to.includes(i.email))).toHaveLength(1);
  });

  it.each([
    { template: "verifiable_address_changed", kind: "email-changed", vars: {} },
    { template: "authenticator_key_added", kind: "mfa-changed", vars: { added: true } },
  ])("$template without a time: two different notices are two mails, one notice sent twice is one", async ({ template, kind, vars }) => {
    const i = person();
    // An older Kratos sends no changed_at/added_at; the identity (updated_at) tells two notices apart.
    const notice = (updatedAt: string): KratosMessage => ({
      template_type: template,
      message_type: "email",
      recipient: i.email,
      template_data: { to: i.email, identity: { ...identity(i), updated_at: updatedAt } },
    });
    const first = await deliver(notice("2026-12-02T08:00:00Z"));
    expect(await deliver(notice("2026-12-02T08:00:00Z"))).toMatchObject({ id: first.id, deduplicated: true });
    const second = await deliver(notice("2026-12-02T09:30:00Z"));
    expect(second).toMatchObject({ deduplicated: false });
    expect(second.id).not.toBe(first.id);
    await rig.mailTo(i.email, kind, "es", vars);
    await rig.mailTo(i.email, kind, "es", vars);
    expect(rig.smtp.mails.filter((mail) => mail.envelope.to.includes(i.email))).toHaveLength(2);
  });

  it("ships a Jsonnet body that passes exactly the fields the adapter reads", () => {
    const jsonnet = readFileSync(resolve(import.meta.dirname, "../../../adapters/kratos/body.jsonnet"), "utf8");
    for (const field of ["recipient", "template_type", "message_type", "template_data"]) expect(jsonnet).toMatch(new RegExp(`^\\s*${field}:`, "m"));
    expect(jsonnet).toMatch(/^function\(ctx\)/m);
    expect(jsonnet).not.toMatch(/request_headers:/);
  });

  describe("refusals: nothing is queued", () => {
    const valid = () => {
      const i = person();
      return kratosBody({
        template_type: "login_code_valid",
        message_type: "email",
        recipient: i.email,
        template_data: { to: i.email, login_code: code(), identity: identity(i) },
      });
    };
    const refused = async (res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, status: number, detail: RegExp) => {
      expect(res.statusCode).toBe(status);
      expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
      expect((res.json() as { detail: string }).detail).toMatch(detail);
    };

    it("a wrong key (Bearer or Basic), no Authorization header: 401", async () => {
      const before = await rig.jobCount();
      await refused(await post(valid(), bearer("x".repeat(48))), 401, /does not carry HERALD_KRATOS_API_KEY/);
      await refused(await post(valid(), basic("x".repeat(48))), 401, /does not carry/);
      await refused(await post(valid(), { authorization: `Bearer ${API_KEY.slice(0, -1)}` }), 401, /does not carry/);
      await refused(await post(valid(), {}), 401, /No Authorization header/);
      expect(await rig.jobCount()).toBe(before);
    });

    it("a template type Herald has no kind for (or not by that channel): 422 naming it", async () => {
      const before = await rig.jobCount();
      const i = person();
      const res = await post(kratosBody({ template_type: "recovery_code_invalid", message_type: "email", recipient: i.email, template_data: { to: i.email } }));
      await refused(res, 422, /template_type "recovery_code_invalid"/);
      expect(res.json()).toMatchObject({ errors: [{ field: "template_type" }] });
      await refused(
        await post(kratosBody({ template_type: "authenticator_key_added", message_type: "sms", recipient: i.phone, template_data: { to: i.phone } })),
        422,
        /"authenticator_key_added" has no Herald kind by sms/,
      );
      expect(await rig.jobCount()).toBe(before);
    });

    it("no recipient: 400 naming it; a code template without its code: 400 naming template_data.<field>", async () => {
      const before = await rig.jobCount();
      const i = person();
      const res = await post(
        kratosBody({ template_type: "login_code_valid", message_type: "email", template_data: { login_code: "123456", identity: identity(i) } }),
      );
      await refused(res, 400, /recipient is required/);
      expect(res.json()).toMatchObject({ errors: [{ field: "recipient", message: "is required" }] });
      await refused(
        await post(
          kratosBody({
            template_type: "verification_code_valid",
            message_type: "email",
            recipient: i.email,
            template_data: { identity: identity(i), verification_url: REQUEST_URL },
          }),
        ),
        400,
        /template_data\.verification_code is required/,
      );
      expect(await rig.jobCount()).toBe(before);
    });

    it("a body that is not JSON: 400", async () => {
      const res = await rig.h.app.inject({
        method: "POST",
        url: "/v1/adapters/kratos",
        headers: { "content-type": "application/json", ...bearer() },
        payload: "{nope",
      });
      await refused(res, 400, /not valid JSON/);
    });
  });
});
