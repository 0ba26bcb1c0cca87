import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { freePort, type RedisProcess, type RedisServerOptions, startRedisServer } from "./redis-server.js";

const run = promisify(execFile);

/** Retries `check` until it resolves (no vitest here: the bench uses these helpers too). */
async function waitFor(check: () => Promise<void>, opts: { timeout: number; interval: number }): Promise<void> {
  const deadline = Date.now() + opts.timeout;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, opts.interval));
    }
  }
}

/**
 * Real Redis topologies for the scale tests, each node a `startRedisServer` process (own port, own temp
 * folder, append-only file): a Cluster made by `redis-cli --cluster create`, and a master with a replica
 * watched by sentinels. Failover timings are short (about a second) so a test can kill a master and
 * watch the replica take over within its minute.
 */

export interface RedisClusterProcesses {
  nodes: RedisProcess[];
  /** `host:port,...` of every node: REDIS_CLUSTER_NODES. */
  seeds: string;
  /** The node currently serving a slot as master (asks the cluster). */
  masterOf(slot: number): Promise<RedisProcess>;
  /** The current masters. */
  masters(): Promise<RedisProcess[]>;
  stop(): Promise<void>;
}

/** Runs a command on one node with a short-lived client. */
export async function onNode<T>(port: number, fn: (client: Redis) => Promise<T>, tls?: { ca: string }): Promise<T> {
  const client = new Redis({
    port,
    host: "127.0.0.1",
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    lazyConnect: true,
    ...(tls ? { tls: { ca: readFileSync(tls.ca) } } : {}),
  });
  client.on("error", () => {});
  try {
    await client.connect();
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

/** 3 masters + 3 replicas, `cluster-node-timeout` 1500 ms (a dead master is replaced within about 3 s). */
export async function startRedisCluster(
  opts: { nodeTimeoutMs?: number; tls?: { cert: string; key: string; ca: string } } = {},
): Promise<RedisClusterProcesses> {
  // The cluster bus would listen on port + 10000, which may be taken: each node gets a free one of its own.
  const nodeOptions = (busPort: number): RedisServerOptions => ({
    args: () => [
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      "nodes.conf",
      "--cluster-port",
      String(busPort),
      "--cluster-node-timeout",
      String(opts.nodeTimeoutMs ?? 1500),
      // A replica that was cut off takes over anyway: the test kills the master it replicates.
      "--cluster-replica-validity-factor",
      "0",
      // TLS only: clients, the cluster bus and replication alike.
      ...(opts.tls ? ["--tls-cluster", "yes", "--tls-replication", "yes"] : []),
    ],
    ...(opts.tls ? { tls: opts.tls } : {}),
  });
  const nodes: RedisProcess[] = [];
  for (let i = 0; i < 6; i++) nodes.push(await startRedisServer(nodeOptions(await freePort())));
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    const tlsArgs = opts.tls ? ["--tls", "--cacert", opts.tls.ca] : [];
    await run("redis-cli", [...tlsArgs, "--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`), "--cluster-replicas", "1", "--cluster-yes"], {
      timeout: 30_000,
    });
    // Every node must agree the cluster is whole before a client connects.
    await waitFor(
      async () => {
        for (const node of nodes) {
          const info = await onNode(node.port, (c) => c.cluster("INFO"), opts.tls);
          if (!/cluster_state:ok/.test(String(info))) throw new Error(`node ${node.port} not ok yet`);
          // …and every replica has its master's data, or a WAIT right after start would count none.
          const replication = String(await onNode(node.port, (c) => c.info("replication"), opts.tls));
          if (/role:slave/.test(replication) && !/master_link_status:up/.test(replication)) throw new Error(`replica ${node.port} not in sync yet`);
          if (/role:master/.test(replication) && !/connected_slaves:1/.test(replication)) throw new Error(`master ${node.port} has no replica yet`);
        }
      },
      { timeout: 30_000, interval: 200 },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  const byPort = new Map(nodes.map((n) => [n.port, n]));
  const alive = () => nodes.find((n) => n.pid > 0 && isRunning(n.pid))!;
  const slotsTable = async () => (await onNode(alive().port, (c) => c.cluster("SLOTS"), opts.tls)) as unknown as [number, number, [string, number]][];
  return {
    nodes,
    seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(","),
    async masterOf(slot) {
      const range = (await slotsTable()).find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`no node serves slot ${slot}`);
      return byPort.get(Number(range[2][1]))!;
    },
    async masters() {
      return (await slotsTable()).map((range) => byPort.get(Number(range[2][1]))!);
    },
    stop,
  };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface RedisSentinelProcesses {
  master: RedisProcess;
  replica: RedisProcess;
  sentinels: RedisProcess[];
  /** REDIS_SENTINELS */
  sentinelList: string;
  name: string;
  /** The port of the master the sentinels name now. */
  currentMasterPort(): Promise<number>;
  stop(): Promise<void>;
}

/** One master, one replica, three sentinels (quorum 2, down-after 1000 ms, failover-timeout 5000 ms). */
export async function startRedisSentinels(name = "herald", opts: { tls?: { cert: string; key: string; ca: string } } = {}): Promise<RedisSentinelProcesses> {
  // With TLS every link is TLS: clients, replication, and the sentinels' own.
  const tls = opts.tls ? { tls: opts.tls } : {};
  const tlsReplication = opts.tls ? ["--tls-replication", "yes"] : [];
  const master = await startRedisServer({ ...tls, args: () => tlsReplication });
  const replica = await startRedisServer({ ...tls, args: () => ["--replicaof", "127.0.0.1", String(master.port), ...tlsReplication] });
  const sentinels = await Promise.all(
    Array.from({ length: 3 }, () =>
      startRedisServer({
        sentinel: true,
        appendOnly: false,
        ...tls,
        args: () => tlsReplication,
        config: (port, dir) =>
          [
            `port ${port}`,
            `dir ${dir}`,
            `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
            `sentinel down-after-milliseconds ${name} 1000`,
            `sentinel failover-timeout ${name} 5000`,
            `sentinel parallel-syncs ${name} 1`,
            "",
          ].join("\n"),
      }),
    ),
  );
  const all = [master, replica, ...sentinels];
  const stop = async () => {
    await Promise.all(all.map((p) => p.stop()));
  };
  const currentMasterPort = async () => {
    for (const sentinel of sentinels) {
      try {
        const answer = (await onNode(sentinel.port, (c) => c.call("SENTINEL", "get-master-addr-by-name", name), opts.tls)) as [string, string];
        return Number(answer[1]);
      } catch {
        // this sentinel is not answering; ask the next
      }
    }
    throw new Error("no sentinel answers");
  };
  // The replica is in sync and every sentinel sees it, before the test relies on a failover.
  await waitFor(
    async () => {
      const info = String(await onNode(replica.port, (c) => c.info("replication"), opts.tls));
      if (!/master_link_status:up/.test(info)) throw new Error("replica not in sync yet");
      for (const sentinel of sentinels) {
        const replicas = (await onNode(sentinel.port, (c) => c.call("SENTINEL", "replicas", name), opts.tls)) as unknown[];
        if (replicas.length < 1) throw new Error(`sentinel ${sentinel.port} does not know the replica yet`);
        const others = (await onNode(sentinel.port, (c) => c.call("SENTINEL", "sentinels", name), opts.tls)) as unknown[];
        if (others.length < 2) throw new Error(`sentinel ${sentinel.port} does not know the other sentinels yet`);
      }
    },
    { timeout: 30_000, interval: 200 },
  ).catch(async (error) => {
    await stop();
    throw error;
  });
  return { master, replica, sentinels, sentinelList: sentinels.map((s) => `127.0.0.1:${s.port}`).join(","), name, currentMasterPort, stop };
}
