import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { locale as localeTag } from "../../contracts/fields.js";
import { toFieldIssues, ValidationError, type FieldIssue, type JobInput, type KindName } from "../../contracts/index.js";
import { RateLimitedError } from "../../errors/index.js";
import type { Logger } from "../../logger.js";
import type { HeraldMetrics } from "../../metrics.js";
import type { EnqueueResult, Herald } from "../../queues/producer.js";
import { PROBLEM_TYPES, sendProblem } from "../problem.js";

/** What every adapter needs: the producer the HTTP API enqueues with, and where jobs go. */
export interface AdapterOptions {
  herald: Herald;
  metrics: HeraldMetrics;
  logger: Logger;
  /** Longest wait for Redis before answering 503. */
  redisTimeoutMs: number;
  /** The tenant of the jobs, unless the request's `?tenant=` names another. */
  tenant?: string;
}

/**
 * The bodies identity servers send carry the whole user (Supabase) or identity (Kratos), so the limit is
 * above the API's 64 KiB; still far below anything but a mistake or an attack.
 */
export const ADAPTER_BODY_LIMIT = 256 * 1024;

/** A request the adapter will not turn into a job: answered with `status` (a 4xx) and the reason. */
export class AdapterRefusal extends Error {
  override readonly name = "AdapterRefusal";
  constructor(
    readonly status: number,
    readonly title: string,
    message: string,
    readonly type: string = PROBLEM_TYPES.invalidRequest,
    readonly errors?: FieldIssue[],
    /** Seconds, sent as Retry-After (a resend limit). */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/** zod's message for a field the adapter needs: "is required" when absent, else "must be <what>" (e.g. "an object"). */
export const requiredAs = (what: string) => ({ error: (i: { input: unknown }) => (i.input === undefined ? "is required" : `must be ${what}`) });

/** A string the payload must carry, not empty (a message type, a user id, a code). */
export const requiredText = z.string(requiredAs("a string")).min(1, "must not be empty");

/** Fastify route options of an adapter endpoint: the adapters' body limit, and its OpenAPI entry under the "adapters" tag. */
export function adapterRoute(schema: { operationId: string; summary: string; description: string }) {
  return { bodyLimit: ADAPTER_BODY_LIMIT, schema: { tags: ["adapters"], ...schema } };
}

/** 401: the signature or key is missing, wrong or stale. Never says which secret was tried. */
export const unauthorized = (message: string) => new AdapterRefusal(401, "Unauthorized", message, PROBLEM_TYPES.unauthorized);

/** 400 naming the payload field the job needs (e.g. the recipient's address). */
export const missingField = (field: string, what: string) =>
  new AdapterRefusal(400, "Invalid request", `${field} is required: ${what}; nothing was queued.`, PROBLEM_TYPES.invalidRequest, [
    { field, message: "is required" },
  ]);

export function missingThrow(field: string, what: string): never {
  throw missingField(field, what);
}

/** 422 naming a message type the adapter does not know (rather than guessing a kind for it). */
export const unknownType = (server: string, field: string, type: string, known: readonly string[]) =>
  new AdapterRefusal(
    422,
    "Unknown message type",
    `${server} ${field} "${type.slice(0, 100)}" has no Herald kind; nothing was queued. Known: ${known.join(", ")}.`,
    PROBLEM_TYPES.unknownMessageType,
    [{ field, message: `"${type.slice(0, 100)}" is not a known type` }],
  );

/**
 * Takes every body as its raw text: signatures are computed over the exact bytes, so the body is parsed
 * as JSON only after the signature checked out. Scoped to the adapter's plugin.
 */
export function rawBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_request, body, done) => done(null, body));
}

export function rawBody(request: FastifyRequest): string {
  return typeof request.body === "string" ? request.body : "";
}

/** The payload as JSON, checked against the shape the adapter reads (unknown fields are ignored). */
export function parsePayload<S extends z.ZodType>(raw: string, schema: S): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new AdapterRefusal(400, "Invalid request", "The body is not valid JSON; nothing was queued.", PROBLEM_TYPES.invalidRequest, [
      { field: "", message: "must be a JSON object" },
    ]);
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const errors = toFieldIssues(result.error);
    throw new AdapterRefusal(
      400,
      "Invalid request",
      `The payload has ${errors.length} invalid field(s): ${errors.map((e) => `${e.field} ${e.message}`).join("; ")}; nothing was queued.`,
      PROBLEM_TYPES.invalidRequest,
      errors,
    );
  }
  return result.data;
}

/**
 * The job's idempotency key, derived from what identifies the server's message (its id where it sends
 * one, else its type, recipient and code): the server's retries of one message all carry the same key.
 * A keyed hash (Herald.idempotencyHash: HMAC under a key derived from the encryption key), so neither a
 * code nor an address can be recovered from the key in Redis, not even by trying every 6-digit code.
 */
export function idempotencyKey(opts: Pick<AdapterOptions, "herald">, server: string, parts: readonly unknown[]): string {
  const value = parts.map((p) => (p === undefined || p === null ? "" : String(p))).join("\u0000");
  return `${server}:${opts.herald.idempotencyHash(`adapter:${server}`, value)}`;
}

