import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_CONNECTION_LIMITS } from "../../src/http/index.js";
import { ENQUEUE_TOKEN, startApiHarness, type ApiHarness } from "../support/harness.js";

// Short limits so the test is quick; the defaults are checked for sanity separately.
const limits = { requestTimeoutMs: 1500, headersTimeoutMs: 800, keepAliveTimeoutMs: 500, idleTimeoutMs: 10_000, maxConnections: 20, checkIntervalMs: 100 };

interface Held {
  socket: Socket;
  received: string;
  closed: Promise<number>;
}

describe("slow and idle clients are cut off", () => {
  let h: ApiHarness;
  let port: number;

  beforeAll(async () => {
    h = await startApiHarness({ workers: false, server: { connectionLimits: limits } });
    await h.app.listen({ port: 0, host: "127.0.0.1" });
    port = (h.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await h?.close();
  });

  /** A raw socket that writes `text` and reports how long after connecting the server closed it (a reset counts as closed). */
  async function open(text: string): Promise<Held> {
    const socket = connect(port, "127.0.0.1");
    const started = Date.now();
    const held: Held = { socket, received: "", closed: Promise.resolve(0) };
    socket.on("data", (chunk) => (held.received += chunk.toString()));
    socket.on("error", () => {});
    held.closed = once(socket, "close").then(() => Date.now() - started);
    if (text) socket.write(text);
    await Promise.race([once(socket, "connect").catch(() => {}), held.closed]);
    return held;
  }

  const head = (length: number) =>
    `POST /v1/notifications/phone-verification HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ENQUEUE_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

  it("ten clients sending half a body are answered 408 and disconnected after the request timeout", async () => {
    const clients = await Promise.all(Array.from({ length: 10 }, () => open(head(200) + '{"recipient":{"userId":"u",')));
    const times = await Promise.all(clients.map((c) => c.closed));
    for (const [i, ms] of times.entries()) {
      expect(ms, `client ${i}`).toBeGreaterThanOrEqual(limits.requestTimeoutMs - 100);
      expect(ms, `client ${i}`).toBeLessThan(limits.requestTimeoutMs + 5000);
      expect(clients[i]!.received).toMatch(/^HTTP\/1\.1 408/);
    }
  });

  it("a client that never finishes its headers is disconnected after the header timeout", async () => {
    const slow = await open("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    const ms = await slow.closed;
    expect(ms).toBeGreaterThanOrEqual(limits.headersTimeoutMs - 100);
    expect(ms).toBeLessThan(limits.requestTimeoutMs + 5000);
  });

  it("an idle keep-alive connection is closed after the keep-alive timeout, once its request is answered", async () => {
    const client = await open("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    const ms = await client.closed;
    expect(client.received).toMatch(/^HTTP\/1\.1 200/);
    expect(ms).toBeLessThan(limits.keepAliveTimeoutMs + 5000);
  });

  it("connections beyond the cap are closed at once, unanswered", async () => {
    // Twenty slow clients (each holding its connection until the request timeout) fill the cap.
    const within = await Promise.all(Array.from({ length: limits.maxConnections }, () => open(head(200) + "{")));
    // The server counts a connection once it has accepted it, which a client's "connect" can precede.
    await expect.poll(() => new Promise((resolve) => h.app.server.getConnections((_, n) => resolve(n)))).toBe(limits.maxConnections);
    const beyond = await open("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(await beyond.closed).toBeLessThan(limits.requestTimeoutMs);
    expect(beyond.received).toBe("");
    await Promise.all(within.map((c) => c.closed));
    // Once they are gone, a new client is served again.
    const after = await open("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    await after.closed;
    expect(after.received).toMatch(/^HTTP\/1\.1 200/);
  });

  it("the defaults are finite and in a sane order", () => {
    const d = DEFAULT_CONNECTION_LIMITS;
    expect(d.headersTimeoutMs).toBeGreaterThan(0);
    expect(d.headersTimeoutMs).toBeLessThanOrEqual(d.requestTimeoutMs);
    expect(d.requestTimeoutMs).toBeLessThanOrEqual(60_000);
    expect(d.keepAliveTimeoutMs).toBeGreaterThan(0);
    expect(d.idleTimeoutMs).toBeGreaterThan(60_000); // bulk dead-letter operations may take 60 s
    expect(d.maxConnections).toBeGreaterThan(0);
    expect(h.app.server.requestTimeout).toBe(limits.requestTimeoutMs);
  });
});
