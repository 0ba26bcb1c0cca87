import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { newSecret, signWebhook, verifyWebhook, WebhookSecretError, WebhookVerificationError } from "../../src/webhooks/standard-webhooks.js";

describe("Standard Webhooks signing", () => {
  const body = JSON.stringify({ type: "notification.delivered", data: { id: "n1" } });

  it("is accepted by the standardwebhooks package, with either secret during a rotation", () => {
    const [oldSecret, newOne] = [newSecret(), newSecret()];
    const headers = signWebhook([oldSecret, newOne], "msg_1", body);
    expect(headers["webhook-signature"].split(" ")).toHaveLength(2);
    expect(new Webhook(oldSecret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(new Webhook(newOne).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(() => new Webhook(newSecret()).verify(body, { ...headers })).toThrow();
  });

  it("verifies what the standardwebhooks package signs, and refuses tampering, staleness and missing headers", () => {
    const secret = newSecret();
    const now = new Date();
    const signed = new Webhook(secret).sign("msg_2", now, body);
    const headers = { "webhook-id": "msg_2", "webhook-timestamp": String(Math.floor(now.getTime() / 1000)), "webhook-signature": signed };
    expect(verifyWebhook([newSecret(), secret], headers, body).id).toBe("msg_2");
    expect(() => verifyWebhook([secret], headers, `${body} `)).toThrow(/no webhook-signature matches/);
    expect(() => verifyWebhook([secret], headers, body, { now: new Date(now.getTime() + 10 * 60_000) })).toThrow(/too old/);
    expect(() => verifyWebhook([secret], { "webhook-id": "x" }, body)).toThrow(WebhookVerificationError);
  });

  it("names a malformed secret", () => {
    expect(() => signWebhook(["whsec_not base64!"], "m", body)).toThrow(WebhookSecretError);
    expect(() => signWebhook(["whsec_c2hvcnQ="], "m", body)).toThrow(/16 bytes/);
    expect(() => signWebhook([], "m", body)).toThrow(/at least one/);
  });
});
