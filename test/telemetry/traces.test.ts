import { Writable } from "node:stream";
import { SpanKind, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.js";
import { tracingActive, tracingWanted } from "../../src/telemetry/tracing.js";
import { asEnqueue, startApiHarness, type ApiHarness } from "../support/harness.js";

/** Finished spans in memory, with a way to wait for one (a span ends after the event that reports its job). */
const exporter = new InMemorySpanExporter();
const ended: ((span: ReadableSpan) => void)[] = [];
const notify: SpanProcessor = {
  onStart: () => {},
  onEnd: (span) => ended.forEach((listener) => listener(span)),
  forceFlush: async () => {},
  shutdown: async () => {},
};
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter), notify] });

function spanEnded(test: (span: ReadableSpan) => boolean): Promise<ReadableSpan> {
  const done = exporter.getFinishedSpans().find(test);
  if (done) return Promise.resolve(done);
  return new Promise((resolve) => {
    const listener = (span: ReadableSpan) => {
      if (!test(span)) return;
      ended.splice(ended.indexOf(listener), 1);
      resolve(span);
    };
    ended.push(listener);
  });
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe("OpenTelemetry: one trace per notification, producer → job → render → send", () => {
  let h: ApiHarness;

  beforeAll(async () => {
    expect(tracingActive()).toBe(false); // nothing registered: Herald adds no telemetry at all
    provider.register();
    expect(tracingActive()).toBe(true);
    h = await startApiHarness();
  });
  afterAll(async () => {
    await h?.close();
    await provider.shutdown();
  });

  it("SDK enqueue → BullMQ add → worker process → render → send, linked in one trace, with no personal data in any attribute", async () => {
    const code = "TRACE-CODE-4242";
    const url = "https://id.example.com/verify?secret=trace-link-secret";
    const { id } = await h.herald.emailVerification({ recipient: { userId: "u-trace", email: "traced.person@example.org" }, code, url });

    const send = await spanEnded((s) => s.name === "herald.send" && s.attributes["herald.notification_id"] === id);
    const render = await spanEnded((s) => s.name === "herald.render" && s.attributes["herald.notification_id"] === id);
    const enqueue = await spanEnded((s) => s.name === "herald.enqueue" && s.attributes["herald.notification_id"] === id);
    const traceId = enqueue.spanContext().traceId;
    const inTrace = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const process = await spanEnded((s) => s.name === "process email" && s.spanContext().traceId === traceId);
    const add = inTrace().find((s) => s.name === "add email.email-verification")!;

    expect(add).toBeDefined();
    expect(parentOf(enqueue)).toBeUndefined(); // the producer's span is the root
    expect(parentOf(add)).toBe(enqueue.spanContext().spanId);
    expect(parentOf(process)).toBe(add.spanContext().spanId); // the context crossed Redis in the job
    expect(parentOf(render)).toBe(process.spanContext().spanId);
    expect(parentOf(send)).toBe(process.spanContext().spanId);
    expect(send.kind).toBe(SpanKind.CLIENT); // the call out to the provider
    expect(render.kind).toBe(SpanKind.INTERNAL);
    expect(send.attributes).toMatchObject({ "herald.kind": "email-verification", "herald.channel": "email", "herald.provider": "outbox" });

    const everything = JSON.stringify(inTrace().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events })));
    expect(everything).not.toMatch(/TRACE-CODE-4242|trace-link-secret|traced\.person|example\.org/);
  });

  it("an HTTP producer's traceparent continues into the enqueue", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const response = await h.app.inject({
      method: "POST",
      url: "/v1/notifications/email-verification",
      headers: { ...asEnqueue, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      payload: { recipient: { userId: "u-http", email: "http.person@example.org" }, code: "HTTP-1", url: "https://id.example.com/v" },
    });
    expect(response.statusCode).toBe(202);
    const enqueue = await spanEnded((s) => s.name === "herald.enqueue" && s.attributes["herald.notification_id"] === response.json().id);
    expect(enqueue.spanContext().traceId).toBe(traceId);
    expect(parentOf(enqueue)).toBe("00f067aa0ba902b7");
  });

  it("log lines carry trace_id and span_id inside a span, and nothing outside", () => {
    const lines: string[] = [];
    const logger = createLogger(
      { level: "info" },
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    logger.info("outside");
    const ids = trace.getTracer("test").startActiveSpan("logging", (span) => {
      logger.info("inside");
      span.end();
      return span.spanContext();
    });
    const [outside, inside] = lines.map((l) => JSON.parse(l));
    expect(outside.trace_id).toBeUndefined();
    expect(inside).toMatchObject({ trace_id: ids.traceId, span_id: ids.spanId });
  });

  it("exporting is wanted only when HERALD_OTEL or the standard OTEL_* variables say so", () => {
    expect(tracingWanted(undefined, {})).toBe(false);
    expect(tracingWanted(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://jaeger:4318" })).toBe(true);
    expect(tracingWanted(undefined, { OTEL_TRACES_EXPORTER: "otlp" })).toBe(true);
    expect(tracingWanted(undefined, { OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://x" })).toBe(false);
    expect(tracingWanted(undefined, { OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://x" })).toBe(false);
    expect(tracingWanted(true, {})).toBe(true);
    expect(tracingWanted(false, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://x" })).toBe(false);
  });
});
