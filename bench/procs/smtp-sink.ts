// SMTP sink for the benchmark, in its own process: accepts every mail, keeps only counts and timestamps.
// Talks to bench/run.ts over IPC: prints nothing; sends {port} once listening, answers "stats" and "reset".
import { SMTPServer } from "smtp-server";

const now = () => performance.timeOrigin + performance.now();
/** Answer DATA after this many ms, like a relay across a network (BENCH_SINK_DELAY_MS; default at once). */
const delayMs = Number(process.env.BENCH_SINK_DELAY_MS ?? 0);
let count = 0;
let bytes = 0;
let first = 0;
let last = 0;
/** recipient → accepted at, for the latency run (only addresses starting with "lat-"). */
let accepted: [string, number][] = [];

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ["STARTTLS", "AUTH"],
  logger: false,
  // Like a relay that answers quickly: no reverse DNS look-up per connection.
  disableReverseLookup: true,
  size: 10 * 1024 * 1024,
  onData(stream, session, callback) {
    stream.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
    });
    stream.on("end", () => (delayMs > 0 ? setTimeout(accept, delayMs) : accept()));
    const accept = () => {
      const t = now();
      count++;
      if (first === 0) first = t;
      last = t;
      const to = session.envelope.rcptTo[0]?.address ?? "";
      if (to.startsWith("lat-")) accepted.push([to, t]);
      callback(null, "2.0.0 queued");
    };
  },
});
server.on("error", () => {});
server.listen(0, "127.0.0.1", () => {
  const address = server.server.address();
  process.send?.({ url: `smtp://127.0.0.1:${typeof address === "object" && address ? address.port : 0}` });
});
process.on("message", (message: string) => {
  if (message === "stats") process.send?.({ count, bytes, first, last });
  else if (message === "latency") {
    process.send?.({ accepted });
    accepted = [];
  } else if (message === "reset") {
    count = bytes = first = last = 0;
    accepted = [];
    process.send?.({ reset: true });
  }
});
process.on("disconnect", () => process.exit(0));
