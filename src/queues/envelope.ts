import { z } from "zod";
import { KIND_NAMES, SECRET_FIELDS, type AnyJob, type KindName } from "../contracts/index.js";
import { seal, unseal } from "../secrets/cipher.js";
import type { KeyMaterial } from "../secrets/key.js";

export const ENVELOPE_VERSION = 1;

/** What is stored in Redis: the job without its secrets, plus the secrets sealed with AES-256-GCM. */
export const envelopeSchema = z.object({
  v: z.literal(ENVELOPE_VERSION, { error: `v must be ${ENVELOPE_VERSION}` }),
  kind: z.enum(KIND_NAMES as [KindName, ...KindName[]], { error: `kind must be one of ${KIND_NAMES.join(", ")}` }),
  job: z.record(z.string(), z.unknown(), { error: "job must be an object" }),
  sealed: z.string({ error: "sealed must be a string" }),
  enqueuedAt: z.number({ error: "enqueuedAt must be a number" }),
});

export type Envelope = z.output<typeof envelopeSchema>;

export function toEnvelope(kind: KindName, job: AnyJob, key: KeyMaterial, now = Date.now()): Envelope {
  const open: Record<string, unknown> = { ...job };
  const secrets: Record<string, unknown> = {};
  for (const field of SECRET_FIELDS) {
    if (field in open) {
      secrets[field] = open[field];
      delete open[field];
    }
  }
  return { v: ENVELOPE_VERSION, kind, job: open, sealed: seal(key, secrets), enqueuedAt: now };
}

/** The job as the producer gave it, secrets decrypted with whichever listed key sealed them; still to be validated by the contract. */
export function openEnvelope(envelope: Envelope, key: KeyMaterial): Record<string, unknown> {
  const secrets = unseal(key, envelope.sealed);
  if (typeof secrets !== "object" || secrets === null) throw new Error("sealed secrets are not an object");
  return { ...envelope.job, ...secrets };
}
