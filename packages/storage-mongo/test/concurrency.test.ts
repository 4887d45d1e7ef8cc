import { setTimeout as delay } from 'node:timers/promises';
import { makeMessage, makeSession } from '@pocketping/conformance';
import type { OutboxRecord } from '@pocketping/core';
import { afterEach, describe, expect, it } from 'vitest';
import { MongoStorage } from '../src/index.js';
import { randomDatabase, targetLabel, useMongoTarget } from './mongo-target.js';
import { outboxRecord } from './outbox-record.js';

const target = useMongoTarget();
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
});

/** Several storages with their own clients on one database, like several server processes. */
async function processes(count: number): Promise<MongoStorage[]> {
  const database = randomDatabase();
  const storages = Array.from({ length: count }, () => new MongoStorage({ url: target.url(), database }));
  cleanup.push(async () => {
    await Promise.all(storages.map((s) => s.close()));
    await target.admin().db(database).dropDatabase();
  });
  await Promise.all(storages.map((s) => s.init()));
  return storages;
}

describe(`MongoStorage concurrent writers (${targetLabel})`, () => {
  it('200 writers on 4 clients saving to one session keep every message', async () => {
    const storages = await processes(4);
    const session = makeSession();
    await storages[0]!.createSession(session);
    const messages = Array.from({ length: 200 }, (_, i) => makeMessage(session.id, { content: `writer ${i}` }));
    await Promise.all(messages.map((m, i) => storages[i % 4]!.saveMessage(m)));
    for (const storage of storages) {
      const history = await storage.getMessages(session.id);
      expect(history.map((m) => m.id)).toEqual(messages.map((m) => m.id));
    }
  });

  it('patches, thread ids and platform ids written at once from several clients all persist', async () => {
    const [a, b, c, d] = await processes(4);
    const session = makeSession();
    await a!.createSession(session);
    const m = makeMessage(session.id);
    await a!.saveMessage(m);
    const later = new Date(session.lastActivity.getTime() + 10_000);
    const readAt = new Date(m.timestamp.getTime() + 500);
    await Promise.all([
      a!.updateSession(session.id, { identity: { id: 'u-9', name: 'Ana' } }),
      b!.updateSession(session.id, { lastActivity: later }),
      c!.updateSession(session.id, { aiActive: true }),
      d!.updateSession(session.id, { csat: { pending: true } }),
      a!.setBridgeThread(session.id, 'telegram', 'tg-1'),
      b!.setBridgeThread(session.id, 'discord', 'dc-1'),
      c!.setBridgeThread(session.id, 'slack', 'sl-1'),
      a!.saveBridgeMessageId(m.id, 'telegram', 't-1'),
      b!.saveBridgeMessageId(m.id, 'discord', 'd-1'),
      c!.saveBridgeMessageId(m.id, 'slack', 's-1'),
      d!.updateMessage(m.id, { status: 'read', readAt, updatedAt: readAt }),
    ]);
    const got = await d!.getSession(session.id);
    expect(got).toMatchObject({
      identity: { id: 'u-9', name: 'Ana' },
      aiActive: true,
      csat: { pending: true },
      bridgeThreads: { telegram: 'tg-1', discord: 'dc-1', slack: 'sl-1' },
    });
    expect(got!.lastActivity).toEqual(later);
    const stored = await a!.getMessage(m.id);
    expect(stored).toMatchObject({
      status: 'read',
      bridgeMessageIds: { telegram: 't-1', discord: 'd-1', slack: 's-1' },
    });
    for (const [bridge, pid] of [
      ['telegram', 't-1'],
      ['discord', 'd-1'],
      ['slack', 's-1'],
    ] as const) {
      expect((await b!.findMessageByBridgeId(bridge, pid))?.id).toBe(m.id);
    }
    expect((await c!.findSessionByBridgeThread('discord', 'dc-1'))?.id).toBe(session.id);
  });
});

