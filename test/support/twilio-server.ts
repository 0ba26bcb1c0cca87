// A fake Twilio REST server for tests. Every request is checked against
// Twilio's own OpenAPI spec (test/fixtures/twilio/openapi-subset.json, generated
// by scripts/extract-twilio-fixtures.mjs), and every response it produces is
// checked against the documented response schema, so the fake cannot drift
// from what real Twilio accepts and returns.
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

// ---------------------------------------------------------------------------
// Public API

/** Form parameters as sent (array-typed parameters such as MediaUrl are arrays). */
export type FormParams = Record<string, string | string[]>;

/** An accepted create-message request: its form parameters plus the sid answered. */
export interface Message {
  sid: string;
  To: string;
  From?: string;
  MessagingServiceSid?: string;
  Body?: string;
  MediaUrl?: string[];
  ContentSid?: string;
  [param: string]: string | string[] | undefined;
}

/** A started Verify verification (POST /v2/Services/{ServiceSid}/Verifications). */
export interface Verification {
  sid: string;
  serviceSid: string;
  to: string;
  channel: string;
  /** The code a VerificationCheck must present: CustomCode if sent, else "123456". */
  code: string;
  status: "pending" | "approved";
  params: FormParams;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** operationId from the spec, if the request matched a documented operation. */
  operationId: string | null;
  /** Parsed form body (POST) or query string (GET). */
  params: FormParams;
  /** HTTP status answered. */
  status: number;
  /** Twilio error code answered, or null on success. */
  code: number | null;
}

/** A Twilio error to answer with, e.g. { status: 400, code: 21211, message: "..." }. */
export interface TwilioFailure {
  status: number;
  code: number;
  message?: string;
  moreInfo?: string;
}

export interface TwilioServer {
  /** e.g. http://127.0.0.1:54321 (no trailing slash). */
  readonly url: string;
  readonly accountSid: string;
  readonly authToken: string;
  /** Accepted create-message requests, in order. */
  readonly messages: Message[];
  /** Started verifications, in order. */
  readonly verifications: Verification[];
  /** Every request received, in order, with the status answered. */
  readonly requests: RecordedRequest[];
  /** The next n valid create-message requests fail with `failure` (queued after earlier failNext calls). */
  failNext(n: number, failure: TwilioFailure): void;
  /** Every valid create-message request to `to` fails with `failure` (takes precedence over failNext). */
  failFor(to: string, failure: TwilioFailure): void;
  /** Drop all failNext/failFor rules. */
  clearFailures(): void;
  /** Clear recorded messages, verifications, requests and failure rules. */
  reset(): void;
  /** Resolves with the first n accepted messages once n have been accepted and answered; rejects after timeoutMs or on close(). */
  waitForMessages(n: number, timeoutMs?: number): Promise<Message[]>;
  close(): Promise<void>;
}

/** Twilio's magic test numbers Herald sends from: the primary sender's and the fallback sender's. */
export const TWILIO_TEST_FROM = "+15005550006";
export const TWILIO_FALLBACK_TEST_FROM = "+15005550009";

/**
 * The variables that point Herald's Twilio provider at this test server, sending from TWILIO_TEST_FROM;
 * with `fallback`, the TWILIO_FALLBACK_* ones (the second sender), from TWILIO_FALLBACK_TEST_FROM.
 */
export function twilioEnv(server: Pick<TwilioServer, "url" | "accountSid" | "authToken">, opts: { fallback?: boolean } = {}): Record<string, string> {
  const name = opts.fallback ? "TWILIO_FALLBACK" : "TWILIO";
  return {
    [`${name}_ACCOUNT_SID`]: server.accountSid,
    [`${name}_AUTH_TOKEN`]: server.authToken,
    [`${name}_FROM`]: opts.fallback ? TWILIO_FALLBACK_TEST_FROM : TWILIO_TEST_FROM,
    [`${name}_API_BASE_URL`]: server.url,
  };
}

export interface TwilioServerOptions {
  /** Defaults to "AC" + 32 random hex chars. */
  accountSid?: string;
  /** Defaults to 32 random hex chars. */
  authToken?: string;
}

