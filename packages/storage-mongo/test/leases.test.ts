import { afterEach, describe, expect, it } from 'vitest';
import { MongoStorage } from '../src/index.js';
import { randomDatabase, targetLabel, useMongoTarget } from './mongo-target.js';

const target = useMongoTarget();
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
});

/** Several storages with their own clients on one database, like several server processes. */
async function processes(count: number) {
  const database = randomDatabase();
  const storages = Array.from({ length: count }, () => new MongoStorage({ url: target.url(), database }));
  cleanup.push(async () => {
    await Promise.all(storages.map((s) => s.close()));
    await target.admin().db(database).dropDatabase();
  });
  await Promise.all(storages.map((s) => s.init()));
  const leases = target.admin().db(database).collection('pocketping_leases');
  return { storages, leases };
}

describe(`MongoStorage leases (${targetLabel})`, () => {
  it('owners on two clients asking at once for a new lease get exactly one winner, stored in one document', async () => {
    const { storages, leases } = await processes(2);
    for (let round = 0; round < 10; round++) {
      const name = `poll-${round}`;
      const asks = Array.from({ length: 8 }, (_, i) => ({ owner: `instance-${i}`, storage: storages[i % 2]! }));
      const results = await Promise.all(asks.map(({ owner, storage }) => storage.leaseAcquire(name, owner, 10_000)));
      const winners = asks.filter((_, i) => results[i]).map((a) => a.owner);
      expect(winners).toHaveLength(1);
      // One document per name even where the unique index on `name` is not enforced.
      const docs = await leases.find({ name }).toArray();
      expect(docs.map((d) => d.owner)).toEqual(winners);
    }
  });

  it('owners on two clients racing for an expired lease get exactly one winner', async () => {
    const { storages, leases } = await processes(2);
    expect(await storages[0]!.leaseAcquire('gateway', 'dead-instance', 10_000)).toBe(true);
    await leases.updateOne({ name: 'gateway' }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    const asks = Array.from({ length: 8 }, (_, i) => ({ owner: `instance-${i}`, storage: storages[i % 2]! }));
    const results = await Promise.all(asks.map(({ owner, storage }) => storage.leaseAcquire('gateway', owner, 10_000)));
    const winners = asks.filter((_, i) => results[i]).map((a) => a.owner);
    expect(winners).toHaveLength(1);
    expect((await leases.find({ name: 'gateway' }).toArray()).map((d) => d.owner)).toEqual(winners);
    expect(await storages[0]!.leaseAcquire('gateway', 'dead-instance', 10_000)).toBe(false);
  });

  it('an expired lease is taken over by another instance, and the old holder can neither renew nor release it', async () => {
    const { storages, leases } = await processes(2);
    const [a, b] = storages;
    expect(await a!.leaseAcquire('retention', 'a', 10_000)).toBe(true);
    expect(await b!.leaseAcquire('retention', 'b', 10_000)).toBe(false);
    await leases.updateOne({ name: 'retention' }, { $set: { expiresAt: new Date(Date.now() - 1) } });
    expect(await b!.leaseAcquire('retention', 'b', 10_000)).toBe(true);
    expect(await a!.leaseAcquire('retention', 'a', 10_000)).toBe(false);
    await a!.leaseRelease('retention', 'a');
    expect((await leases.find({ name: 'retention' }).toArray()).map((d) => d.owner)).toEqual(['b']);
  });

  it('a renewal pushes the expiry forward, a release frees the lease, and it can be taken again', async () => {
    const { storages, leases } = await processes(2);
    const [a, b] = storages;
    const expiresIn = async () => {
      const doc = await leases.findOne({ name: 'slack' });
      return (doc!.expiresAt as Date).getTime() - Date.now();
    };
    expect(await a!.leaseAcquire('slack', 'a', 1_000)).toBe(true);
    expect(await expiresIn()).toBeLessThanOrEqual(1_000);
    expect(await a!.leaseAcquire('slack', 'a', 60_000)).toBe(true);
    expect(await expiresIn()).toBeGreaterThan(50_000);
    await a!.leaseRelease('slack', 'a');
    expect(await leases.countDocuments({ name: 'slack' })).toBe(0);
    expect(await b!.leaseAcquire('slack', 'b', 60_000)).toBe(true);
    expect(await a!.leaseAcquire('slack', 'a', 60_000)).toBe(false);
  });

  it('a ttl that is not a positive number is rejected with a ValidationError', async () => {
    const { storages } = await processes(1);
    await expect(storages[0]!.leaseAcquire('x', 'a', -5)).rejects.toMatchObject({ name: 'ValidationError' });
    await expect(storages[0]!.leaseAcquire('x', 'a', Number.NaN)).rejects.toMatchObject({ name: 'ValidationError' });
  });
});
