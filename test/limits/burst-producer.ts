// A producer process for the concurrency test: fires BURST enqueues at once to one address and prints
// one JSON line per result. Run by limits.test.ts as a child process (two at a time).
import { Herald, RateLimitedError } from "../../src/index.js";

const herald = new Herald({
  redis: process.env.REDIS_URL!,
  prefix: process.env.HERALD_PREFIX!,
  encryptionKey: process.env.HERALD_ENCRYPTION_KEY!,
  limits: { policy: { cooldownSeconds: 0, addressPerHour: Number(process.env.CAP), userPerHour: 1000 } },
});
const count = Number(process.env.BURST);
// Both processes start together: each waits for the go time so the bursts overlap.
await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(process.env.GO_AT) - Date.now())));
const results = await Promise.all(
  Array.from({ length: count }, (_, i) =>
    herald
      .emailVerification({
        recipient: { userId: `user-${process.pid}-${i}`, email: "burst@example.com" },
        code: "123456",
        url: "https://login.example.com/verify",
      })
      .then(
        (r) => ({ ok: true, id: r.id }),
        (e) => (e instanceof RateLimitedError ? { ok: false, limit: e.limit, retryAfter: e.retryAfter } : { ok: false, error: String(e) }),
      ),
  ),
);
process.stdout.write(JSON.stringify(results));
await herald.close();
