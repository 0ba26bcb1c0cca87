/**
 * BullMQ waits for its connection to be ready before it sends a command, so while Redis is down a
 * queue call neither answers nor fails. The SDK, the API and the metrics bound their Redis calls with
 * this; the API's error handler turns a DeadlineError into 503.
 */
export class DeadlineError extends Error {
  override readonly name: string = "DeadlineError";
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`${what}: Redis did not answer within ${ms} ms`);
  }
}

export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
  });
  // The late outcome of the call itself is dropped, not left unhandled.
  promise.catch(() => {});
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
