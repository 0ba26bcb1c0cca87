import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { smsSegments } from "../../src/templates/sms-segments.js";
import { startTestHerald, type TestHerald } from "../support/herald.js";
import { startTwilioServer, type TwilioServer, twilioEnv } from "../support/twilio-server.js";

describe("SMS kinds end to end: SDK → Redis → worker → Twilio SDK → Twilio-compatible server", () => {
  let twilio: TwilioServer;
  let h: TestHerald;

  beforeAll(async () => {
    twilio = await startTwilioServer();
    h = await startTestHerald({
      ...twilioEnv(twilio),
    });
  });
  afterAll(async () => {
    await h?.close();
    await twilio?.close();
  });

  it("phone-verification: To, From and a body with the code in the recipient's language", async () => {
    const { id, channel } = await h.herald.phoneVerification({
      recipient: { userId: "u1", phone: "+41 79 123 45 67", locale: "de-CH" },
      code: "48151623",
      tenant: { branding: { productName: "Acme ID" } },
    });
    expect(channel).toBe("sms");
    const message = (await twilio.waitForMessages(1))[0]!;
    expect(message.To).toBe("+41791234567");
    expect(message.From).toBe("+15005550006");
    expect(message.Body).toContain("48151623");
    expect(message.Body).toContain("Acme ID");
    expect(message.Body).toMatch(/Bestätigungscode/);
    const delivered = await h.nextDelivery();
    expect(delivered.job.id).toBe(id);
    expect(delivered.result).toMatchObject({ provider: "twilio", messageId: message.sid, channel: "sms" });
  });

  it("otp-sms: the sign-in code in the recipient's language, with its validity, in one segment", async () => {
    const before = twilio.messages.length;
    const { id, channel } = await h.herald.otpSms({
      recipient: { userId: "u3", phone: "+33 6 12 34 56 78", locale: "fr-FR" },
      code: "904512",
      expiresAt: new Date(Date.now() + 5 * 60_000 + 20_000).toISOString(),
      tenant: { branding: { productName: "Acme ID" } },
    });
    expect(channel).toBe("sms");
    const message = (await twilio.waitForMessages(before + 1))[before]!;
    expect(message.To).toBe("+33612345678");
    expect(message.Body).toMatch(/^904512 est votre code de connexion Acme ID\. Valable 5 minutes\. /);
    expect(smsSegments(String(message.Body)).segments).toBe(1);
    const delivered = await h.nextDelivery();
    expect(delivered.job.id).toBe(id);
    expect(delivered.result).toMatchObject({ provider: "twilio", messageId: message.sid, channel: "sms", kind: "otp-sms", locale: "fr" });
  });

  it("password-reset with channel sms: the code, no link", async () => {
    const before = twilio.messages.length;
    await h.herald.passwordReset({ channel: "sms", recipient: { userId: "u2", phone: "+14155552671" }, code: "RESET-9911" });
    const message = (await twilio.waitForMessages(before + 1))[before]!;
    expect(message.To).toBe("+14155552671");
    expect(message.Body).toContain("RESET-9911");
    expect(message.Body).not.toMatch(/https?:/);
  });
});

describe("SMS through a Messaging Service", () => {
  it("sends MessagingServiceSid instead of From", async () => {
    const twilio = await startTwilioServer();
    const sid = "MG" + "a".repeat(32);
    const h = await startTestHerald({
      TWILIO_ACCOUNT_SID: twilio.accountSid,
      TWILIO_AUTH_TOKEN: twilio.authToken,
      TWILIO_MESSAGING_SERVICE_SID: sid,
      TWILIO_API_BASE_URL: twilio.url,
    });
    try {
      await h.herald.phoneVerification({ recipient: { userId: "u", phone: "+447911123456" }, code: "1234" });
      const message = (await twilio.waitForMessages(1))[0]!;
      expect(message.MessagingServiceSid).toBe(sid);
      expect(message.From).toBeUndefined();
    } finally {
      await h.close();
      await twilio.close();
    }
  });
});
