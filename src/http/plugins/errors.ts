import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { DeadlineError } from "../../queues/deadline.js";
import { EnqueueError, ReplicationTimeoutError } from "../../queues/producer.js";
import { PROBLEM_TYPES, sendProblem } from "../problem.js";
import { REQUEST_ID_HEADER } from "../routes/notifications.js";

/** Every error as problem details: 413, 415 and 4xx from the parsers, 503 when Redis is out of reach, else 500. */
export function problemErrorHandler(bodyLimit: number) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const status = error.statusCode ?? 500;
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      return sendProblem(reply, { type: PROBLEM_TYPES.tooLarge, title: "Body too large", status: 413, detail: `The body may be at most ${bodyLimit} bytes.` });
    }
    if (error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
      return sendProblem(reply, {
        type: PROBLEM_TYPES.unsupportedMediaType,
        title: "Unsupported media type",
        status: 415,
        detail: "Send the body as application/json.",
      });
    }
    if (status >= 400 && status < 500) {
      // Malformed JSON, empty JSON body and the like: the parser's message names no personal data.
      return sendProblem(reply, {
        type: PROBLEM_TYPES.invalidRequest,
        title: "Invalid request",
        status,
        detail: error.message,
        errors: [{ field: "", message: error.message }],
      });
    }
    if (error instanceof EnqueueError) {
      request.log.error({ err: error, jobId: error.jobId }, "Redis unavailable");
      reply.header("retry-after", "5");
      const detail =
        error instanceof ReplicationTimeoutError
          ? `The notification reached Redis, but fewer replicas than HERALD_REPLICAS_ACK confirmed it in time, so a failover could lose it. Retry with the header ${REQUEST_ID_HEADER}: ${error.jobId} and it is queued at most once.`
          : error.queued === false
            ? `Redis could not be reached; the notification was not queued. Retry with the header ${REQUEST_ID_HEADER}: ${error.jobId}.`
            : `Redis did not answer in time; the notification may or may not have been queued. Retry with the header ${REQUEST_ID_HEADER}: ${error.jobId} and it is queued at most once.`;
      return sendProblem(reply, { type: PROBLEM_TYPES.unavailable, title: "Service unavailable", status: 503, detail, id: error.jobId, queued: error.queued });
    }
    if (error instanceof DeadlineError || isRedisUnavailable(error)) {
      request.log.error({ err: error }, "Redis unavailable");
      const detail =
        error instanceof DeadlineError && error.what === "enqueue"
          ? `Redis did not answer within ${error.ms} ms. The notification may or may not have been queued: retry with the same ${REQUEST_ID_HEADER} header (or idempotencyKey) so it is sent at most once.`
          : error instanceof DeadlineError
            ? `Redis did not answer within ${error.ms} ms (${error.what}); the operation may have been partly done. Try again shortly.`
            : "The queue store (Redis) cannot be reached. Try again shortly.";
      reply.header("retry-after", "5");
      return sendProblem(reply, { type: PROBLEM_TYPES.unavailable, title: "Service unavailable", status: 503, detail });
    }
    request.log.error({ err: error }, "request failed");
    return sendProblem(reply, {
      type: PROBLEM_TYPES.internal,
      title: "Internal error",
      status: 500,
      detail: "The request failed; the error is in the server log.",
    });
  };
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply) {
  return sendProblem(reply, {
    type: PROBLEM_TYPES.notFound,
    title: "Not found",
    status: 404,
    detail: `No route ${request.method} ${(request.url.split("?")[0] ?? "").slice(0, 200)}.`,
  });
}

function isRedisUnavailable(error: Error): boolean {
  return error.name === "MaxRetriesPerRequestError" || /Connection is closed|ECONNREFUSED|Stream isn't writeable|enableOfflineQueue/.test(error.message ?? "");
}
