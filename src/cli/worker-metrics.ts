import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../logger.js";
import { HeraldMetrics } from "../metrics.js";
import type { RunningWorkers } from "../workers/start.js";

/**
 * `herald worker` has no API, but its deliveries, retries and provider errors happen only in its own
 * process: with HERALD_METRICS_PORT it serves /metrics and /healthz for Prometheus and the orchestrator.
 */
export async function serveWorkerMetrics(
  workers: RunningWorkers,
  opts: { port: number; host: string; logger: Logger },
): Promise<{ address: string; close(): Promise<void> }> {
  const metrics = new HeraldMetrics({ deadLetters: workers.deadLetters, logger: opts.logger });
  const detach = metrics.attach(workers.events);
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method === "GET" && path === "/metrics") {
      metrics.render().then(
        (body) => response.writeHead(200, { "content-type": metrics.contentType }).end(body),
        () => response.writeHead(500).end(),
      );
    } else if (request.method === "GET" && path === "/healthz") {
      const running = workers.workers.every((w) => w.isRunning() && !w.closing);
      response.writeHead(running ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify({ status: running ? "ok" : "stopping" }));
    } else {
      response.writeHead(404).end();
    }
  });
  server.listen(opts.port, opts.host);
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const address = `http://${opts.host}:${port}`;
  opts.logger.info({ address }, "worker metrics listening");
  return {
    address,
    async close() {
      detach();
      server.close();
      await once(server, "close");
    },
  };
}
