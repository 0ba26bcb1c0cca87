import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
  /** The payload as the standardwebhooks package verified it, with the endpoint's newest secret. */
  payload?: { type: string; timestamp: string; data: Record<string, unknown> & { id: string; times: Record<string, string> } };
}

/** A producer's webhook receiver: verifies every request with the standardwebhooks package. */
export async function startReceiver(secrets: Record<string, string>, answer: (path: string, nth: number) => number | "hang") {
  const received: Received[] = [];
  const counts = new Map<string, number>();
  const waiting: { test: (r: Received) => boolean; resolve: (r: Received) => void }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "/";
      // The how-many-th request of this message at this endpoint.
      const message = `${path} ${String(req.headers["webhook-id"])}`;
      const nth = (counts.get(message) ?? 0) + 1;
      counts.set(message, nth);
      const body = Buffer.concat(chunks).toString("utf8");
      const how = answer(path, nth);
      const entry: Received = { path, headers: req.headers, body, answered: how === "hang" ? 0 : how };
      try {
        entry.payload = new Webhook(secrets[path]!).verify(body, req.headers as Record<string, string>) as Received["payload"];
      } catch {
        entry.answered = 401;
      }
      received.push(entry);
      for (const w of waiting.filter((w) => w.test(entry))) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(entry);
      }
      if (how !== "hang") res.writeHead(entry.answered).end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    next(test: (r: Received) => boolean): Promise<Received> {
      const seen = received.find(test);
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiting.push({ test, resolve }));
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