/** The first of the candidates that is a BCP 47 tag Herald accepts (`de-CH`, `en`), `_` read as `-`. */
export function firstLocale(...candidates: unknown[]): string | undefined {
  for (const candidate of candidates) {
    if (typeof candidate !== "string" || candidate.trim() === "") continue;
    const tag = candidate.trim().replace(/_/g, "-");
    if (localeTag.safeParse(tag).success) return tag;
  }
  return undefined;
}

/** The first candidate that is a non-empty string, trimmed and cut to `max` characters. */
export function firstText(max: number, ...candidates: unknown[]): string | undefined {
  for (const candidate of candidates) {
    if (typeof candidate === "string" && candidate.trim() !== "") return [...candidate.trim()].slice(0, max).join("");
  }
  return undefined;
}

/** `now + ms` as an ISO time, or undefined for no or a non-positive duration. */
export function expiresAfter(ms: number | undefined, now = Date.now()): string | undefined {
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) return undefined;
  return new Date(now + ms).toISOString();
}

/** An ISO time the contracts accept (with zone), from whatever the server sent; undefined otherwise. */
export function isoTimeOf(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** The query string's `tenant` and `locale` (the adapter URL configured in the identity server). */
export function queryOptions(request: FastifyRequest, opts: AdapterOptions): { tenant?: { id: string }; locale?: string } {
  const query = (request.query ?? {}) as Record<string, unknown>;
  const tenant = firstText(200, query.tenant, opts.tenant);
  return { tenant: tenant ? { id: tenant } : undefined, locale: firstLocale(query.locale) };
}

/**
 * Enqueues through the producer the HTTP API uses (same validation, sealing, idempotency). A job the
 * contract refuses becomes a 400 listing its fields; Redis trouble (and any other producer error) goes
 * to the server's error handler like the API's, so e.g. 503 with Retry-After.
 */
export async function enqueueJob<K extends KindName>(opts: AdapterOptions, kind: K, job: JobInput<K>): Promise<EnqueueResult> {
  try {
    const result = await opts.herald.enqueue(kind, job, { timeoutMs: opts.redisTimeoutMs });
    opts.metrics.enqueued(result);
    return result;
  } catch (error) {
    throw refusalOf(opts, kind, error, `The ${kind} job built from the payload has`);
  }
}

/** Several jobs of one message (validated all before any is queued), or one as enqueueJob. */
export async function enqueueJobs(opts: AdapterOptions, items: readonly { kind: KindName; job: Record<string, unknown> }[]): Promise<EnqueueResult[]> {
  if (items.length === 1) return [await enqueueJob(opts, items[0]!.kind, items[0]!.job as never)];
  try {
    const results = await opts.herald.enqueueBulk(
      items.map((i) => ({ kind: i.kind, job: i.job as never })),
      { timeoutMs: opts.redisTimeoutMs },
    );
    for (const result of results) opts.metrics.enqueued(result);
    return results;
  } catch (error) {
    throw refusalOf(opts, items[0]?.kind ?? "unknown", error, "The jobs built from the payload have");
  }
}

/** The producer's refusals as the adapter's answers; anything else goes on to the server's error handler. */
function refusalOf(opts: AdapterOptions, kind: string, error: unknown, what: string): unknown {
  if (error instanceof ValidationError) return invalidJobs(what, error);
  if (error instanceof RateLimitedError) {
    opts.metrics.rateLimited(kind, error);
    return new AdapterRefusal(429, "Too many notifications", `${error.message}. Nothing was queued.`, PROBLEM_TYPES.rateLimited, undefined, error.retryAfter);
  }
  return error;
}

/** A job the contract refuses: 400 listing its fields (`what` names the job or jobs). */
function invalidJobs(what: string, error: ValidationError): AdapterRefusal {
  return new AdapterRefusal(
    400,
    "Invalid notification",
    `${what} ${error.issues.length} invalid field(s): ${error.issues.map((i) => `${i.field} ${i.message}`).join("; ")}; nothing was queued.`,
    PROBLEM_TYPES.validation,
    error.issues,
  );
}

/** A refusal as problem details; anything else is rethrown for the server's error handler. */
export function answerRefusal(reply: FastifyReply, error: unknown): FastifyReply {
  if (!(error instanceof AdapterRefusal)) throw error;
  if (error.status === 401) reply.header("www-authenticate", 'Signature realm="Herald"');
  if (error.retryAfter !== undefined) reply.header("retry-after", String(error.retryAfter));
  return sendProblem(reply, {
    type: error.type,
    title: error.title,
    status: error.status,
    detail: error.message,
    ...(error.errors ? { errors: error.errors } : {}),
  });
}

/** The log line of an accepted message: which server, kind and job, never whom or what. */
export function logAccepted(request: FastifyRequest, server: string, type: string, results: readonly EnqueueResult[]): void {
  request.log.info(
    { adapter: server, type: type.slice(0, 100), jobs: results.map((r) => ({ id: r.id, kind: r.kind, deduplicated: r.deduplicated })) },
    "adapter message queued",
  );
}

export function stripUndefined<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** A query parameter of a URL the server built; undefined when the URL does not parse. */
export function queryParam(url: string | undefined, name: string): string | undefined {
  try {
    return url ? (new URL(url).searchParams.get(name) ?? undefined) : undefined;
  } catch {
    return undefined;
  }
}

export function hostOf(url: string | undefined): string | undefined {
  try {
    return url ? new URL(url).host || undefined : undefined;
  } catch {
    return undefined;
  }
}
