import { expect, vi } from "vitest";
import type { Config } from "../../src/config/index.js";
import { createRedis, type RedisTarget } from "../../src/queues/connection.js";
import { Herald, type HeraldOptions } from "../../src/queues/producer.js";
import { type Cleanups, emailItems, produce, type QueueProbe, untilProducedHalf, waitForDrain } from "../faults/rig.js";
import { type TestEnv, testEnv } from "../support/herald.js";
import type { SmtpTestServer } from "../support/smtp-server.js";

/**
 * The shared part of the failover scenarios (Redis Cluster, Sentinel): Herald's settings, a producer that
 * waits for a replica's acknowledgement, and the run itself: load, kill -9 the master, wait for the
 * promotion, drain, and check that no acknowledged job was lost.
 */

export const FAILOVER_JOBS = Number(process.env.HERALD_SCALE_JOBS ?? 2000);

/** SMTP delivery, HERALD_REPLICAS_ACK=1, retries that outlast a failover, and short lock and stall checks; `extra` names the topology. */
export function failoverEnv(smtp: SmtpTestServer, extra: Record<string, string>): TestEnv {
  return testEnv({
    ...extra,
    HERALD_REPLICAS_ACK: "1",
    SMTP_URL: smtp.url,
    SMTP_FROM: "Acme <no-reply@acme.test>",
    HERALD_ATTEMPTS: "8",
    HERALD_BACKOFF_MS: "300",
    HERALD_LOCK_MS: "3000",
    HERALD_STALLED_INTERVAL_MS: "1000",
  });
}

/** A producer on a connection of its own, waiting for one replica; its enqueue errors are counted and retried by `produce`. */
export function failoverProducer(
  cleanups: Cleanups,
  target: RedisTarget,
  config: Config,
  opts: Pick<HeraldOptions, "shards" | "replicasAckTimeoutMs"> = {},
): Herald {
  const producerRedis = createRedis(target, "producer");
  producerRedis.on("error", () => {}); // failed enqueues are counted and retried by `produce`
  cleanups.add(() => producerRedis.disconnect());
  const herald = new Herald({
    redis: producerRedis,
    prefix: config.HERALD_PREFIX,
    ...opts,
    replicasAck: 1,
    encryptionKey: config.HERALD_ENCRYPTION_KEY,
    timeoutMs: 3000,
  });
  cleanups.add(() => herald.close());
  return herald;
}

export interface MasterKill {
  /** Printed before the measurements. */
  label: string;
  herald: Herald;
  smtp: SmtpTestServer;
  probe: QueueProbe;
  /** kill -9 of the master. */
  kill(): Promise<void>;
  /** Whether a replica has taken over. */
  failedOver(): Promise<boolean>;
  /** Brings the killed master back (it rejoins as a replica, so acknowledgements are possible again). */
  restart(): Promise<void>;
  /** Duplicates allowed: the jobs that can be in flight at the failover. */
  inFlight: number;
}

/**
 * Enqueues FAILOVER_JOBS mails and, once half are acknowledged and one delivered, kills the master; then
 * checks that every acknowledged job was delivered, at most `inFlight` twice, none dead-lettered.
 */
export async function killMasterUnderLoad(run: MasterKill): Promise<void> {
  const { smtp, probe } = run;
  const production = produce(run.herald, emailItems(FAILOVER_JOBS), { batch: 50, everyMs: 50 });
  await untilProducedHalf(production, FAILOVER_JOBS);
  await smtp.waitForMails(1);
  const acknowledgedAtFault = production.acknowledged.size;

  const killedAt = Date.now();
  await run.kill();
  await vi.waitFor(
    async () => {
      if (!(await run.failedOver())) throw new Error("no failover yet");
    },
    { timeout: 30_000, interval: 100 },
  );
  const failoverMs = Date.now() - killedAt;
  await run.restart();

  const result = await waitForDrain({ rig: { texts: () => smtp.mails.map((m) => m.parsed.text ?? ""), probe }, production, timeoutMs: 90_000 });
  console.info(
    run.label,
    JSON.stringify({ ...result, lost: result.lost.length, failedEnqueueCalls: production.failedCalls, failoverMs, inFlight: run.inFlight }),
  );
  expect(acknowledgedAtFault).toBeLessThan(FAILOVER_JOBS);
  expect(result.acknowledged).toBe(FAILOVER_JOBS);
  expect(result.lost).toEqual([]);
  expect(result.duplicates).toBeLessThanOrEqual(run.inFlight);
  expect(await probe.deadLettered()).toBe(0);
}