describe(`MongoStorage durable outbox across processes (${targetLabel})`, () => {
  it('12 claims at once from 4 clients never lease a record twice or two records of one lane', async () => {
    const storages = await processes(4);
    const lanes = Array.from({ length: 30 }, (_, i) => ({
      bridge: i % 2 ? 'slack' : 'telegram',
      sessionId: `ses_${i}`,
    }));
    const records = lanes.flatMap((l) => [1, 2, 3].map(() => outboxRecord(l.bridge, l.sessionId)));
    await storages[0]!.outboxAdd(records);
    const heads = new Set(lanes.map((l) => records.find((r) => r.sessionId === l.sessionId)!.id));
    const now = new Date();
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        storages[i % 4]!.outboxClaim({ owner: `w${i}`, now, leaseMs: 30_000, limit: 4 }).then((claimed) =>
          claimed.map((r) => ({ ...r, claimant: `w${i}` })),
        ),
      ),
    );
    const all = results.flat();
    expect(new Set(all.map((r) => r.id)).size).toBe(all.length);
    expect(new Set(all.map((r) => `${r.bridge}/${r.sessionId}`)).size).toBe(all.length);
    // Only heads, and every lane ends up with a worker (a claim stops early only once it has 4).
    expect(all.every((r) => heads.has(r.id))).toBe(true);
    expect(all).toHaveLength(30);
    // What is stored agrees: exactly the returned records are leased, each by its claimant.
    const leased = (await storages[1]!.outboxList({ status: 'pending' })).filter((r) => r.leaseOwner !== undefined);
    expect(leased.map((r) => [r.id, r.leaseOwner]).sort()).toEqual(all.map((r) => [r.id, r.claimant]).sort());
  });

  it('8 workers on 4 clients deliver every record once, in seq order per lane, one at a time per lane', async () => {
    const storages = await processes(4);
    const lanes = Array.from({ length: 16 }, (_, i) => ({
      bridge: i % 2 ? 'discord' : 'telegram',
      sessionId: `ses_${i}`,
    }));
    const records: OutboxRecord[] = [];
    for (let round = 0; round < 4; round++) {
      for (const l of lanes) records.push(outboxRecord(l.bridge, l.sessionId));
    }
    await storages[0]!.outboxAdd(records);
    // Every third record fails its first attempt and is rescheduled (due at once).
    const failsOnce = new Set(records.filter((_, i) => i % 3 === 0).map((r) => r.id));
    const inFlight = new Map<string, string>();
    const delivered = new Map<string, number[]>();
    const attempts = new Map<string, number>();
    const overlaps: string[] = [];

    const work = async (storage: MongoStorage, record: OutboxRecord) => {
      const lane = `${record.bridge}/${record.sessionId}`;
      if (inFlight.has(lane)) overlaps.push(`${record.id} while ${inFlight.get(lane)}`);
      inFlight.set(lane, record.id);
      const attempt = (attempts.get(record.id) ?? 0) + 1;
      attempts.set(record.id, attempt);
      // Let other workers run while this delivery is "on the wire".
      await new Promise((resolve) => setImmediate(resolve));
      const fail = failsOnce.has(record.id) && attempt === 1;
      if (!fail) delivered.set(lane, [...(delivered.get(lane) ?? []), record.seq]);
      // The lane is free for this worker once it reports back; storage decides who goes next.
      inFlight.delete(lane);
      if (fail) {
        await storage.outboxReschedule(record.id, {
          attempts: 1,
          nextAttemptAt: new Date(),
          lastError: 'try again',
          status: 'pending',
        });
      } else {
        await storage.outboxComplete(record.id);
      }
    };
    const worker = async (storage: MongoStorage, owner: string) => {
      for (;;) {
        const claimed = await storage.outboxClaim({ owner, now: new Date(), leaseMs: 30_000, limit: 3 });
        if (claimed.length === 0) {
          if ((await storage.outboxList({ status: 'pending', limit: 1 })).length === 0) return;
          await delay(2);
          continue;
        }
        await Promise.all(claimed.map((r) => work(storage, r)));
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, i) => worker(storages[i % 4]!, `worker-${i}`)));

    expect(overlaps).toEqual([]);
    for (const l of lanes) {
      const expected = records.filter((r) => r.sessionId === l.sessionId).map((r) => r.seq);
      expect(delivered.get(`${l.bridge}/${l.sessionId}`)).toEqual(expected);
    }
    for (const r of records) expect(attempts.get(r.id)).toBe(failsOnce.has(r.id) ? 2 : 1);
    expect(await storages[2]!.outboxList({ status: 'dead' })).toEqual([]);
  });
});