// ---------------------------------------------------------------------------
// Spec loading

interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  nullable?: boolean;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  "x-twilio"?: { ignoreFormat?: boolean };
}

interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema?: Schema;
}

interface Operation {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
}

interface Spec {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, Schema> };
}

interface Route {
  template: string;
  regex: RegExp;
  names: string[];
  operations: Map<string, Operation>;
}

const FORM = "application/x-www-form-urlencoded";
const METHODS = ["get", "post", "put", "delete", "patch"];

const spec = JSON.parse(readFileSync(new URL("../fixtures/twilio/openapi-subset.json", import.meta.url), "utf8")) as Spec;

const routes: Route[] = Object.entries(spec.paths).map(([template, item]) => {
  const names: string[] = [];
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const m = /^\{([^}]+)\}$/.exec(part);
      if (m?.[1]) {
        names.push(m[1]);
        return "([^/]+)";
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("");
  const operations = new Map<string, Operation>();
  for (const method of METHODS) {
    const op = item[method] as Operation | undefined;
    if (op) operations.set(method.toUpperCase(), op);
  }
  return { template, regex: new RegExp(`^${source}$`), names, operations };
});

function resolve(schema: Schema): Schema {
  let s = schema;
  for (let depth = 0; s.$ref; depth++) {
    const name = s.$ref.replace("#/components/schemas/", "");
    const next = spec.components.schemas[name];
    if (!next || depth > 20) throw new Error(`fake-twilio: unresolvable $ref ${s.$ref}`);
    s = next;
  }
  return s;
}

function jsonSchemaFor(op: Operation, status: number): Schema {
  const schema = op.responses[String(status)]?.content?.["application/json"]?.schema;
  if (!schema) throw new Error(`fake-twilio: ${op.operationId} documents no JSON ${status} response`);
  return resolve(schema);
}

// ---------------------------------------------------------------------------
// Validation (shared by requests and the fake's own responses)

const E164 = /^\+[1-9]\d{1,14}$/;
const CHANNEL_ADDRESS = /^[a-z][a-z0-9-]*:\S+$/;
const SHORT_CODE = /^\d{3,8}$/;
const ALPHANUMERIC_SENDER = /^(?=.*[A-Za-z])[A-Za-z0-9 +\-_.&]{1,11}$/;
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;
const RFC_2822 = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$/;

function formatProblem(format: string, value: string): string | null {
  switch (format) {
    case "phone-number":
      return [E164, CHANNEL_ADDRESS, SHORT_CODE, ALPHANUMERIC_SENDER].some((re) => re.test(value))
        ? null
        : "is not a valid phone number, short code, alphanumeric sender ID or channel address";
    case "uri":
      try {
        const u = new URL(value);
        return u.protocol === "http:" || u.protocol === "https:" ? null : "is not an http(s) URL";
      } catch {
        return "is not a valid URL";
      }
    case "date-time":
      return ISO_DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)) ? null : "is not an ISO 8601 date-time";
    case "date-time-rfc-2822":
      return RFC_2822.test(value) && !Number.isNaN(Date.parse(value)) ? null : "is not an RFC 2822 date-time";
    case "currency":
      return /^[A-Z]{3}$/.test(value) ? null : "is not an ISO 4217 currency code";
    default:
      return null;
  }
}

function stringProblem(s: Schema, value: string): string | null {
  const length = [...value].length;
  if (s.minLength !== undefined && length < s.minLength) return `must be at least ${s.minLength} characters`;
  if (s.maxLength !== undefined && length > s.maxLength) return `must be at most ${s.maxLength} characters`;
  if (s.pattern !== undefined && !new RegExp(s.pattern).test(value)) return `must match ${s.pattern}`;
  if (s.format && !s["x-twilio"]?.ignoreFormat) return formatProblem(s.format, value);
  return null;
}

