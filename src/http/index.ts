export {
  createHttpServer,
  DEFAULT_BODY_LIMIT,
  DEFAULT_CONNECTION_LIMITS,
  DEFAULT_REDIS_TIMEOUT_MS,
  type ConnectionLimits,
  type HeraldHttpServer,
  type HttpServerOptions,
} from "./server.js";
export { DeadlineError } from "../queues/deadline.js";
export {
  API_SCOPES,
  HttpConfigError,
  MIN_TOKEN_LENGTH,
  httpConfigSchema,
  httpEnvShape,
  loadHttpConfig,
  type ApiScope,
  type ApiToken,
  type HttpConfig,
} from "../config/http.js";
export { ApiAuth, allows } from "./auth.js";
export { redisCheck, runReadyChecks, templatesCheck, workersCheck, type ReadyCheck, type ReadyResult } from "./ready.js";
export { BOARD_PATH } from "./board.js";
export { maskForDisplay, maskDeadLetterForDisplay } from "./mask.js";
export { PROBLEM_TYPES, type Problem } from "./problem.js";
export { publicDeadLetter, type PublicDeadLetter } from "../queues/dead-letter.js";
