import type { z } from "zod";

export interface FieldIssue {
  /** Dotted path of the field, e.g. `recipient.email`; empty for the job as a whole. */
  field: string;
  message: string;
}

/** Thrown at the edge (SDK, CLI, HTTP) before anything is enqueued; lists every bad field, not just the first. */
export class ValidationError extends Error {
  override readonly name = "ValidationError";
  constructor(
    readonly kind: string,
    readonly issues: FieldIssue[],
  ) {
    super(`invalid ${kind} job: ${issues.map((i) => (i.field ? `${i.field} ${i.message}` : i.message)).join("; ")}`);
  }
}

export function toFieldIssues(error: z.ZodError, prefix: (string | number)[] = []): FieldIssue[] {
  return error.issues.map((issue) => {
    const path = [...prefix, ...issue.path].map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      const keys = issue.keys.map((k) => [path, k].filter(Boolean).join("."));
      return { field: keys.join(", "), message: keys.length > 1 ? "are not allowed" : "is not allowed" };
    }
    return { field: path, message: issue.message };
  });
}