/** Checks one form-encoded value (always a string on the wire) against a parameter schema. */
function formValueProblem(schema: Schema, value: string): string | null {
  const s = resolve(schema);
  if (s.enum && !s.enum.includes(value)) return `must be one of ${s.enum.join(", ")}`;
  switch (s.type) {
    case "integer":
      return /^-?\d+$/.test(value) ? null : "must be an integer";
    case "number":
      return value.trim() !== "" && Number.isFinite(Number(value)) ? null : "must be a number";
    case "boolean":
      return /^(true|false)$/i.test(value) ? null : "must be true or false";
    case "string":
      return stringProblem(s, value);
    default:
      return null; // untyped ({}), e.g. Verify's RateLimits: any JSON-encoded value
  }
}

/** Checks a JSON value against a schema; objects with declared properties must have exactly those keys. */
function jsonProblems(schema: Schema, value: unknown, where: string): string[] {
  const s = resolve(schema);
  if (value === null || value === undefined) {
    return value === null && s.nullable ? [] : [`${where} is ${String(value)} but the schema does not allow it`];
  }
  if (s.enum && !s.enum.includes(value)) return [`${where}=${JSON.stringify(value)} is not one of ${s.enum.join(", ")}`];
  const problems: string[] = [];
  switch (s.type) {
    case "string":
      if (typeof value !== "string") return [`${where} must be a string`];
      {
        const p = stringProblem(s, value);
        if (p) problems.push(`${where}=${JSON.stringify(value)} ${p}`);
      }
      break;
    case "integer":
      if (!Number.isInteger(value)) problems.push(`${where} must be an integer`);
      break;
    case "number":
      if (typeof value !== "number") problems.push(`${where} must be a number`);
      break;
    case "boolean":
      if (typeof value !== "boolean") problems.push(`${where} must be a boolean`);
      break;
    case "array":
      if (!Array.isArray(value)) return [`${where} must be an array`];
      if (s.items) value.forEach((v, i) => problems.push(...jsonProblems(s.items as Schema, v, `${where}[${i}]`)));
      break;
    case "object": {
      if (typeof value !== "object" || Array.isArray(value)) return [`${where} must be an object`];
      if (s.format === "uri-map" && Object.values(value).some((v) => typeof v !== "string")) {
        problems.push(`${where} must map names to URI strings`);
      }
      break;
    }
  }
  if (s.properties) {
    if (typeof value !== "object" || Array.isArray(value)) return [`${where} must be an object`];
    const record = value as Record<string, unknown>;
    const expected = Object.keys(s.properties);
    for (const key of Object.keys(record)) {
      if (!expected.includes(key)) problems.push(`${where} has undocumented property "${key}"`);
    }
    for (const key of expected) {
      if (!(key in record)) problems.push(`${where} is missing documented property "${key}"`);
      else problems.push(...jsonProblems(s.properties[key] as Schema, record[key], `${where}.${key}`));
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------
// Errors

// Codes follow Twilio's error dictionary where one fits (https://www.twilio.com/docs/errors/CODE).
const CODE = {
  invalidParameter: 20001, // fake's choice for unknown/malformed parameters on the 2010 API
  authentication: 20003,
  methodNotAllowed: 20004,
  notFound: 20404,
  internal: 20500,
  missingBody: 21602,
  missingFrom: 21603,
  missingTo: 21604,
  bodyTooLong: 21617,
  invalidTo: 21211,
  invalidFrom: 21212,
  verifyInvalidParameter: 60200,
} as const;

/** Twilio's specific errors for some parameters; all others get the generic invalid-parameter code. */
interface ParameterErrors {
  missing?: Record<string, [code: number, message: string]>;
  invalid?: Record<string, (value: string) => [code: number, message: string]>;
}
const PARAMETER_ERRORS: Record<string, ParameterErrors> = {
  CreateMessage: {
    missing: { To: [CODE.missingTo, "A 'To' phone number is required."] },
    invalid: {
      To: (v) => [CODE.invalidTo, `The 'To' number ${v} is not a valid phone number.`],
      From: (v) => [CODE.invalidFrom, `The 'From' number ${v} is not a valid phone number, shortcode, or alphanumeric sender ID.`],
    },
  },
};

class TwilioHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly moreInfo = `https://www.twilio.com/docs/errors/${code}`,
  ) {
    super(message);
  }
  toJSON() {
    // Twilio's legacy error shape (also documented as Verify's 429 schema).
    return { code: this.code, message: this.message, more_info: this.moreInfo, status: this.status };
  }
}

const fail = (status: number, code: number, message: string): never => {
  throw new TwilioHttpError(status, code, message);
};

// ---------------------------------------------------------------------------
// Helpers

const hex = (bytes: number) => randomBytes(bytes).toString("hex");
const newSid = (prefix: string) => prefix + hex(16);
const rfc2822 = (d: Date) => d.toUTCString().replace(/GMT$/, "+0000");
const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");
const present = (v: string | string[] | undefined): boolean => (Array.isArray(v) ? v.some((x) => x !== "") : v !== undefined && v !== "");
const single = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

const GSM7_BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENDED = "\f^{}\\[~]|€";

/** SMS segment count as Twilio reports it (GSM-7: 160/153 per segment, else UCS-2: 70/67). */
function segmentCount(body: string): number {
  if (body === "") return 0;
  let septets = 0;
  for (const ch of body) {
    if (GSM7_BASIC.includes(ch)) septets += 1;
    else if (GSM7_EXTENDED.includes(ch)) septets += 2;
    else {
      const units = body.length; // UTF-16 code units
      return units <= 70 ? 1 : Math.ceil(units / 67);
    }
  }
  return septets <= 160 ? 1 : Math.ceil(septets / 153);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function parseForm(text: string): FormParams {
  const params: FormParams = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const prev = params[key];
    params[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return params;
}

/** Validates form/query params against documented parameter schemas; returns them with arrays normalised. */
function validateParams(
  params: FormParams,
  properties: Record<string, Schema>,
  required: string[],
  invalidCode: number,
  errors: ParameterErrors = {},
): FormParams {
  const invalid = (name: string, value: string, problem: string): never => {
    const [code, message] = errors.invalid?.[name]?.(value) ?? [invalidCode, `Invalid parameter '${name}': ${JSON.stringify(value)} ${problem}.`];
    return fail(400, code, message);
  };
  const out: FormParams = {};
  for (const [name, raw] of Object.entries(params)) {
    const schema = properties[name];
    if (!schema) fail(400, invalidCode, `Unknown parameter '${name}'.`);
    const s = resolve(schema as Schema);
    const values = Array.isArray(raw) ? raw : [raw];
    if (s.type === "array") {
      for (const v of values) {
        const p = formValueProblem(s.items ?? {}, v);
        if (p) invalid(name, v, p);
      }
      out[name] = values;
    } else {
      if (values.length > 1) fail(400, invalidCode, `Invalid parameter '${name}': must be given at most once.`);
      const v = values[0] as string;
      const p = v === "" ? null : formValueProblem(s, v);
      if (p) invalid(name, v, p);
      out[name] = v;
    }
  }
  for (const name of required) {
    if (present(out[name])) continue;
    const [code, message] = errors.missing?.[name] ?? [invalidCode, `Missing required parameter '${name}'.`];
    fail(400, code, message);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Server

type Answer = (status: number, payload: Record<string, unknown>) => [number, unknown];

class FakeTwilioServer implements TwilioServer {
  url = "";
  readonly messages: Message[] = [];
  readonly verifications: Verification[] = [];
  readonly requests: RecordedRequest[] = [];
  readonly #stored = new Map<string, Record<string, unknown>>();
  readonly #events = new EventEmitter().setMaxListeners(0);
  readonly #failQueue: TwilioFailure[] = [];
  readonly #failByTo = new Map<string, TwilioFailure>();
  #delivered = 0; // accepted messages whose response has been sent
  readonly #http = createServer((req, res) => void this.#handle(req, res));

  constructor(
    readonly accountSid: string,
    readonly authToken: string,
  ) {}

  async listen(): Promise<void> {
    await new Promise<void>((ok, ko) => {
      this.#http.once("error", ko);
      this.#http.listen(0, "127.0.0.1", () => ok());
    });
    const { port } = this.#http.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
  }

  failNext(n: number, failure: TwilioFailure): void {
    for (let i = 0; i < n; i++) this.#failQueue.push(failure);
  }

  failFor(to: string, failure: TwilioFailure): void {
    this.#failByTo.set(to, failure);
  }

  clearFailures(): void {
    this.#failQueue.length = 0;
    this.#failByTo.clear();
  }

  reset(): void {
    this.clearFailures();
    this.messages.length = 0;
    this.#delivered = 0;
    this.verifications.length = 0;
    this.requests.length = 0;
    this.#stored.clear();
  }

  waitForMessages(n: number, timeoutMs = 10_000): Promise<Message[]> {
    if (this.#delivered >= n) return Promise.resolve(this.messages.slice(0, n));
    return new Promise((resolvePromise, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        this.#events.off("message", onMessage);
        this.#events.off("close", onClose);
      };
      const onMessage = () => {
        if (this.#delivered < n) return;
        cleanup();
        resolvePromise(this.messages.slice(0, n));
      };
      const onClose = () => {
        cleanup();
        reject(new Error(`waitForMessages(${n}): server closed with ${this.messages.length} message(s) accepted`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`waitForMessages(${n}): only ${this.messages.length} message(s) accepted after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#events.on("message", onMessage);
      this.#events.on("close", onClose);
    });
  }

  async close(): Promise<void> {
    this.#events.emit("close");
    const closed = new Promise<void>((ok, ko) => this.#http.close((err) => (err ? ko(err) : ok())));
    this.#http.closeAllConnections(); // the SDK keeps connections alive
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const record: RecordedRequest = { method, path: url.pathname, operationId: null, params: {}, status: 0, code: null };
    this.requests.push(record);
    let status: number;
    let payload: unknown;
    const afterSend: Array<() => void> = [];
    try {
      const text = await readBody(req);
      const contentType = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
      record.params = method === "GET" || method === "DELETE" ? parseForm(url.search) : parseForm(text);
      [status, payload] = this.#dispatch(method, url, req, record, contentType ?? "", text, afterSend);
    } catch (err) {
      const e = err instanceof TwilioHttpError ? err : new TwilioHttpError(500, CODE.internal, `fake-twilio internal error: ${(err as Error).message}`);
      status = e.status;
      payload = e.toJSON();
      record.code = e.code;
    }
    record.status = status;
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "twilio-request-id": newSid("RQ") });
    res.once("close", () => afterSend.forEach((fn) => fn()));
    res.end(JSON.stringify(payload));
  }

  #dispatch(
    method: string,
    url: URL,
    req: IncomingMessage,
    record: RecordedRequest,
    contentType: string,
    text: string,
    afterSend: Array<() => void>,
  ): [number, unknown] {
    const notFound = () => fail(404, CODE.notFound, `The requested resource ${url.pathname} was not found`);
    let route: Route | undefined;
    let match: RegExpExecArray | null = null;
    for (const r of routes) {
      match = r.regex.exec(url.pathname);
      if (match) {
        route = r;
        break;
      }
    }
    if (!route || !match) return notFound();
    const op = route.operations.get(method);
    if (!op) return fail(405, CODE.methodNotAllowed, `Method ${method} not allowed on ${route.template}`);
    record.operationId = op.operationId;

    this.#authenticate(req.headers.authorization);

    const pathParams: Record<string, string> = {};
    const groups = match;
    route.names.forEach((name, i) => (pathParams[name] = groups[i + 1] ?? ""));
    for (const p of op.parameters ?? []) {
      if (p.in !== "path") continue;
      const value = pathParams[p.name] ?? "";
      if (p.schema && formValueProblem(p.schema, value)) notFound();
    }
    if ("AccountSid" in pathParams && pathParams.AccountSid !== this.accountSid) notFound();

    const isVerify = route.template.startsWith("/v2/");
    const invalidCode = isVerify ? CODE.verifyInvalidParameter : CODE.invalidParameter;
    let params: FormParams;
    if (op.requestBody) {
      const media = op.requestBody.content[FORM];
      if (!media) throw new Error(`fake-twilio: ${op.operationId} has no ${FORM} body`);
      if (text !== "" && contentType !== FORM) {
        fail(400, invalidCode, `Content-Type must be ${FORM}, got '${contentType}'.`);
      }
      const body = resolve(media.schema);
      params = validateParams(record.params, body.properties ?? {}, body.required ?? [], invalidCode, PARAMETER_ERRORS[op.operationId]);
    } else {
      const query = Object.fromEntries((op.parameters ?? []).filter((p) => p.in === "query").map((p) => [p.name, p.schema ?? {}]));
      const required = (op.parameters ?? []).filter((p) => p.in === "query" && p.required).map((p) => p.name);
      params = validateParams(record.params, query, required, invalidCode);
    }
    record.params = params;

    // Each handler builds its answer, has it checked against the documented
    // response schema (so the fake cannot drift from the spec), and only then
    // records state.
    const answer = (status: number, payload: Record<string, unknown>): [number, unknown] => {
      const problems = jsonProblems(jsonSchemaFor(op, status), payload, "response");
      if (problems.length) {
        throw new Error(`response for ${op.operationId} violates the spec: ${problems.join("; ")}`);
      }
      return [status, payload];
    };
    switch (op.operationId) {
      case "CreateMessage":
        return this.#createMessage(params, pathParams, answer, afterSend);
      case "FetchMessage": {
        const found = this.#stored.get(pathParams.Sid ?? "");
        return found ? answer(200, found) : notFound();
      }
      case "CreateVerification":
        return this.#createVerification(params, pathParams, answer);
      case "CreateVerificationCheck":
        return this.#checkVerification(params, pathParams, answer, notFound);
      default:
        throw new Error(`fake-twilio: no handler for ${op.operationId}`);
    }
  }

  #authenticate(header: string | undefined): void {
    const m = /^Basic\s+(\S+)$/i.exec(header ?? "");
    if (!m?.[1]) fail(401, CODE.authentication, "Authentication Error - No credentials provided");
    const decoded = Buffer.from((m as RegExpExecArray)[1] as string, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    const pass = colon < 0 ? "" : decoded.slice(colon + 1);
    if (user !== this.accountSid) fail(401, CODE.authentication, "Authentication Error - invalid username");
    if (pass !== this.authToken) fail(401, CODE.authentication, "Authentication Error - invalid password");
  }

  #createMessage(params: FormParams, path: Record<string, string>, answer: Answer, afterSend: Array<() => void>): [number, unknown] {
    // Twilio's own rules on top of the schema (the spec only marks To as required).
    // (To's presence and From's phone-number format were checked against the schema.)
    const to = single(params.To) as string;
    if (!E164.test(to) && !CHANNEL_ADDRESS.test(to)) {
      fail(400, CODE.invalidTo, `The 'To' number ${to} is not a valid phone number.`);
    }
    const from = single(params.From);
    if (!present(from) && !present(params.MessagingServiceSid)) {
      fail(400, CODE.missingFrom, "A 'From' phone number or a 'MessagingServiceSid' is required.");
    }
    if (!present(params.Body) && !present(params.MediaUrl) && !present(params.ContentSid)) {
      fail(400, CODE.missingBody, "Message body is required: send 'Body', 'MediaUrl' or 'ContentSid'.");
    }
    const body = single(params.Body);
    if (body !== undefined && [...body].length > 1600) {
      fail(400, CODE.bodyTooLong, "The concatenated message body exceeds the 1600 character limit.");
    }

    const failure = this.#failByTo.get(to) ?? this.#failQueue.shift();
    if (failure) {
      throw new TwilioHttpError(failure.status, failure.code, failure.message ?? `Simulated Twilio failure ${failure.code}`, failure.moreInfo);
    }

    const sid = newSid("SM");
    const now = rfc2822(new Date());
    const accountSid = path.AccountSid as string;
    const uri = `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`;
    const mediaUrls = params.MediaUrl;
    const resource: Record<string, unknown> = {
      account_sid: accountSid,
      api_version: "2010-04-01",
      body: body ?? null,
      date_created: now,
      date_sent: null,
      date_updated: now,
      direction: "outbound-api",
      error_code: null,
      error_message: null,
      from: present(from) ? from : null,
      messaging_service_sid: single(params.MessagingServiceSid) || null,
      num_media: String(Array.isArray(mediaUrls) ? mediaUrls.length : 0),
      num_segments: String(segmentCount(body ?? "")),
      price: null,
      price_unit: null,
      sid,
      status: single(params.ScheduleType) === "fixed" ? "scheduled" : "queued",
      subresource_uris: { media: uri.replace(/\.json$/, "/Media.json") },
      to,
      uri,
    };
    const result = answer(201, resource);
    this.#stored.set(sid, resource);
    this.messages.push({ ...(params as Message), sid });
    // waitForMessages() resolves only once the 201 is out, so a test that
    // awaits it and then closes the server cannot cut off the sender.
    afterSend.push(() => {
      this.#delivered++;
      this.#events.emit("message");
    });
    return result;
  }

  #createVerification(params: FormParams, path: Record<string, string>, answer: Answer): [number, unknown] {
    // Channel is a free string in the request schema; Twilio accepts the
    // channels of the response enum, plus "auto" (the spec's own example
    // answers an "auto" request with a concrete channel; here it becomes sms).
    const channels = [...(resolve({ $ref: "#/components/schemas/verification_enum_channel" }).enum ?? []), "auto"];
    const requested = single(params.Channel) as string;
    if (!channels.includes(requested)) {
      fail(400, CODE.verifyInvalidParameter, `Invalid parameter 'Channel': must be one of ${channels.join(", ")}.`);
    }
    const channel = requested === "auto" ? "sms" : requested;
    const now = new Date();
    const serviceSid = path.ServiceSid as string;
    const verification: Verification = {
      sid: newSid("VE"),
      serviceSid,
      to: single(params.To) as string,
      channel,
      code: single(params.CustomCode) || "123456",
      status: "pending",
      params,
    };
    const result = answer(201, this.#verificationResource(verification, now, params));
    this.verifications.push(verification);
    return result;
  }

  #verificationResource(v: Verification, now: Date, params: FormParams): Record<string, unknown> {
    return {
      account_sid: this.accountSid,
      amount: single(params.Amount) ?? null,
      channel: v.channel,
      date_created: iso(now),
      date_updated: iso(now),
      lookup: null,
      payee: single(params.Payee) ?? null,
      send_code_attempts: [{ attempt_sid: newSid("VL"), channel: v.channel, time: iso(now) }],
      service_sid: v.serviceSid,
      sid: v.sid,
      sna: null,
      status: v.status,
      to: v.to,
      url: `https://verify.twilio.com/v2/Services/${v.serviceSid}/Verifications/${v.sid}`,
      valid: v.status === "approved",
    };
  }

  #checkVerification(params: FormParams, path: Record<string, string>, answer: Answer, notFound: () => never): [number, unknown] {
    const sid = single(params.VerificationSid);
    const to = single(params.To);
    if (!present(sid) && !present(to)) {
      fail(400, CODE.verifyInvalidParameter, "Either a 'To' or a 'VerificationSid' parameter must be specified.");
    }
    const v = this.verifications
      .filter((x) => x.serviceSid === path.ServiceSid && x.status === "pending")
      .reverse()
      .find((x) => (present(sid) ? x.sid === sid : x.to === to));
    if (!v) return notFound();
    const status = single(params.Code) === v.code ? "approved" : v.status;
    const now = iso(new Date());
    const result = answer(200, {
      account_sid: this.accountSid,
      amount: single(params.Amount) ?? null,
      channel: v.channel,
      date_created: now,
      date_updated: now,
      payee: single(params.Payee) ?? null,
      service_sid: v.serviceSid,
      sid: v.sid,
      sna_attempts_error_codes: [],
      status,
      to: v.to,
      valid: status === "approved",
    });
    v.status = status;
    return result;
  }
}

export async function startTwilioServer(opts: TwilioServerOptions = {}): Promise<TwilioServer> {
  const server = new FakeTwilioServer(opts.accountSid ?? newSid("AC"), opts.authToken ?? hex(16));
  await server.listen();
  return server;
}
