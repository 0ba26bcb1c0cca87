import type { z } from "zod";
import type { ChannelName, KindDefinition } from "./common.js";
import { emailVerification } from "./email-verification.js";
import { passkeyLink } from "./passkey-link.js";
import { passwordReset } from "./password-reset.js";
import { phoneVerification } from "./phone-verification.js";
import { resendInitialization } from "./resend-initialization.js";
import { otpSms } from "./otp-sms.js";
import { otpEmail } from "./otp-email.js";
import { inviteUser } from "./invite-user.js";
import { passwordChanged } from "./password-changed.js";
import { emailChanged } from "./email-changed.js";
import { mfaChanged } from "./mfa-changed.js";
import { toFieldIssues, ValidationError } from "./validation-error.js";

export const KINDS = {
  "resend-initialization": resendInitialization,
  "email-verification": emailVerification,
  "phone-verification": phoneVerification,
  "password-reset": passwordReset,
  "passkey-link": passkeyLink,
  "otp-sms": otpSms,
  "otp-email": otpEmail,
  "invite-user": inviteUser,
  "password-changed": passwordChanged,
  "email-changed": emailChanged,
  "mfa-changed": mfaChanged,
} as const;

export type Kinds = typeof KINDS;
export type KindName = keyof Kinds;
/** What a producer passes for a kind (defaults not yet applied). */
export type JobInput<K extends KindName> = z.input<Kinds[K]["schema"]>;
/** A validated job of a kind, defaults applied and values normalised. */
export type Job<K extends KindName> = z.output<Kinds[K]["schema"]>;
export type AnyJob = Job<KindName>;
/** Any kind's job with the fields only some kinds have seen as optional: for code that treats every kind alike. */
export type LooseJob = AnyJob & { code?: string; codeId?: string; expiresAt?: string; occurredAt?: string; url?: string; urlTemplate?: string };

export const KIND_NAMES = Object.keys(KINDS) as KindName[];

export function isKindName(kind: string): kind is KindName {
  return Object.hasOwn(KINDS, kind);
}

export function kindDefinition(kind: KindName): KindDefinition {
  return KINDS[kind] as unknown as KindDefinition;
}

/** Validates a job of any kind; throws ValidationError naming every bad field. */
export function parseJob<K extends KindName>(kind: K, data: unknown): Job<K>;
export function parseJob(kind: string, data: unknown): AnyJob;
export function parseJob(kind: string, data: unknown): AnyJob {
  if (!isKindName(kind)) {
    throw new ValidationError(kind, [{ field: "kind", message: `is unknown; expected one of ${KIND_NAMES.join(", ")}` }]);
  }
  const result = KINDS[kind].schema.safeParse(data);
  if (!result.success) throw new ValidationError(kind, toFieldIssues(result.error));
  return result.data as AnyJob;
}

export function hasChannel(kind: KindName, channel: ChannelName): boolean {
  return kindDefinition(kind).channels.includes(channel);
}

export function channelOf(kind: KindName, job: AnyJob): ChannelName {
  return kindDefinition(kind).channelOf(job);
}

export * from "./common.js";
export { LINK_PLACEHOLDERS, fillLinkTemplate, resolveLink } from "./link.js";
export { ValidationError, toFieldIssues, type FieldIssue } from "./validation-error.js";
export type { ResendInitializationJob } from "./resend-initialization.js";
export type { EmailVerificationJob } from "./email-verification.js";
export type { PhoneVerificationJob } from "./phone-verification.js";
export type { PasswordResetJob } from "./password-reset.js";
export type { PasskeyLinkJob } from "./passkey-link.js";
export type { OtpSmsJob } from "./otp-sms.js";
export type { OtpEmailJob } from "./otp-email.js";
export type { InviteUserJob } from "./invite-user.js";
export type { PasswordChangedJob } from "./password-changed.js";
export type { EmailChangedJob } from "./email-changed.js";
export type { MfaChangedJob, Factor } from "./mfa-changed.js";
export { FACTORS } from "./mfa-changed.js";
