import { makeSession } from '@pocketping/conformance';
import type { Collection, Db, MongoClient } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { MongoStorage } from '../src/index.js';
import { randomDatabase, targetLabel, useMongoTarget } from './mongo-target.js';
import { OUTBOX_RECORD_KEYS, outboxRecord } from './outbox-record.js';

const target = useMongoTarget();
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
});

const databases = new WeakMap<MongoStorage, string>();

/** Storages with their own clients on one fresh database (closed and dropped after the test). */
async function open(count: number): Promise<MongoStorage[]> {
  const database = randomDatabase();
  const storages = Array.from({ length: count }, () => new MongoStorage({ url: target.url(), database }));
  for (const s of storages) databases.set(s, database);
  cleanup.push(async () => {
    await Promise.all(storages.map((s) => s.close()));
    await target.admin().db(database).dropDatabase();
  });
  await Promise.all(storages.map((s) => s.init()));
  return storages;
}

/**
 * A client whose collections run `hook` once, right after the first aggregation's result
 * arrives: the moment between a claim finding the lane heads and leasing them.
 */
function pauseAfterFirstAggregate(client: MongoClient, hook: () => Promise<void>): MongoClient {
  let pending: (() => Promise<void>) | undefined = hook;
  const forward = <T extends object>(target: T, prop: string | symbol) => {
    const value = Reflect.get(target, prop, target);
    return typeof value === 'function' ? value.bind(target) : value;
  };
  const wrapCollection = (collection: Collection) =>
    new Proxy(collection, {
      get(target, prop) {
        if (prop !== 'aggregate') return forward(target, prop);
        return (...args: Parameters<Collection['aggregate']>) => {
          const cursor = target.aggregate(...args);
          return new Proxy(cursor, {
            get(c, p) {
              if (p !== 'toArray') return forward(c, p);
              return async () => {
                const result = await c.toArray();
                const run = pending;
                pending = undefined;
                await run?.();
                return result;
              };
            },
          });
        };
      },
    });
  const wrapDb = (db: Db) =>
    new Proxy(db, {
      get(target, prop) {
        if (prop !== 'collection') return forward(target, prop);
        return (...args: Parameters<Db['collection']>) => wrapCollection(target.collection(...args));
      },
    });
  return new Proxy(client, {
    get(target, prop) {
      if (prop !== 'db') return forward(target, prop);
      return (...args: Parameters<MongoClient['db']>) => wrapDb(target.db(...args));
    },
  });
}

