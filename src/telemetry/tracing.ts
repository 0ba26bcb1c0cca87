import { type Attributes, isSpanContextValid, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { BullMQOtel } from "bullmq-otel";

/**
 * Tracing through the OpenTelemetry API only: spans are recorded when an OpenTelemetry SDK has been
 * registered in the process (by `herald start|worker|api` when HERALD_OTEL / OTEL_* ask for it, or by a
 * producer's own set-up); otherwise nothing here runs beyond one check at start. Attributes carry ids,
 * kinds, channels and providers, never a code, link, address or text.
 */

export const TRACER_NAME = "herald";

/** Whether a tracer provider that records spans is registered now (checked once per producer or worker). */
export function tracingActive(): boolean {
  const probe = trace.getTracer(TRACER_NAME).startSpan("herald.probe");
  const active = isSpanContextValid(probe.spanContext());
  // Never ended: an unended span is not exported.
  return active;
}

let telemetry: BullMQOtel | undefined;

/** BullMQ's `telemetry` option (bullmq-otel): job spans, and the trace context carried in the job across Redis. Undefined when off. */
export function bullmqTelemetry(enabled: boolean): BullMQOtel | undefined {
  if (!enabled) return undefined;
  telemetry ??= new BullMQOtel({ tracerName: TRACER_NAME });
  return telemetry;
}

/**
 * Runs `fn` inside a child span of the active one when `enabled`; just runs it otherwise. Errors mark the
 * span and pass through. `client`: the span is a call out to another service (the provider), SpanKind.CLIENT.
 */
export async function inSpan<T>(enabled: boolean, name: string, attributes: Attributes, fn: (span?: Span) => Promise<T>, client = false): Promise<T> {
  if (!enabled) return fn();
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, { attributes, kind: client ? SpanKind.CLIENT : SpanKind.INTERNAL }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.name ?? "Error" });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The active span's ids for a log line (`trace_id`, `span_id`), or nothing. */
export function traceIds(): { trace_id: string; span_id: string } | Record<string, never> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/**
 * Whether `herald start|worker|api` exports traces: HERALD_OTEL=1 yes, HERALD_OTEL=0 no; unset, when the
 * standard variables name a trace exporter or an OTLP endpoint (and OTEL_SDK_DISABLED is not true).
 */
export function tracingWanted(heraldOtel: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  if (heraldOtel !== undefined) return heraldOtel;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim();
  if (exporter) return exporter !== "none";
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}
