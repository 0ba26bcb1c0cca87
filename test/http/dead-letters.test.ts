import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeadLetter } from "../../src/queues/dead-letter.js";
import { asAdmin, startApiHarness, type ApiHarness } from "../support/harness.js";

/** Job ids are UUIDs; these end in the letter's number so tests can tell them apart. */
const jobId = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;

/** A dead letter as the mover writes it; its data is an envelope with a recipient and sealed secrets. */
function letter(n: number, over: Partial<DeadLetter> = {}): DeadLetter {
  return {
    kind: "email-verification",
    queue: "email",
    originalJobId: jobId(n),
    data: {
      v: 1,
      kind: over.kind ?? "email-verification",
      job: { recipient: { userId: `u${n}`, email: `person${n}@example.com` } },
      sealed: `SEALED-${n}`,
      enqueuedAt: Date.now(),
    },
    attempts: 1,
    failureClass: "permanent",
    reason: "smtp: 550 mailbox unavailable",
    code: "smtp-550",
    failedAt: new Date(Date.UTC(2026, 0, n)).toISOString(),
    ...over,
  };
}

describe("dead-letter admin API (no workers: replayed jobs stay queued)", () => {
  let h: ApiHarness;
  const get = (url: string) => h.app.inject({ method: "GET", url, headers: asAdmin });

  beforeAll(async () => {
    h = await startApiHarness({ workers: false });
    await h.deadLetters.add(letter(1));
    await h.deadLetters.add(letter(2, { failureClass: "transient-exhausted", code: "ECONNREFUSED", attempts: 5 }));
    await h.deadLetters.add(
      letter(3, { kind: "phone-verification", queue: "sms", failureClass: "invalid", code: undefined, reason: "invalid phone-verification job" }),
    );
    await h.deadLetters.add(letter(4, { failureClass: "expired", code: undefined }));
    await h.deadLetters.add(letter(5));
  });
  afterAll(async () => {
    await h?.close();
  });

  it("lists newest first, paged, with only the public fields", async () => {
    const res = await get("/v1/dead-letters?limit=2&offset=1");
    expect(res.statusCode).toBe(200);
    const page = res.json();
    expect(page.total).toBe(5);
    expect(page.offset).toBe(1);
    expect(page.limit).toBe(2);
    expect(page.items.map((i: { originalJobId: string }) => i.originalJobId)).toEqual([jobId(4), jobId(3)]);
    expect(page.items[1]).toEqual({
      id: `sms-${jobId(3)}`,
      kind: "phone-verification",
      queue: "sms",
      originalJobId: jobId(3),
      attempts: 1,
      failureClass: "invalid",
      reason: "invalid phone-verification job",
      failedAt: "2026-01-03T00:00:00.000Z",
    });
    const all = await get("/v1/dead-letters");
    expect(all.body).not.toMatch(/@example\.com|SEALED|"data"|sealed/);
  });

  it("filters by kind, failure class and time", async () => {
    const ids = async (query: string) => (await get(`/v1/dead-letters?${query}`)).json().items.map((i: { originalJobId: string }) => i.originalJobId);
    expect(await ids("kind=phone-verification")).toEqual([jobId(3)]);
    expect(await ids("failureClass=permanent")).toEqual([jobId(5), jobId(1)]);
    expect(await ids("since=2026-01-02T00:00:00Z&until=2026-01-04T00:00:00Z")).toEqual([jobId(4), jobId(3), jobId(2)]);
    expect(await ids("kind=email-verification&failureClass=permanent&since=2026-01-03T00:00:00%2B01:00")).toEqual([jobId(5)]);
  });

  it("400 problem for a bad filter, listing each bad field", async () => {
    const res = await get("/v1/dead-letters?kind=fax&failureClass=meh&since=yesterday&limit=0&colour=red");
    expect(res.statusCode).toBe(400);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(
      res
        .json()
        .errors.map((e: { field: string }) => e.field)
        .sort(),
    ).toEqual(["colour", "failureClass", "kind", "limit", "since"]);
  });

  it("gets one, 404 for an unknown id", async () => {
    const one = await get(`/v1/dead-letters/email-${jobId(2)}`);
    expect(one.json()).toMatchObject({ id: `email-${jobId(2)}`, failureClass: "transient-exhausted", code: "ECONNREFUSED", attempts: 5 });
    expect(one.body).not.toMatch(/person2@example\.com|SEALED/);
    expect((await get(`/v1/dead-letters/email-${jobId(99)}`)).statusCode).toBe(404);
    // Not an id at all, or one of BullMQ's own key names: 404 without asking Redis.
    for (const id of ["email-nope", "wait", "email-wait", "dead-letter-meta", "sms-events"]) {
      expect((await get(`/v1/dead-letters/${id}`)).statusCode, id).toBe(404);
      expect((await h.app.inject({ method: "DELETE", url: `/v1/dead-letters/${id}`, headers: asAdmin })).statusCode, id).toBe(404);
      expect((await h.app.inject({ method: "POST", url: `/v1/dead-letters/${id}/replay`, headers: asAdmin })).statusCode, id).toBe(404);
    }
  });

  it("DELETE one; DELETE with a filter; refuses to purge everything without all=true", async () => {
    const del = await h.app.inject({ method: "DELETE", url: `/v1/dead-letters/email-${jobId(1)}`, headers: asAdmin });
    expect(del.statusCode).toBe(204);
    expect((await h.app.inject({ method: "DELETE", url: `/v1/dead-letters/email-${jobId(1)}`, headers: asAdmin })).statusCode).toBe(404);

    const refused = await h.app.inject({ method: "DELETE", url: "/v1/dead-letters", headers: asAdmin });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().errors).toEqual([{ field: "all", message: expect.any(String) }]);

    const purged = await h.app.inject({ method: "DELETE", url: "/v1/dead-letters?failureClass=expired", headers: asAdmin });
    expect(purged.json()).toEqual({ removed: 1 });
    expect((await get("/v1/dead-letters")).json().total).toBe(3);
  });

  it("POST /v1/dead-letters/replay replays the matching ones and returns the count", async () => {
    const bad = await h.app.inject({ method: "POST", url: "/v1/dead-letters/replay", headers: asAdmin, payload: { kind: "fax" } });
    expect(bad.statusCode).toBe(400);

    const res = await h.app.inject({ method: "POST", url: "/v1/dead-letters/replay", headers: asAdmin, payload: { kind: "email-verification" } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ replayed: 2 });
    const waiting = await h.redis.llen(`${h.config.HERALD_PREFIX}:email:wait`);
    expect(waiting).toBe(2);
    expect((await get("/v1/dead-letters")).json().items.map((i: { id: string }) => i.id)).toEqual([`sms-${jobId(3)}`]);

    // No body, or an empty one, is not "everything": that takes an explicit all, as DELETE does.
    for (const payload of [undefined, {}, { all: false }]) {
      const refused = await h.app.inject({ method: "POST", url: "/v1/dead-letters/replay", headers: asAdmin, ...(payload ? { payload } : {}) });
      expect(refused.statusCode, JSON.stringify(payload)).toBe(400);
      expect(refused.json().errors).toEqual([{ field: "all", message: "must be true to replay every dead letter" }]);
    }
    expect(await h.redis.llen(`${h.config.HERALD_PREFIX}:sms:wait`)).toBe(0);
    const rest = await h.app.inject({ method: "POST", url: "/v1/dead-letters/replay", headers: asAdmin, payload: { all: true } });
    expect(rest.json()).toEqual({ replayed: 1 });
    expect(await h.redis.llen(`${h.config.HERALD_PREFIX}:sms:wait`)).toBe(1);

    const all = await h.app.inject({ method: "DELETE", url: "/v1/dead-letters?all=true", headers: asAdmin });
    expect(all.json()).toEqual({ removed: 0 });
  });
});
