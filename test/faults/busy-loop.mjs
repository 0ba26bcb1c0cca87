// Loaded with `node --import` into a worker process. On SIGUSR2 it starts keeping the event loop busy
// most of the time, as a worker rendering and sending under heavy load would, so lock renewal runs late.
// (Started by signal so that start-up itself is not slowed down.)
const busyMs = Number(process.env.HERALD_TEST_BUSY_MS ?? 2000);
const idleMs = Number(process.env.HERALD_TEST_IDLE_MS ?? 250);
function spin() {
  const end = Date.now() + busyMs;
  while (Date.now() < end);
  setTimeout(spin, idleMs).unref();
}
process.once("SIGUSR2", () => setTimeout(spin, 0).unref());
