import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RedisStorage } from '../src/index.js';
import { adminClient, closeAdmin, deletePrefix, keysUnder, randomPrefix, redisService } from './helpers.js';

describe.skipIf(redisService.skip)('RedisStorage leases', () => {
  const prefixes: string[] = [];
  const opened: RedisStorage[] = [];
  const clients: Redis[] = [];
  /** Storages with their own connections on one fresh prefix, like several server instances. */
  const instances = async (count: number) => {
    const keyPrefix = randomPrefix();
    prefixes.push(keyPrefix);
    const list = Array.from({ length: count }, () => new RedisStorage({ url: redisService.url!, keyPrefix }));
    opened.push(...list);
    for (const s of list) await s.init();
    return { keyPrefix, list };
  };

  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    for (const c of clients.splice(0)) await c.quit();
    for (const p of prefixes.splice(0)) await deletePrefix(p);
  });
  afterAll(closeAdmin);

  it('owners on two connections asking at once for a free lease get exactly one winner, and the key names it', async () => {
    const { keyPrefix, list } = await instances(2);
    for (let round = 0; round < 10; round++) {
      const name = `poll-${round}`;
      const asks = Array.from({ length: 8 }, (_, i) => ({ owner: `instance-${i}`, storage: list[i % 2]! }));
      const results = await Promise.all(asks.map(({ owner, storage }) => storage.leaseAcquire(name, owner, 10_000)));
      const winners = asks.filter((_, i) => results[i]).map((a) => a.owner);
      expect(winners).toHaveLength(1);
      expect(await adminClient().get(`${keyPrefix}lease:${name}`)).toBe(winners[0]);
    }
  });

  it('an expired lease is taken over by another instance, and the old holder can neither renew nor release it', async () => {
    const { keyPrefix, list } = await instances(2);
    const [a, b] = list;
    const key = `${keyPrefix}lease:retention`;
    expect(await a!.leaseAcquire('retention', 'a', 10_000)).toBe(true);
    expect(await b!.leaseAcquire('retention', 'b', 10_000)).toBe(false);
    // Let the lease run out now instead of waiting 10 s; Redis drops the key itself.
    await adminClient().pexpire(key, 1);
    while ((await adminClient().exists(key)) === 1) await new Promise((r) => setTimeout(r, 2));
    expect(await b!.leaseAcquire('retention', 'b', 10_000)).toBe(true);
    expect(await a!.leaseAcquire('retention', 'a', 10_000)).toBe(false);
    await a!.leaseRelease('retention', 'a');
    expect(await adminClient().get(key)).toBe('b');
  });

  it('a renewal pushes the expiry forward, and a release leaves no key behind', async () => {
    const { keyPrefix, list } = await instances(1);
    const key = `${keyPrefix}lease:slack`;
    expect(await list[0]!.leaseAcquire('slack', 'a', 1_000)).toBe(true);
    expect(await adminClient().pttl(key)).toBeLessThanOrEqual(1_000);
    expect(await list[0]!.leaseAcquire('slack', 'a', 60_000)).toBe(true);
    expect(await adminClient().pttl(key)).toBeGreaterThan(50_000);
    await list[0]!.leaseRelease('slack', 'a');
    expect(await keysUnder(keyPrefix)).toEqual([]);
  });

  it('leases live under the key prefix, so two deployments on one Redis do not share them', async () => {
    const one = await instances(1);
    const two = await instances(1);
    expect(await one.list[0]!.leaseAcquire('gateway', 'a', 10_000)).toBe(true);
    expect(await two.list[0]!.leaseAcquire('gateway', 'b', 10_000)).toBe(true);
    expect(await keysUnder(one.keyPrefix)).toEqual([`${one.keyPrefix}lease:gateway`]);
  });

  it('with a client that has its own keyPrefix, the lease key carries both prefixes', async () => {
    const keyPrefix = randomPrefix();
    prefixes.push(keyPrefix);
    const client = new Redis(redisService.url!, { keyPrefix });
    clients.push(client);
    const s = new RedisStorage({ client, keyPrefix: 'pp:' });
    opened.push(s);
    await s.init();
    expect(await s.leaseAcquire('gateway', 'a', 10_000)).toBe(true);
    expect(await keysUnder(keyPrefix)).toEqual([`${keyPrefix}pp:lease:gateway`]);
  });

  it('a ttl that is not a positive number is rejected with a ValidationError', async () => {
    const { list } = await instances(1);
    await expect(list[0]!.leaseAcquire('x', 'a', 0)).rejects.toMatchObject({ name: 'ValidationError' });
    await expect(list[0]!.leaseAcquire('x', 'a', Number.POSITIVE_INFINITY)).rejects.toMatchObject({
      name: 'ValidationError',
    });
  });
});
