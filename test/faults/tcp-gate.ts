import { once } from "node:events";
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from "node:net";

/**
 * A TCP pass-through in front of a real server that can be shut (the port refuses connections and open
 * ones are cut, as when a mail relay goes down) and opened again on the same port.
 */
export interface TcpGate {
  port: number;
  shut(): Promise<void>;
  open(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTcpGate(targetPort: number): Promise<TcpGate> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;

  const listen = async () => {
    const s = createServer((client) => {
      const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
      for (const sock of [client, upstream]) {
        sockets.add(sock);
        sock.on("close", () => sockets.delete(sock));
        sock.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
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
    for (const sock of sockets) sock.destroy();
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
