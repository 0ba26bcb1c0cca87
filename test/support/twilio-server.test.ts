import { readFileSync } from "node:fs";
import twilio from "twilio";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTwilioClient } from "../../src/channels/twilio-client.js";
import { startTwilioServer, type TwilioServer } from "./twilio-server.js";

const TO = "+15005550006";
const FROM = "+15005550009";
const MESSAGING_SERVICE_SID = "MG" + "0123456789abcdef".repeat(2);
const VERIFY_SERVICE_SID = "VA" + "fedcba9876543210".repeat(2);

const spec = JSON.parse(readFileSync(new URL("../fixtures/twilio/openapi-subset.json", import.meta.url), "utf8")) as {
  components: { schemas: Record<string, { properties: Record<string, unknown> }> };
};

let server: TwilioServer;
let client: twilio.Twilio;

beforeEach(async () => {
  server = await startTwilioServer();
  client = createTwilioClient({ accountSid: server.accountSid, authToken: server.authToken, baseUrl: server.url });
});

afterEach(async () => {
  await server.close();
});

const messagesPath = () => `/2010-04-01/Accounts/${server.accountSid}/Messages.json`;

/** A raw form POST, bypassing the SDK's client-side checks. */
async function rawPost(path: string, form: Record<string, string>, auth = `${server.accountSid}:${server.authToken}`) {
  const res = await fetch(server.url + path, {
    method: "POST",
    headers: {
      authorization: "Basic " + Buffer.from(auth).toString("base64"),
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams(form),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Settles a promise that is expected to reject and returns the rejection. */
const rejectionOf = (p: Promise<unknown>) =>
  p.then(
    (value) => ({ resolvedUnexpectedly: value }),
    (err: unknown) => err,
  );

describe("fake Twilio server driven by the real twilio SDK", () => {
  it("accepts a valid message with From and records it", async () => {
    const msg = await client.messages.create({ to: TO, from: FROM, body: "Hello from Herald" });

    expect(msg.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(msg.status).toBe("queued");
    expect(msg.accountSid).toBe(server.accountSid);
    expect(msg.to).toBe(TO);
    expect(msg.from).toBe(FROM);
    expect(msg.messagingServiceSid).toBeNull();
    expect(msg.numSegments).toBe("1");
    expect(msg.dateCreated).toBeInstanceOf(Date);
    expect(Number.isNaN(msg.dateCreated.getTime())).toBe(false);
    expect(msg.uri).toBe(`/2010-04-01/Accounts/${server.accountSid}/Messages/${msg.sid}.json`);

    expect(server.messages).toEqual([{ sid: msg.sid, To: TO, From: FROM, Body: "Hello from Herald" }]);
    expect(server.requests).toEqual([
      {
        method: "POST",
        path: messagesPath(),
        operationId: "CreateMessage",
        params: { To: TO, From: FROM, Body: "Hello from Herald" },
        status: 201,
        code: null,
      },
    ]);
  });

  it("accepts a message sent through a MessagingServiceSid instead of From", async () => {
    const msg = await client.messages.create({ to: TO, messagingServiceSid: MESSAGING_SERVICE_SID, body: "hi" });

    expect(msg.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(msg.status).toBe("queued");
    expect(msg.from).toBeNull();
    expect(msg.messagingServiceSid).toBe(MESSAGING_SERVICE_SID);
    expect(server.messages).toHaveLength(1);
    expect(server.messages[0]).toMatchObject({ sid: msg.sid, To: TO, MessagingServiceSid: MESSAGING_SERVICE_SID });
    expect(server.messages[0]?.From).toBeUndefined();
  });

  it("accepts From together with MessagingServiceSid, as Twilio's spec documents", async () => {
    const msg = await client.messages.create({
      to: TO,
      from: FROM,
      messagingServiceSid: MESSAGING_SERVICE_SID,
      mediaUrl: ["https://example.com/a.png", "https://example.com/b.png"],
    });

    expect(msg.from).toBe(FROM);
    expect(msg.numMedia).toBe("2");
    expect(server.messages[0]?.MediaUrl).toEqual(["https://example.com/a.png", "https://example.com/b.png"]);
  });

  it("answers with exactly the properties of api.v2010.account.message", async () => {
    const { status, json } = await rawPost(messagesPath(), { To: TO, From: FROM, Body: "hi" });

    expect(status).toBe(201);
    const documented = Object.keys(spec.components.schemas["api.v2010.account.message"]?.properties ?? {});
    expect(documented.length).toBeGreaterThan(15);
    expect(Object.keys(json).sort()).toEqual(documented.sort());
    expect(json.date_created).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
    expect(json.direction).toBe("outbound-api");
  });

  it("fetches a created message back through the SDK", async () => {
    const created = await client.messages.create({ to: TO, from: FROM, body: "fetch me" });
    const fetched = await client.messages(created.sid).fetch();

    expect(fetched.sid).toBe(created.sid);
    expect(fetched.body).toBe("fetch me");
    expect(server.requests.map((r) => [r.method, r.operationId, r.status])).toEqual([
      ["POST", "CreateMessage", 201],
      ["GET", "FetchMessage", 200],
    ]);
  });

  it("rejects a wrong auth token with 401 / 20003, surfaced by the SDK as RestException", async () => {
    const badClient = createTwilioClient({ accountSid: server.accountSid, authToken: "0".repeat(32), baseUrl: server.url });

    const err = await rejectionOf(badClient.messages.create({ to: TO, from: FROM, body: "hi" }));

    expect(err).toBeInstanceOf(twilio.RestException);
    expect(err).toMatchObject({ status: 401, code: 20003, moreInfo: "https://www.twilio.com/docs/errors/20003" });
    expect(server.messages).toHaveLength(0);
    expect(server.requests.map((r) => r.status)).toEqual([401]);
  });

  it("answers 404 / 20404 when the AccountSid in the path is not the configured account", async () => {
    const other = "AC" + "1".repeat(32);
    const { status, json } = await rawPost(`/2010-04-01/Accounts/${other}/Messages.json`, { To: TO, From: FROM, Body: "x" });

    expect(status).toBe(404);
    expect(json).toEqual({
      code: 20404,
      message: `The requested resource /2010-04-01/Accounts/${other}/Messages.json was not found`,
      more_info: "https://www.twilio.com/docs/errors/20404",
      status: 404,
    });
  });

  it("rejects an unknown parameter with 400 naming it", async () => {
    const { status, json } = await rawPost(messagesPath(), { To: TO, From: FROM, Body: "hi", Foo: "bar" });

    expect(status).toBe(400);
    expect(Object.keys(json).sort()).toEqual(["code", "message", "more_info", "status"]);
    expect(json.status).toBe(400);
    expect(json.message).toContain("Foo");
    expect(server.messages).toHaveLength(0);
  });

  it("rejects a value outside the spec's enum", async () => {
    const { status, json } = await rawPost(messagesPath(), { To: TO, From: FROM, Body: "hi", RiskCheck: "maybe" });

    expect(status).toBe(400);
    expect(json.message).toContain("RiskCheck");
    expect(json.message).toContain("enable");
  });

  it("rejects a missing To with 400 / 21604", async () => {
    const { status, json } = await rawPost(messagesPath(), { From: FROM, Body: "hi" });

    expect(status).toBe(400);
    expect(json).toMatchObject({ code: 21604, status: 400 });
    expect(json.message).toContain("'To'");
  });

  it("rejects a malformed To with 400 / 21211", async () => {
    const { status, json } = await rawPost(messagesPath(), { To: "12345", From: FROM, Body: "hi" });

    expect(status).toBe(400);
    expect(json).toMatchObject({ code: 21211, message: "The 'To' number 12345 is not a valid phone number." });
  });

  it("rejects a malformed From with 400 / 21212", async () => {
    const { status, json } = await rawPost(messagesPath(), { To: TO, From: "not a number!", Body: "hi" });

    expect(status).toBe(400);
    expect(json.code).toBe(21212);
    expect(json.message).toContain("'From' number not a number!");
  });

  it("rejects a message with neither From nor MessagingServiceSid", async () => {
    const err = await rejectionOf(client.messages.create({ to: TO, body: "hi" }));

    expect(err).toBeInstanceOf(twilio.RestException);
    expect(err).toMatchObject({ status: 400, code: 21603 });
    expect((err as Error).message).toContain("From");
    expect((err as Error).message).toContain("MessagingServiceSid");
    expect(server.messages).toHaveLength(0);
  });

  it("rejects a message with no Body, MediaUrl or ContentSid", async () => {
    const err = await rejectionOf(client.messages.create({ to: TO, from: FROM }));

    expect(err).toMatchObject({ status: 400, code: 21602 });
  });

  it("failNext makes the next valid request fail, then recovers", async () => {
    server.failNext(1, { status: 500, code: 20500, message: "Internal Server Error" });

    const err = await rejectionOf(client.messages.create({ to: TO, from: FROM, body: "first" }));
    expect(err).toBeInstanceOf(twilio.RestException);
    expect(err).toMatchObject({ status: 500, code: 20500, message: "Internal Server Error" });
    expect(server.messages).toHaveLength(0);

    const msg = await client.messages.create({ to: TO, from: FROM, body: "second" });
    expect(msg.status).toBe("queued");
    expect(server.messages.map((m) => m.Body)).toEqual(["second"]);
    expect(server.requests.map((r) => [r.status, r.code])).toEqual([
      [500, 20500],
      [201, null],
    ]);
  });

  it("failFor fails every request to one number with 400 / 21211", async () => {
    const bad = "+15005550001";
    const failure = { status: 400, code: 21211, message: `The 'To' number ${bad} is not a valid phone number.` };
    server.failFor(bad, failure);

    for (let i = 0; i < 2; i++) {
      const err = await rejectionOf(client.messages.create({ to: bad, from: FROM, body: "hi" }));
      expect(err).toBeInstanceOf(twilio.RestException);
      expect(err).toMatchObject(failure);
    }
    const ok = await client.messages.create({ to: TO, from: FROM, body: "hi" });

    expect(server.messages.map((m) => m.sid)).toEqual([ok.sid]);
  });

  it("does not retry inside the SDK: a 429 surfaces after a single request", async () => {
    server.failNext(1, { status: 429, code: 20429, message: "Too Many Requests" });

    const err = await rejectionOf(client.messages.create({ to: TO, from: FROM, body: "hi" }));

    expect(err).toMatchObject({ status: 429, code: 20429 });
    expect(server.requests).toHaveLength(1);
    expect(server.messages).toHaveLength(0);
    const direct = createTwilioClient({ accountSid: server.accountSid, authToken: server.authToken });
    expect(direct.httpClient.autoRetry).toBe(false);
  });

  it("keeps a path prefix of the base URL", async () => {
    const prefixed = createTwilioClient({
      accountSid: server.accountSid,
      authToken: server.authToken,
      baseUrl: `${server.url}/mount/`,
    });

    const err = await rejectionOf(prefixed.messages.create({ to: TO, from: FROM, body: "hi" }));

    expect(err).toMatchObject({ status: 404, code: 20404 });
    expect(server.requests.map((r) => r.path)).toEqual([`/mount${messagesPath()}`]);
  });

  it("waitForMessages resolves once n messages have been accepted", async () => {
    const waiting = server.waitForMessages(2);
    await Promise.all([
      client.messages.create({ to: "+15005550010", from: FROM, body: "a" }),
      client.messages.create({ to: "+15005550011", from: FROM, body: "b" }),
    ]);

    const messages = await waiting;

    expect(messages).toHaveLength(2);
    expect(messages.map((m) => m.To).sort()).toEqual(["+15005550010", "+15005550011"]);
  });

  it("waitForMessages rejects when too few messages arrive in time", async () => {
    await client.messages.create({ to: TO, from: FROM, body: "only one" });

    await expect(server.waitForMessages(2, 50)).rejects.toThrow(/only 1 message/);
  });

  it("serves Verify v2 through the same base URL", async () => {
    const service = client.verify.v2.services(VERIFY_SERVICE_SID);

    const started = await service.verifications.create({ to: TO, channel: "sms" });
    expect(started.sid).toMatch(/^VE[0-9a-f]{32}$/);
    expect(started.status).toBe("pending");

    const wrong = await service.verificationChecks.create({ to: TO, code: "000000" });
    expect(wrong.status).toBe("pending");
    expect(wrong.valid).toBe(false);

    const right = await service.verificationChecks.create({ to: TO, code: server.verifications[0]?.code ?? "" });
    expect(right.status).toBe("approved");
    expect(right.valid).toBe(true);
    expect(server.requests.map((r) => r.path)).toEqual([
      `/v2/Services/${VERIFY_SERVICE_SID}/Verifications`,
      `/v2/Services/${VERIFY_SERVICE_SID}/VerificationCheck`,
      `/v2/Services/${VERIFY_SERVICE_SID}/VerificationCheck`,
    ]);
  });

  it("rejects a Verify channel outside the documented enum", async () => {
    const err = await rejectionOf(client.verify.v2.services(VERIFY_SERVICE_SID).verifications.create({ to: TO, channel: "pigeon" }));

    expect(err).toMatchObject({ status: 400, code: 60200 });
    expect((err as Error).message).toContain("Channel");
  });

  it("answers a Verify 'auto' channel with a concrete channel, like the spec's example", async () => {
    const started = await client.verify.v2.services(VERIFY_SERVICE_SID).verifications.create({ to: TO, channel: "auto" });

    expect(started.channel).toBe("sms");
    expect(server.verifications.map((v) => v.channel)).toEqual(["sms"]);
  });
});
