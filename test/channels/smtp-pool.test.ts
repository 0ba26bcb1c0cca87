import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSmtpProvider } from "../../src/channels/smtp.js";
import { startSmtpServer, type SmtpTestServer } from "../support/smtp-server.js";

describe("SMTP pool: mails per connection (SMTP_POOL_MAX_MESSAGES)", () => {
  let server: SmtpTestServer;
  beforeAll(async () => {
    server = await startSmtpServer();
  });
  afterAll(() => server.close());

  const send = async (maxMessages: number | undefined, n: number) => {
    const before = server.connections;
    const provider = createSmtpProvider({ url: server.url, from: "Acme <no-reply@acme.test>", poolSize: 1, ...(maxMessages ? { maxMessages } : {}) });
    for (let i = 0; i < n; i++) await provider.send({ to: { address: `u${i}@example.com` }, subject: "s", html: "<p>h</p>", text: "h" });
    await provider.close();
    return server.connections - before;
  };

  it("by default keeps one connection for more than nodemailer's 100 mails", async () => {
    expect(await send(undefined, 130)).toBe(1);
  });

  it("opens a new connection every maxMessages mails when a limit is set", async () => {
    expect(await send(50, 130)).toBe(3);
  });
});
