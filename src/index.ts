// The producer SDK: what another service imports to enqueue notifications. It stays light on purpose:
// nothing here reaches worker, template or provider code (a test walks the import graph to keep it so).
export {
  Herald,
  EnqueueError,
  EnqueueTimeoutError,
  NotQueuedError,
  ReplicationTimeoutError,
  type HeraldOptions,
  type EnqueueOptions,
  type EnqueueResult,
  type BulkItem,
  type KindMethods,
} from "./queues/producer.js";
export { DeadLetters, type DeadLetter, type DeadLetterRecord, type DeadLetterFilter } from "./queues/dead-letter.js";
export { DEFAULT_PREFIX } from "./queues/names.js";
export { WaitTimeoutError } from "./queues/watch.js";
export type { NotificationStatus } from "./queues/status.js";
export type { HandsetReport } from "./queues/provider-reports.js";
export { NOTIFICATION_EVENT_TYPES, type NotificationEvent, type NotificationEventData, type NotificationEventType } from "./queues/notification-events.js";
export { KeyError, type Keyring, type KeyEntry } from "./secrets/key.js";
export { ProducerConfigError } from "./config/producer.js";
export {
  KINDS,
  KIND_NAMES,
  CHANNELS,
  LINK_PLACEHOLDERS,
  parseJob,
  ValidationError,
  type FieldIssue,
  type KindName,
  type ChannelName,
  type Job,
  type JobInput,
  type ResendInitializationJob,
  type EmailVerificationJob,
  type PhoneVerificationJob,
  type PasswordResetJob,
  type PasskeyLinkJob,
  type OtpSmsJob,
  type OtpEmailJob,
  type InviteUserJob,
  type PasswordChangedJob,
  type EmailChangedJob,
  type MfaChangedJob,
  type Factor,
  FACTORS,
} from "./contracts/index.js";
export { FAILURE_CLASSES, LIMIT_NAMES, RateLimitedError, type FailureClass, type LimitName } from "./errors/index.js";
export { DEFAULT_LIMITS, type LimitPolicy, type LimitsView, type LimitSubject } from "./queues/limits.js";
