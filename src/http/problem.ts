import type { FastifyReply } from "fastify";
import type { FieldIssue } from "../contracts/index.js";

/** RFC 9457 problem details, as every error of the HTTP API is answered. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldIssue[];
  [extension: string]: unknown;
}

export const PROBLEM_TYPES = {
  validation: "urn:herald:problem:invalid-job",
  invalidRequest: "urn:herald:problem:invalid-request",
  unknownKind: "urn:herald:problem:unknown-kind",
  /** An identity server's message type an adapter has no kind for. */
  unknownMessageType: "urn:herald:problem:unknown-message-type",
  notFound: "urn:herald:problem:not-found",
  unauthorized: "urn:herald:problem:unauthorized",
  forbidden: "urn:herald:problem:forbidden",
  tooLarge: "urn:herald:problem:body-too-large",
  unsupportedMediaType: "urn:herald:problem:unsupported-media-type",
  unavailable: "urn:herald:problem:unavailable",
  rateLimited: "urn:herald:problem:rate-limited",
  internal: "urn:herald:problem:internal",
} as const;

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
}
