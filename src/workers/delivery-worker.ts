import { Worker, type WorkerOptions } from "bullmq";
import type { ChannelName } from "../contracts/index.js";
import { FinalFailure } from "../errors/index.js";
import type { Logger } from "../logger.js";
import { reportErrors } from "../queues/connection.js";
import { QUEUE_OF_CHANNEL } from "../queues/names.js";
import { scrub } from "../redact.js";
import { createProcessor, type DeliveryResult, type PipelineDeps } from "./pipeline.js";
import { workerOptions, type WorkerSettings } from "./worker-options.js";

export interface DeliveryWorkerOptions extends WorkerSettings {
  /** At most `max` jobs per `duration` ms across every worker of this queue (BullMQ keeps the count in Redis); none when absent. */
  limiter?: { max: number; duration: number };
  logger: Logger;
  /** BullMQ's telemetry (bullmq-otel): a span per job, continuing the producer's trace. */
  telemetry?: WorkerOptions["telemetry"];
}

/** The email or SMS worker: one BullMQ worker on its channel's queue, running the pipeline. */
export function createDeliveryWorker(channel: ChannelName, deps: PipelineDeps, opts: DeliveryWorkerOptions): Worker {
  const logger = opts.logger.child({ queue: QUEUE_OF_CHANNEL[channel] });
  const worker = new Worker(QUEUE_OF_CHANNEL[channel], createProcessor(channel, deps), {
    ...workerOptions(opts),
    ...(opts.limiter ? { limiter: opts.limiter } : {}),
    ...(opts.telemetry ? { telemetry: opts.telemetry } : {}),
  });
  // The per-job line names only ids, the kind, the provider and a count, none of which redaction masks: this
  // child skips redaction's walk over every wildcard path, which costs ≈50 µs a line (≈3 % of a mail's CPU).
  // Any other field added to this line must be one that may appear in clear; everything else logs via `logger`.
  const perJob = logger.child({}, { redact: { paths: [] } });
  worker.on("completed", (job, result: DeliveryResult) => {
    perJob.info({ jobId: job.id, kind: job.name, provider: result.provider, messageId: result.messageId, attempts: job.attemptsMade }, "delivered");
  });
  worker.on("failed", (job, error) => {
    if (!job) return;
    const final = error instanceof FinalFailure || Boolean(job.finishedOn);
    logger.warn({ jobId: job.id, kind: job.name, attempt: job.attemptsMade, err: error, final }, final ? "failed for good" : "failed; will retry");
  });
  reportErrors(worker, (error, suppressed) =>
    logger.error(
      { error: scrub(error.message), errorCode: (error as { code?: string }).code, suppressed },
      "worker error (repeats are counted, not logged, for a minute)",
    ),
  );
  return worker;
}
