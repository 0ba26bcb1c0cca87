import twilio from "twilio";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { twilioCallbackUrl } from "../../src/config/index.js";
import type { AppliedReport } from "../../src/http/plugins/twilio-callbacks.js";
import { asEnqueue, startApiHarness, type ApiHarness } from "../support/harness.js";
import { startTwilioServer, type TwilioServer, twilioEnv } from "../support/twilio-server.js";

// Twilio signs the URL it was given (behind a proxy, not the one Herald listens on) and the form fields.
const PUBLIC_URL = "https://herald.example.com/base/";
const CALLBACK_URL = "https://herald.example.com/base/v1/callbacks/twilio";

describe("Twilio status callbacks: StatusCallback sent, X-Twilio-Signature checked, reports applied once and in order", () => {
  let tw: TwilioServer;
  let h: ApiHarness;
  const applied: AppliedReport[] = [];

  /** A callback as Twilio sends it, signed by the twilio package (the reference implementation). */
  const callback = (params: Record<string, string>, signature = twilio.getExpectedTwilioSignature(tw.authToken, CALLBACK_URL, params)) =>
    h.app.inject({
      method: "POST",
      url: "/v1/callbacks/twilio",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature },
      payload: new URLSearchParams(params).toString(),
    });
  const statusOf = async (id: string) => (await h.app.inject({ method: "GET", url: `/v1/notifications/${id}`, headers: asEnqueue })).json();

  /** Sends one SMS through the real worker and returns its id and Twilio's message as received. */
  async function sendSms(phone: string) {
    const before = tw.messages.length;
    const delivered = h.nextDelivery();
    const { id } = await h.herald.phoneVerification({ recipient: { userId: "u1", phone }, code: "481516", tenant: { id: "tenant-7" } });
    const message = (await tw.waitForMessages(before + 1)).at(-1)!;
    expect((await delivered).job.id).toBe(id);
    return { id, message };
  }
  const fields = (sid: string, status: string, extra: Record<string, string> = {}) => ({
    AccountSid: tw.accountSid,
    MessageSid: sid,
    SmsSid: sid,
    MessageStatus: status,
    SmsStatus: status,
    To: "+41791234567",
    From: "+15005550006",
    ApiVersion: "2010-04-01",
    ...extra,
  });

  beforeAll(async () => {
    tw = await startTwilioServer();
    h = await startApiHarness({
      env: {
        ...twilioEnv(tw),
        HERALD_PUBLIC_URL: PUBLIC_URL,
      },
      server: { twilioCallbacks: { url: twilioCallbackUrl(PUBLIC_URL), authToken: tw.authToken, onReport: (report) => void applied.push(report) } },
    });
  });
  afterAll(async () => {
    await h?.close();
    await tw?.close();
  });

  it("sends StatusCallback with every message, accepted by the OpenAPI-checked Twilio server", async () => {
    expect(twilioCallbackUrl(PUBLIC_URL)).toBe(CALLBACK_URL);
    const { id, message } = await sendSms("+41 79 123 45 67");
    expect(message.StatusCallback).toBe(CALLBACK_URL);
    expect(tw.requests.at(-1)).toMatchObject({ operationId: "CreateMessage", status: 201 });
    const status = await statusOf(id);
    expect(status).toMatchObject({ id, status: "delivered", provider: "twilio", messageId: message.sid });
    expect(status.acceptedAt).toBe(status.deliveredAt);
    expect(status.handset).toBeUndefined();
  });

  it("applies a signed callback; a repeat and a late `sent` change nothing; a bad signature is 403 and changes nothing", async () => {
    const { id, message } = await sendSms("+41 79 123 45 68");
    const sent = fields(message.sid, "sent");
    // The twilio package agrees that this is how Twilio signs.
    expect(twilio.validateRequest(tw.authToken, twilio.getExpectedTwilioSignature(tw.authToken, CALLBACK_URL, sent), CALLBACK_URL, sent)).toBe(true);

    expect((await callback(sent)).statusCode).toBe(204);
    const afterSent = await statusOf(id);
    expect(afterSent.handset).toMatchObject({ status: "sent" });
    expect(afterSent.handset.sentAt).toBe(afterSent.handset.at);

    const delivered = fields(message.sid, "delivered");
    // Signed for another URL, or with another token, or tampered with: refused before anything is read.
    for (const signature of [
      twilio.getExpectedTwilioSignature(tw.authToken, "https://evil.example.com/v1/callbacks/twilio", delivered),
      twilio.getExpectedTwilioSignature("0".repeat(32), CALLBACK_URL, delivered),
      twilio.getExpectedTwilioSignature(tw.authToken, CALLBACK_URL, { ...delivered, MessageStatus: "sent" }),
      "",
    ]) {
      const refused = await callback(delivered, signature);
      expect(refused.statusCode).toBe(403);
      expect(refused.headers["content-type"]).toContain("application/problem+json");
    }
    const noHeader = await h.app.inject({
      method: "POST",
      url: "/v1/callbacks/twilio",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: new URLSearchParams(delivered).toString(),
    });
    expect(noHeader.statusCode).toBe(403);
    expect((await statusOf(id)).handset).toEqual(afterSent.handset);

    expect((await callback(delivered)).statusCode).toBe(204);
    const afterDelivered = await statusOf(id);
    expect(afterDelivered.handset).toMatchObject({ status: "delivered", sentAt: afterSent.handset.sentAt });
    expect(afterDelivered.status).toBe("delivered");

    // Twilio repeats, and callbacks overtake each other: neither moves the status back or restamps it.
    expect((await callback(delivered)).statusCode).toBe(204);
    expect((await callback(sent)).statusCode).toBe(204);
    expect((await callback(fields(message.sid, "queued"))).statusCode).toBe(204);
    expect((await statusOf(id)).handset).toEqual(afterDelivered.handset);

    const mine = applied.filter((r) => r.messageId === message.sid);
    expect(mine.map((r) => r.status)).toEqual(["sent", "delivered"]);
    expect(mine[1]!.ref).toMatchObject({ id, kind: "phone-verification", channel: "sms", tenant: "tenant-7", provider: "twilio", attempts: 1 });
    expect(JSON.stringify(mine)).not.toMatch(/481516|\+4179/);
  });

  it("an undelivered with ErrorCode first and a late `delivered`: undelivered stays, with the code", async () => {
    const { id, message } = await sendSms("+41 79 123 45 69");
    expect((await callback(fields(message.sid, "undelivered", { ErrorCode: "30003" }))).statusCode).toBe(204);
    expect((await callback(fields(message.sid, "delivered"))).statusCode).toBe(204);
    const status = await statusOf(id);
    expect(status.handset).toMatchObject({ status: "undelivered", errorCode: "twilio-30003" });
    expect(status.handset.sentAt).toBeUndefined();
    const report = applied.find((r) => r.messageId === message.sid);
    expect(report).toMatchObject({ status: "undelivered", twilioErrorCode: 30003, errorCode: "twilio-30003" });
    expect(applied.filter((r) => r.messageId === message.sid)).toHaveLength(1);
  });

  it("a message Herald does not know is acknowledged without an event; an unknown status is acknowledged and ignored", async () => {
    const before = applied.length;
    expect((await callback(fields(`SM${"0".repeat(32)}`, "delivered"))).statusCode).toBe(204);
    expect(applied.at(-1)?.ref).toBeUndefined();
    expect((await callback(fields(`SM${"1".repeat(32)}`, "receiving"))).statusCode).toBe(204);
    expect(applied.length).toBe(before + 1);
  });

  it("the route takes no bearer token and is absent without HERALD_PUBLIC_URL", async () => {
    const other = await startApiHarness({ workers: false });
    try {
      const response = await other.app.inject({
        method: "POST",
        url: "/v1/callbacks/twilio",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        payload: "",
      });
      expect(response.statusCode).not.toBe(204);
      expect([401, 404]).toContain(response.statusCode);
    } finally {
      await other.close();
    }
  });
});
