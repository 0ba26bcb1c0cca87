import twilio from "twilio";
import type RequestClient from "twilio/lib/base/RequestClient.js";

export interface TwilioClientOptions {
  accountSid: string;
  authToken: string;
  /** Send every request here instead of https://{api,verify}.twilio.com (the path is kept). */
  baseUrl?: string;
  /** HTTPS connections to Twilio at once; the SDK's own default is 20, which would hold back more SMS in flight. */
  maxSockets?: number;
}

// The SDK has no base-URL option: each domain (api, verify, ...) hard-codes its
// https host. `httpClient` is the SDK's documented extension point and every
// request funnels through RequestClient#request with an absolute uri, so
// rewriting the origin there redirects all domains at once.
class BaseUrlRequestClient extends twilio.RequestClient {
  readonly #base: URL;

  constructor(baseUrl: string, maxSockets?: number) {
    // A custom httpClient does not inherit the Twilio client's options, so
    // auto-retry is disabled here too: Herald's job queue owns retries.
    super({ autoRetry: false, ...(maxSockets ? { maxSockets } : {}) });
    this.#base = new URL(baseUrl);
  }

  override request<TData>(opts: RequestClient.RequestOptions<TData>) {
    const original = new URL(opts.uri);
    const target = new URL(this.#base);
    // Keep any path prefix of the base URL (e.g. a proxy mount point).
    target.pathname = target.pathname.replace(/\/+$/, "") + original.pathname;
    target.search = original.search;
    return super.request<TData>({ ...opts, uri: target.href });
  }
}

export function createTwilioClient(opts: TwilioClientOptions): twilio.Twilio {
  return twilio(opts.accountSid, opts.authToken, {
    autoRetry: false,
    ...(opts.maxSockets ? { maxSockets: opts.maxSockets } : {}),
    ...(opts.baseUrl === undefined ? {} : { httpClient: new BaseUrlRequestClient(opts.baseUrl, opts.maxSockets) }),
  });
}
