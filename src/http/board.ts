import { createBullBoard } from "@bull-board/api";
import type { BoardHooks } from "@bull-board/api/typings/app";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import type { Job, Queue } from "bullmq";
import type { FastifyPluginAsync } from "fastify";
import { DEAD_LETTER_QUEUE, shardLabel } from "../queues/names.js";
import { scrub, scrubIdentifier } from "../redact.js";
import type { ApiAuth } from "./auth.js";
import { maskDeadLetterForDisplay, maskForDisplay } from "./mask.js";
import { adminHook } from "./plugins/auth.js";

export const BOARD_PATH = "/admin/queues";

export interface BoardOptions {
  /** The email, sms and dead-letter queues. */
  queues: Queue[];
  /** HERALD_PREFIX: queues under another prefix are shards, listed as `email #1` etc. */
  basePrefix?: string;
  readOnly: boolean;
  auth: ApiAuth;
}

/**
 * The formatters cover a job's data and result; this covers what the board shows besides: the
 * deduplication id (kind:idempotencyKey, which a producer might build from an address) and the
 * error texts. Only the in-memory copies the board reads are changed, never the job in Redis.
 */
class MaskingAdapter extends BullMQAdapter {
  override async getJob(id: string): Promise<Job | undefined> {
    const job = await super.getJob(id);
    return job ? onlyFailedRetries(maskJobExtras(job)) : job;
  }

  override async getJobs(...args: Parameters<BullMQAdapter["getJobs"]>): Promise<Job[]> {
    return (await super.getJobs(...args)).map((job) => (job ? onlyFailedRetries(maskJobExtras(job)) : job));
  }
}

/**
 * The board's retry handlers call `job.retry(state)` on the jobs this adapter hands out. Only
 * `retry("failed")` may pass: BullMQ's script then checks the job is still in the failed set, so even a
 * job that completes between the board's check and the retry is never sent again.
 */
function onlyFailedRetries(job: Job): Job {
  const retry = job.retry.bind(job);
  job.retry = async (state = "failed") => {
    if (state !== "failed") throw Object.assign(new Error(COMPLETED_RETRY_REFUSED), { statusCode: 409 });
    return retry(state);
  };
  return job;
}

const COMPLETED_RETRY_REFUSED = "Only failed jobs can be retried: retrying a completed job would send its code a second time.";
const RETRY_ROUTES = new Set(["/api/queues/:queueName/:jobId/retry", "/api/queues/:queueName/retry/:queueStatus"]);

/**
 * `allowCompletedRetries: false` and `allowRetries: false` only hide the board's buttons; its API still
 * retries. This refuses, before the handler runs, every retry but that of failed jobs on a queue that
 * allows retries.
 */
const refuseUnsafeRetries: NonNullable<BoardHooks["before"]> = async ({ route, request }) => {
  if (!RETRY_ROUTES.has(route)) return;
  const params = request.params as { queueName?: string; jobId?: string; queueStatus?: string };
  const adapter = request.queues.get(params.queueName ?? "");
  if (!adapter) return; // the handler answers 404
  if (!adapter.allowRetries) return { allow: false, status: 405, errorKey: "ERRORS.QUEUE_READ_ONLY", message: "This queue's jobs cannot be retried here." };
  const state = params.jobId !== undefined ? await adapter.getJob(params.jobId).then((job) => job?.getState()) : params.queueStatus;
  if (state === undefined || state === "failed") return; // unknown job: the handler answers 404
  return { allow: false, status: 409, errorKey: "ERRORS.JOB_NOT_RETRIABLE", message: COMPLETED_RETRY_REFUSED };
};

function maskJobExtras(job: Job): Job {
  if (job.opts?.deduplication?.id) job.opts = { ...job.opts, deduplication: { ...job.opts.deduplication, id: scrubIdentifier(job.opts.deduplication.id) } };
  if (job.deduplicationId) job.deduplicationId = scrubIdentifier(job.deduplicationId);
  if (job.failedReason) job.failedReason = scrub(job.failedReason);
  if (Array.isArray(job.stacktrace)) job.stacktrace = job.stacktrace.map((line) => (typeof line === "string" ? scrub(line) : line));
  return job;
}

/** Nothing works the dead-letter queue on purpose: report "unknown" rather than the board's "No workers" warning. */
class DeadLetterQueueAdapter extends MaskingAdapter {
  override async getWorkers(): Promise<null> {
    return null;
  }
}

const DESCRIPTIONS: Record<string, string> = {
  email: "Emails waiting for, or in, delivery",
  sms: "SMS waiting for, or in, delivery",
  [DEAD_LETTER_QUEUE]: "Jobs that failed for good; replay or purge them with `herald dlq` or the /v1/dead-letters API",
};

/** Each shard of a queue is its own entry (the board keys queues by name): `email #0`, `email #1`, … */
function shardNaming(queue: Queue, basePrefix: string | undefined): { prefix?: string; displayName?: string } {
  const shard = basePrefix && queue.opts.prefix ? shardLabel(queue.opts.prefix, basePrefix) : undefined;
  return shard === undefined ? {} : { prefix: `shard${shard}-`, displayName: `${queue.name} #${shard}` };
}

/**
 * Bull Board at /admin/queues behind HTTP Basic auth (user `admin`, password an admin token). Job data
 * and results are shown masked: no address, phone, name, code, link or sealed secrets.
 */
export const board: FastifyPluginAsync<BoardOptions> = async (app, opts) => {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BOARD_PATH);

  const adapters = opts.queues.map((queue) => {
    const Adapter = queue.name === DEAD_LETTER_QUEUE ? DeadLetterQueueAdapter : MaskingAdapter;
    const adapter = new Adapter(queue, {
      readOnlyMode: opts.readOnly,
      // Retrying a failed delivery is what replay is for; the dead letter queue is never worked.
      allowRetries: !opts.readOnly && queue.name !== DEAD_LETTER_QUEUE,
      // "Retry" on a completed job would send its code a second time (honoured by the adapter, missing from its types).
      ...({ allowCompletedRetries: false } as object),
      description: DESCRIPTIONS[queue.name] ?? "",
      ...shardNaming(queue, opts.basePrefix),
    });
    adapter.setFormatter("data", queue.name === DEAD_LETTER_QUEUE ? maskDeadLetterForDisplay : maskForDisplay);
    adapter.setFormatter("returnValue", maskForDisplay);
    return adapter;
  });

  createBullBoard({
    queues: adapters,
    // Two copies of @bull-board/api are installed (the fastify adapter pins its own); they agree at runtime.
    serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]["serverAdapter"],
    options: { uiConfig: { boardTitle: "Herald" }, handlerHooks: { before: refuseUnsafeRetries } },
  });

  app.addHook("onRequest", adminHook(opts.auth));
  await app.register(serverAdapter.registerPlugin(), { prefix: BOARD_PATH });
};
