import { z } from "zod";

// Building blocks of the environment's schema: every slice (producer, service, HTTP) uses the same ones,
// so a variable reads the same and fails with the same message wherever it is read.

export const int = (name: string, min: number, max: number) =>
  z.coerce
    .number({ error: `${name} must be a whole number` })
    .int(`${name} must be a whole number`)
    .min(min, `${name} must be at least ${min}`)
    .max(max, `${name} must be at most ${max}`);

export const optionalText = z
  .string()
  .trim()
  .transform((v) => (v === "" ? undefined : v))
  .optional();

export const urlWith = (name: string, protocols: RegExp) =>
  z
    .string()
    .trim()
    .refine(
      (v) => {
        try {
          return protocols.test(new URL(v).protocol);
        } catch {
          return false;
        }
      },
      `${name} must be a URL with scheme ${protocols.source.replace(/[\\^$():]/g, "").replace(/\|/g, " or ")}`,
    );

/** `1`/`0` (or true/false) switches. */
export const flag = z.enum(["0", "1", "true", "false", ""], { error: "must be 1 or 0" }).transform((v) => v === "1" || v === "true");

/** One line per bad variable, each naming it: what start-up prints before it stops. */
export function describeEnvIssues(error: z.ZodError): string {
  const lines = error.issues.map((issue) => {
    const variable = String(issue.path[0] ?? "");
    return issue.message.includes(variable) ? issue.message : `${variable}: ${issue.message}`;
  });
  return `invalid configuration:\n  ${lines.join("\n  ")}`;
}
