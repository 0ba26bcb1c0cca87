#!/usr/bin/env node
// Container health check without curl: exit 0 when Herald's /healthz answers 200 on this machine.
// Port: the first argument (a worker's HERALD_METRICS_PORT), else HERALD_HTTP_PORT, else 8080.
const port = process.argv[2] ?? process.env.HERALD_HTTP_PORT ?? "8080";
fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(4000) }).then(
  (response) => process.exit(response.ok ? 0 : 1),
  () => process.exit(1),
);
