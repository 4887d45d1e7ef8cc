import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { PostgresStorage } from '../src/index.js';
import { adminPool, closeAdmin, dropSchema, pgService, randomSchema } from './helpers.js';

describe.skipIf(pgService.skip)('PostgresStorage leases', () => {
  const schemas: string[] = [];
  const opened: PostgresStorage[] = [];
  /** Storages with their own pools on one fresh schema, like several server instances. */
  const instances = async (count: number) => {
    const schema = randomSchema();
    schemas.push(schema);
    const list = Array.from({ length: count }, () => new PostgresStorage({ url: pgService.url!, schema, poolSize: 4 }));
    opened.push(...list);
    for (const s of list) await s.init();
    return { schema, list };
  };
  const holder = async (schema: string, name: string) => {
    const { rows } = await adminPool().query<{ owner: string }>(
      `SELECT owner FROM "${schema}".leases WHERE name = $1`,
      [name],
    );
    return rows.map((r) => r.owner);
  };

  afterEach(async () => {
    vi.useRealTimers();
    for (const s of opened.splice(0)) await s.close();
    for (const schema of schemas.splice(0)) await dropSchema(schema);
  });
  afterAll(closeAdmin);

  it('owners on two pools asking at once for a free lease get exactly one winner, and the table names it', async () => {
    const { schema, list } = await instances(2);
    for (let round = 0; round < 10; round++) {
      const name = `poll-${round}`;
      const asks = Array.from({ length: 8 }, (_, i) => ({ owner: `instance-${i}`, storage: list[i % 2]! }));
      const results = await Promise.all(asks.map(({ owner, storage }) => storage.leaseAcquire(name, owner, 10_000)));
      const winners = asks.filter((_, i) => results[i]).map((a) => a.owner);
      expect(winners).toHaveLength(1);
      expect(await holder(schema, name)).toEqual(winners);
    }
  });

  it('owners on two pools racing for an expired lease get exactly one winner', async () => {
    const { schema, list } = await instances(2);
    expect(await list[0]!.leaseAcquire('gateway', 'dead-instance', 10_000)).toBe(true);
    await adminPool().query(`UPDATE "${schema}".leases SET expires_at = now() - interval '1 second'`);
    const asks = Array.from({ length: 8 }, (_, i) => ({ owner: `instance-${i}`, storage: list[i % 2]! }));
    const results = await Promise.all(asks.map(({ owner, storage }) => storage.leaseAcquire('gateway', owner, 10_000)));
    const winners = asks.filter((_, i) => results[i]).map((a) => a.owner);
    expect(winners).toHaveLength(1);
    expect(await holder(schema, 'gateway')).toEqual(winners);
    expect(await list[0]!.leaseAcquire('gateway', 'dead-instance', 10_000)).toBe(false);
  });

  it('an expired lease is taken over by another instance, and the old holder can neither renew nor release it', async () => {
    const { schema, list } = await instances(2);
    const [a, b] = list;
    expect(await a!.leaseAcquire('retention', 'a', 10_000)).toBe(true);
    expect(await b!.leaseAcquire('retention', 'b', 10_000)).toBe(false);
    await adminPool().query(`UPDATE "${schema}".leases SET expires_at = now() - interval '1 millisecond'`);
    expect(await b!.leaseAcquire('retention', 'b', 10_000)).toBe(true);
    expect(await a!.leaseAcquire('retention', 'a', 10_000)).toBe(false);
    await a!.leaseRelease('retention', 'a');
    expect(await holder(schema, 'retention')).toEqual(['b']);
  });

  it('expiry follows the database clock: an instance whose clock runs an hour ahead cannot take a live lease', async () => {
    const { list } = await instances(2);
    expect(await list[0]!.leaseAcquire('gateway', 'a', 10_000)).toBe(true);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 3_600_000);
    expect(await list[1]!.leaseAcquire('gateway', 'b', 10_000)).toBe(false);
  });

  it('a renewal pushes the expiry forward and a lease survives a restart of its holder', async () => {
    const { schema, list } = await instances(1);
    const expiry = async () => {
      const { rows } = await adminPool().query<{ ms: number }>(
        `SELECT extract(epoch FROM expires_at - now()) * 1000 AS ms FROM "${schema}".leases WHERE name = 'slack'`,
      );
      return Number(rows[0]!.ms);
    };
    expect(await list[0]!.leaseAcquire('slack', 'a', 1_000)).toBe(true);
    expect(await expiry()).toBeLessThanOrEqual(1_000);
    expect(await list[0]!.leaseAcquire('slack', 'a', 60_000)).toBe(true);
    expect(await expiry()).toBeGreaterThan(50_000);
    await list[0]!.close();
    const restarted = new PostgresStorage({ url: pgService.url!, schema, poolSize: 2 });
    opened.push(restarted);
    await restarted.init();
    expect(await restarted.leaseAcquire('slack', 'b', 60_000)).toBe(false);
    expect(await restarted.leaseAcquire('slack', 'a', 60_000)).toBe(true);
  });

  it('a ttl that is not a positive number is rejected with a ValidationError', async () => {
    const { list } = await instances(1);
    await expect(list[0]!.leaseAcquire('x', 'a', 0)).rejects.toMatchObject({ name: 'ValidationError' });
    await expect(list[0]!.leaseAcquire('x', 'a', Number.NaN)).rejects.toMatchObject({ name: 'ValidationError' });
  });
});
