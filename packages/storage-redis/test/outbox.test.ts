import { makeOutboxRecord, makeSession } from '@pocketping/conformance';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisStorage } from '../src/index.js';
import { adminClient, closeAdmin, deletePrefix, keysUnder, randomPrefix, redisService } from './helpers.js';

const record = makeOutboxRecord;

const lease = { leaseMs: 60_000 };

describe.skipIf(redisService.skip)('RedisStorage durable outbox', () => {
  const prefixes: string[] = [];
  const opened: RedisStorage[] = [];
  /** A storage with its own connection on `keyPrefix` (several of them stand for several server instances). */
  const open = async (keyPrefix: string) => {
    const s = new RedisStorage({ url: redisService.url!, keyPrefix });
    opened.push(s);
    await s.init();
    return s;
  };
  const newPrefix = () => {
    const keyPrefix = randomPrefix();
    prefixes.push(keyPrefix);
    return keyPrefix;
  };

  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    for (const keyPrefix of prefixes.splice(0)) await deletePrefix(keyPrefix);
  });
  afterAll(closeAdmin);

  it('deleteSession leaves no outbox key of the session behind', async () => {
    const keyPrefix = newPrefix();
    const s = await open(keyPrefix);
    const gone = makeSession();
    await s.createSession(gone);
    const kept = record('telegram', 'ses_kept');
    await s.outboxAdd([
      record('telegram', gone.id),
      record('slack:eu', gone.id),
      record('telegram', gone.id, { status: 'dead' }),
      kept,
    ]);
    await s.outboxClaim({ owner: 'w', now: new Date(), ...lease, limit: 10 });
    await s.deleteSession(gone.id);
    const keys = await keysUnder(`${keyPrefix}outbox:`);
    expect(keys.filter((k) => k.includes(gone.id))).toEqual([]);
    expect(await adminClient().zrange(`${keyPrefix}outbox:lanes`, 0, -1)).toEqual(['telegram:ses_kept']);
    expect(await s.outboxClaim({ owner: 'w', now: new Date(), ...lease, limit: 10 })).toMatchObject([{ id: kept.id }]);
  });

  it('a fully delivered outbox leaves no keys behind', async () => {
    const keyPrefix = newPrefix();
    const s = await open(keyPrefix);
    const records = ['a', 'b', 'c'].flatMap((lane) => [record('discord', lane), record('discord', lane)]);
    await s.outboxAdd(records);
    for (let round = 0; round < 2; round++) {
      const claimed = await s.outboxClaim({ owner: 'w', now: new Date(), ...lease, limit: 10 });
      expect(claimed).toHaveLength(3);
      for (const r of claimed) await s.outboxComplete(r.id);
    }
    expect(await keysUnder(`${keyPrefix}outbox:`)).toEqual([]);
  });

  it('keeps every outbox key under the client keyPrefix and ours', async () => {
    const ours = randomPrefix();
    const client = new Redis(redisService.url!, { keyPrefix: 'app:' });
    const s = new RedisStorage({ client, keyPrefix: ours });
    try {
      await s.init();
      const dead = record('slack', 'ses_prefixed', { status: 'dead', lastError: '' });
      await s.outboxAdd([record('slack', 'ses_prefixed'), dead]);
      expect(await s.outboxClaim({ owner: 'w', now: new Date(), ...lease, limit: 5 })).toHaveLength(1);
      expect((await s.outboxList({ status: 'dead' })).map((r) => [r.id, r.lastError])).toEqual([[dead.id, '']]);
      expect(await s.outboxRetry(dead.id)).toBe(true);
      expect((await keysUnder(`app:${ours}outbox:`)).length).toBeGreaterThanOrEqual(5);
      expect(await keysUnder(ours)).toEqual([]);
    } finally {
      await s.close();
      await client.quit();
      await deletePrefix(`app:${ours}`);
    }
  });

  it('lists records oldest first, then by seq, also when a limit cuts through equal timestamps', async () => {
    const s = await open(newPrefix());
    const t0 = new Date('2026-01-01T00:00:00.000Z');
    // Ids sort against seq, so only a seq tiebreak gives this order.
    const records = [5, 4, 3, 2, 1].map((n) => record('telegram', `ses_list_${n}`, { id: `dlv_${n}`, createdAt: t0 }));
    const first = record('telegram', 'ses_list_0', { id: 'dlv_9', createdAt: new Date(t0.getTime() - 1) });
    await s.outboxAdd([...records, first]);
    expect((await s.outboxList({ status: 'pending', limit: 3 })).map((r) => r.id)).toEqual(['dlv_9', 'dlv_5', 'dlv_4']);
    expect((await s.outboxList({ status: 'pending' })).map((r) => r.id)).toEqual([
      'dlv_9',
      'dlv_5',
      'dlv_4',
      'dlv_3',
      'dlv_2',
      'dlv_1',
    ]);
  });
});
