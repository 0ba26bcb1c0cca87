// The Twilio-compatible test server (test/support/twilio-server.ts, validates every request against
// Twilio's OpenAPI) in its own process, for the benchmark. IPC like smtp-sink.ts.
import { startTwilioServer } from "../../test/support/twilio-server.js";

const now = () => performance.timeOrigin + performance.now();
const server = await startTwilioServer({ accountSid: `AC${"0".repeat(32)}`, authToken: "0".repeat(32) });
let seen = 0;
let first = 0;
let last = 0;
// The server keeps every message; watch its list for timestamps and empty it so a long run stays small.
setInterval(() => {
  const n = server.messages.length;
  if (n > 0) {
    const t = now();
    if (first === 0) first = t;
    last = t;
    seen += n;
    server.reset();
  }
}, 5).unref();
process.send?.({ url: server.url, accountSid: server.accountSid, authToken: server.authToken });
process.on("message", (message: string) => {
  if (message === "stats") process.send?.({ count: seen + server.messages.length, first, last });
  else if (message === "reset") {
    seen = first = last = 0;
    server.reset();
    process.send?.({ reset: true });
  }
});
process.on("disconnect", () => process.exit(0));
