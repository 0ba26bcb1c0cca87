import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { startService } from "../../src/cli/service.js";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/logger.js";
import { Herald } from "../../src/queues/producer.js";
import { deleteKeys, testEnv } from "../support/herald.js";
import { Redis } from "ioredis";

describe("herald's own OTLP export, switched on by the standard OTEL_* variables", () => {
  const env = testEnv();
  const config = loadConfig(env);
  const redis = new Redis(config.REDIS_URL);
  afterAll(async () => {
    await deleteKeys(redis, config.HERALD_PREFIX);
    redis.disconnect();
  });

  it("a worker started with OTEL_EXPORTER_OTLP_ENDPOINT posts its spans to that collector (OTLP/HTTP)", async () => {
    const bodies: { path: string; type: string; body: string }[] = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        bodies.push({ path: req.url ?? "", type: String(req.headers["content-type"]), body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    collector.listen(0, "127.0.0.1");
    await once(collector, "listening");
    // The exporter reads the standard variables from the process environment itself.
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    process.env.OTEL_SERVICE_NAME = "herald-under-test";
    const service = await startService({ config, logger: createLogger({ level: "silent" }), redisExplicit: true, workers: true, http: false });
    const herald = new Herald({ redis: config.REDIS_URL, prefix: config.HERALD_PREFIX, encryptionKey: config.HERALD_ENCRYPTION_KEY });
    try {
      const { id } = await herald.emailVerification({
        recipient: { userId: "u", email: "otlp.person@example.org" },
        code: "OTLP-CODE-1",
        url: "https://x.test/v?c=OTLP-CODE-1",
      });
      await herald.waitFor(id, { timeoutMs: 10_000 });
    } finally {
      await herald.close();
      await service.close(); // flushes the batch of spans
      collector.close();
      delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      delete process.env.OTEL_SERVICE_NAME;
    }
    const traces = bodies.filter((b) => b.path === "/v1/traces");
    expect(traces.length).toBeGreaterThan(0);
    const all = traces.map((t) => t.body).join("\n");
    for (const name of ["herald.enqueue", "process email", "herald.render", "herald.send"]) expect(all).toContain(name);
    expect(all).toContain("herald-under-test");
    expect(all).not.toMatch(/OTLP-CODE-1|otlp\.person/);
  });
});