describe(`MongoStorage durable outbox (${targetLabel})`, () => {
  it('an operation with dotted and $ keys, dates and numbers comes back exactly, without internal fields', async () => {
    const [storage] = await open(1);
    const operation = {
      type: 'custom_event',
      event: {
        name: 'checkout',
        data: {
          'utm.source': 'ads',
          $where: 'x',
          at: new Date(1_700_000_000_123),
          ratio: 1.5,
          big: 2 ** 40,
          list: [1, 'a', null, { deep: true }],
        },
      },
    };
    const r = outboxRecord('telegram', 'ses_x', { operation });
    await storage!.outboxAdd([r]);
    const [claimed] = await storage!.outboxClaim({ owner: 'w', now: new Date(), leaseMs: 10_000, limit: 1 });
    const [listed] = await storage!.outboxList({ status: 'pending' });
    for (const got of [claimed!, listed!]) {
      expect(got.operation).toEqual(operation);
      expect((got.operation.event as { data: { at: unknown } }).data.at).toBeInstanceOf(Date);
      expect(got.nextAttemptAt).toEqual(r.nextAttemptAt);
      expect(got.createdAt).toEqual(r.createdAt);
      expect(Object.keys(got).filter((k) => !OUTBOX_RECORD_KEYS.has(k))).toEqual([]);
    }
    expect(listed!.leaseOwner).toBe('w');
    expect(listed!.leaseUntil).toBeInstanceOf(Date);
  });

  it('adding a record again with the same id keeps the stored one and its state', async () => {
    const [storage] = await open(1);
    const r = outboxRecord('slack', 'ses_y');
    await storage!.outboxAdd([r]);
    await storage!.outboxReschedule(r.id, {
      attempts: 2,
      nextAttemptAt: new Date(),
      lastError: 'boom',
      status: 'dead',
    });
    await storage!.outboxAdd([r]);
    expect(await storage!.outboxList({ status: 'pending' })).toEqual([]);
    const dead = await storage!.outboxList({ status: 'dead' });
    expect(dead.map((d) => [d.id, d.attempts, d.lastError])).toEqual([[r.id, 2, 'boom']]);
  });

  it('a lower-seq record added while a claim is between finding and leasing heads is not overtaken', async () => {
    const [helper] = await open(1);
    const session = 'ses_race';
    const later = outboxRecord('telegram', session);
    const earlier = outboxRecord('telegram', session, { seq: later.seq - 1_000 });
    await helper!.outboxAdd([later]);
    const client = pauseAfterFirstAggregate(target.admin(), () => helper!.outboxAdd([earlier]));
    const paused = new MongoStorage({ client, database: databases.get(helper!)! });
    cleanup.unshift(() => paused.close());
    await paused.init();
    // It found `later` as the head; `earlier` arrived before the lease: nothing may be returned.
    expect(await paused.outboxClaim({ owner: 'a', now: new Date(), leaseMs: 30_000, limit: 5 })).toEqual([]);
    const pending = await helper!.outboxList({ status: 'pending' });
    expect(pending.find((p) => p.id === later.id)?.leaseOwner).toBeUndefined();
    const next = await paused.outboxClaim({ owner: 'a', now: new Date(), leaseMs: 30_000, limit: 5 });
    expect(next.map((r) => r.id)).toEqual([earlier.id]);
  });

  it('a retried dead record does not start while another worker still holds a later record of its lane', async () => {
    const [a, b] = await open(2);
    const session = 'ses_retry';
    const r1 = outboxRecord('discord', session);
    const r2 = outboxRecord('discord', session);
    await a!.outboxAdd([r1, r2]);
    await a!.outboxClaim({ owner: 'A', now: new Date(), leaseMs: 30_000, limit: 1 });
    await a!.outboxReschedule(r1.id, { attempts: 12, nextAttemptAt: new Date(), lastError: 'gave up', status: 'dead' });
    const held = await b!.outboxClaim({ owner: 'B', now: new Date(), leaseMs: 30_000, limit: 5 });
    expect(held.map((r) => r.id)).toEqual([r2.id]);
    expect(await a!.outboxRetry(r1.id)).toBe(true);
    // r1 is the lane's head again, but B is working r2: A must wait.
    expect(await a!.outboxClaim({ owner: 'A', now: new Date(), leaseMs: 30_000, limit: 5 })).toEqual([]);
    const stored = (await a!.outboxList({ status: 'pending' })).find((p) => p.id === r1.id);
    expect(stored?.leaseOwner).toBeUndefined();
    await b!.outboxComplete(r2.id);
    const next = await a!.outboxClaim({ owner: 'A', now: new Date(), leaseMs: 30_000, limit: 5 });
    expect(next.map((r) => r.id)).toEqual([r1.id]);
  });

  it('the owner of a live lease claims its record again and gets a new lease', async () => {
    const [storage] = await open(1);
    const r = outboxRecord('telegram', 'ses_own');
    await storage!.outboxAdd([r]);
    const now = new Date();
    await storage!.outboxClaim({ owner: 'w', now, leaseMs: 10_000, limit: 1 });
    const later = new Date(now.getTime() + 5_000);
    const [again] = await storage!.outboxClaim({ owner: 'w', now: later, leaseMs: 10_000, limit: 1 });
    expect(again?.id).toBe(r.id);
    expect(again?.leaseUntil).toEqual(new Date(later.getTime() + 10_000));
  });

  it('lists records oldest first and honours the limit', async () => {
    const [storage] = await open(1);
    const base = Date.now();
    const older = outboxRecord('slack', 'ses_1', { createdAt: new Date(base - 5_000) });
    const tieA = outboxRecord('slack', 'ses_2', { createdAt: new Date(base) });
    const tieB = outboxRecord('slack', 'ses_3', { createdAt: new Date(base) });
    await storage!.outboxAdd([tieB, tieA, older]);
    expect((await storage!.outboxList({ status: 'pending' })).map((r) => r.id)).toEqual([older.id, tieA.id, tieB.id]);
    expect((await storage!.outboxList({ status: 'pending', limit: 2 })).map((r) => r.id)).toEqual([older.id, tieA.id]);
    expect(await storage!.outboxList({ status: 'pending', limit: 0 })).toEqual([]);
    expect(await storage!.outboxClaim({ owner: 'w', now: new Date(), leaseMs: 1_000, limit: 0 })).toEqual([]);
  });

  it('deleting a session, or cleaning it up as old, removes its outbox records and keeps the others', async () => {
    const [storage] = await open(1);
    const gone = makeSession();
    const old = makeSession({ lastActivity: new Date(Date.now() - 86_400_000) });
    const kept = makeSession();
    for (const s of [gone, old, kept]) await storage!.createSession(s);
    const records = [gone, old, kept].flatMap((s) => [outboxRecord('telegram', s.id), outboxRecord('slack', s.id)]);
    await storage!.outboxAdd(records);
    await storage!.outboxReschedule(records[1]!.id, { attempts: 1, nextAttemptAt: new Date(), status: 'dead' });
    expect(await storage!.deleteSession(gone.id)).toBe(true);
    expect(await storage!.cleanupOldSessions(new Date(Date.now() - 3_600_000))).toBe(1);
    const left = [
      ...(await storage!.outboxList({ status: 'pending' })),
      ...(await storage!.outboxList({ status: 'dead' })),
    ];
    expect(left.map((r) => r.sessionId)).toEqual([kept.id, kept.id]);
  });

  it('records written by one instance are claimed by another after the first has closed', async () => {
    const [first, second] = await open(2);
    const r = outboxRecord('telegram', 'ses_restart');
    await first!.outboxAdd([r]);
    await first!.close();
    const [claimed] = await second!.outboxClaim({ owner: 'second', now: new Date(), leaseMs: 30_000, limit: 5 });
    expect(claimed).toMatchObject({ id: r.id, operation: r.operation, leaseOwner: 'second' });
  });
});
