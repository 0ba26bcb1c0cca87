import type { Agent } from "node:https";
import { describe, expect, it } from "vitest";
import { createTwilioClient } from "../../src/channels/twilio-client.js";

/** The HTTPS agent the SDK's request client sends through (what limits connections to Twilio). */
function agentOf(client: ReturnType<typeof createTwilioClient>): Agent {
  return (client.httpClient as unknown as { axios: { defaults: { httpsAgent: Agent } } }).axios.defaults.httpsAgent;
}

describe("the Twilio client's connections", () => {
  const account = { accountSid: `AC${"0".repeat(32)}`, authToken: "0".repeat(32) };

  it("opens as many HTTPS connections as SMS are in flight, to Twilio itself and through a base URL", () => {
    expect(agentOf(createTwilioClient({ ...account, maxSockets: 50 })).maxSockets).toBe(50);
    expect(agentOf(createTwilioClient({ ...account, baseUrl: "https://twilio-proxy.example.com", maxSockets: 75 })).maxSockets).toBe(75);
  });

  it("keeps the SDK's own 20 when not told", () => {
    expect(agentOf(createTwilioClient(account)).maxSockets).toBe(20);
  });
});
