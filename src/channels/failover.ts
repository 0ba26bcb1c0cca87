import { classifyOther, type Classified, type Provider, type Receipt } from "./provider.js";

export interface BreakerOptions {
  /** Consecutive transient failures that open a provider's breaker. */
  failures: number;
  /** How long an open breaker skips its provider before one probe may go through (half-open). */
  coolOffMs: number;
  now?: () => number;
}

export const DEFAULT_BREAKER: BreakerOptions = { failures: 5, coolOffMs: 30_000 };

export type BreakerState = "closed" | "open" | "half-open";

/** What the failover tells the worker (for logs and metrics): a breaker changed, or a send moved to the next provider. */
export type FailoverEvent =
  | { type: "breaker"; provider: string; state: BreakerState; failures: number }
  | { type: "failover"; from: string; to: string; code: string };

/**
 * One provider's circuit breaker, in this process: after `failures` transient failures in a row it opens
 * and the provider is skipped; after `coolOffMs` one send may probe it (half-open): success closes it,
 * failure opens it again for another cool-off. Each worker process learns on its own (no shared state:
 * a few extra probes across processes cost little, and a Redis outage cannot stop delivery).
 */
export class Breaker {
  private consecutive = 0;
  private openedAt?: number;
  private probing = false;
  private readonly now: () => number;

  constructor(
    readonly provider: string,
    private readonly opts: BreakerOptions,
    private readonly onEvent: (event: FailoverEvent) => void,
  ) {
    this.now = opts.now ?? Date.now;
  }

  get state(): BreakerState {
    if (this.openedAt === undefined) return "closed";
    return this.probing || this.now() - this.openedAt >= this.opts.coolOffMs ? "half-open" : "open";
  }

  /** Whether a send may go to this provider now; takes the single probe of a half-open breaker. */
  tryAcquire(): boolean {
    if (this.openedAt === undefined) return true;
    if (this.probing || this.now() - this.openedAt < this.opts.coolOffMs) return false;
    this.probing = true;
    this.onEvent({ type: "breaker", provider: this.provider, state: "half-open", failures: this.consecutive });
    return true;
  }

  /** The provider answered (a delivery, or a refusal of this one message). */
  succeeded(): void {
    const wasOpen = this.openedAt !== undefined;
    this.consecutive = 0;
    this.openedAt = undefined;
    this.probing = false;
    if (wasOpen) this.onEvent({ type: "breaker", provider: this.provider, state: "closed", failures: 0 });
  }

  failed(): void {
    this.consecutive++;
    if (this.probing || (this.openedAt === undefined && this.consecutive >= this.opts.failures)) {
      this.openedAt = this.now();
      this.probing = false;
      this.onEvent({ type: "breaker", provider: this.provider, state: "open", failures: this.consecutive });
    }
  }
}

/** The error of a send every provider failed, or the one permanent failure that ended it; classified already. */
class FailoverError extends Error {
  constructor(
    message: string,
    readonly classified: Classified,
    options: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "FailoverError";
  }
}

/**
 * Several providers of one channel behind the Provider interface, in order. A send goes to the first
 * provider whose breaker lets it; a transient failure moves the same send on to the next one, a
 * permanent failure (the message or recipient is refused) ends it there: another provider would refuse
 * it too. When every provider failed (or is skipped), the send fails transient and the job retries.
 * The receipt names the provider that delivered.
 */
export function withFailover<M>(
  providers: readonly Provider<M>[],
  opts: BreakerOptions = DEFAULT_BREAKER,
  onEvent: (event: FailoverEvent) => void = () => {},
): Provider<M> {
  if (providers.length === 0) throw new Error("withFailover needs at least one provider");
  const breakers = providers.map((p) => new Breaker(p.provider, opts, onEvent));
  return {
    provider: providers.map((p) => p.provider).join(">"),
    async send(message: M): Promise<Receipt> {
      const failures: string[] = [];
      let last: { error: unknown; classified: Classified } | undefined;
      let previous: string | undefined;
      for (const [i, provider] of providers.entries()) {
        const breaker = breakers[i]!;
        if (!breaker.tryAcquire()) {
          failures.push(`${provider.provider}: skipped (breaker open)`);
          continue;
        }
        if (previous !== undefined && last) onEvent({ type: "failover", from: previous, to: provider.provider, code: last.classified.code });
        try {
          const receipt = await provider.send(message);
          breaker.succeeded();
          return receipt;
        } catch (error) {
          const classified = provider.classify(error);
          const text = `${provider.provider}: ${(error as Error)?.message ?? String(error)}`;
          if (classified.permanent) {
            breaker.succeeded();
            throw new FailoverError(text, classified, { cause: error });
          }
          breaker.failed();
          failures.push(text);
          last = { error, classified };
          previous = provider.provider;
        }
      }
      const classified = last?.classified ?? { permanent: false, code: "breaker-open" };
      throw new FailoverError(failures.join("; "), { permanent: false, code: classified.code }, { cause: last?.error });
    },
    classify(error: unknown): Classified {
      return error instanceof FailoverError ? error.classified : classifyOther(error, "failover");
    },
    async close() {
      await Promise.all(providers.map((p) => p.close()));
    },
    async verify(timeoutMs: number) {
      const results = await Promise.allSettled(providers.map((p) => p.verify?.(timeoutMs)));
      const failed = results.flatMap((r, i) =>
        r.status === "rejected" ? [`${providers[i]!.provider}: ${(r.reason as Error)?.message ?? String(r.reason)}`] : [],
      );
      if (failed.length > 0) throw new Error(failed.join("; "));
    },
  };
}

/** One provider as it is, several behind a failover. */
export function inOrder<M>(providers: readonly Provider<M>[], opts?: BreakerOptions, onEvent?: (event: FailoverEvent) => void): Provider<M> {
  return providers.length === 1 ? providers[0]! : withFailover(providers, opts, onEvent);
}
