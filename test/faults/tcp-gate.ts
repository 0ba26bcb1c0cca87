import { once } from "node:events";
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from "node:net";

/**
 * A TCP pass-through in front of a real server that can be shut (the port refuses connections and the
 * clients' open connections are cut, as when a mail relay goes down) and opened again on the same port.
 * Toward the server every connection is ended politely, even when its client was killed: the test SMTP
 * server treats a reset in mid-transaction as an error nobody listens to, which would crash the test.
 */
export interface TcpGate {
  port: number;
  shut(): Promise<void>;
  open(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTcpGate(targetPort: number): Promise<TcpGate> {
  const clients = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;

  const listen = async () => {
    const s = createServer((client) => {
      const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
      clients.add(client);
      const endUpstream = () => {
        clients.delete(client);
        upstream.end();
      };
      client.on("error", endUpstream);
      client.on("close", endUpstream);
      upstream.on("error", () => client.destroy());
      upstream.on("close", () => client.destroy());
      client.pipe(upstream, { end: false });
      upstream.pipe(client);
    });
    s.listen(port, "127.0.0.1");
    await once(s, "listening");
    port = (s.address() as AddressInfo).port;
    server = s;
  };

  const shut = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    const closed = new Promise<void>((done) => s.close(() => done()));
    for (const client of clients) client.destroy();
    await closed;
  };

  await listen();
  return {
    port,
    shut,
    open: () => (server ? Promise.resolve() : listen()),
    stop: shut,
  };
}
