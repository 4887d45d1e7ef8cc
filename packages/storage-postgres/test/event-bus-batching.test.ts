import type { BusMessage } from '@pocketping/core';
import { StorageError } from '@pocketping/core';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PostgresEventBus } from '../src/index.js';
import { adminPool, closeAdmin, dropSchema, pgService, randomSchema } from './helpers.js';

/** Counts what the bus sends (statements with pg_notify) and can make chosen ones fail. */
interface PublishStats {
  statements: number;
  /** 0-based numbers of the publish statements that reject instead of reaching PostgreSQL. */
  failAt: Set<number>;
}

/** A real pg.Pool whose `query` is wrapped to count (and optionally fail) publish statements. */
function countingPool(max: number): { pool: pg.Pool; stats: PublishStats } {
  const pool = new pg.Pool({ connectionString: pgService.url, max });
  const stats: PublishStats = { statements: 0, failAt: new Set() };
  const real = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  pool.query = ((...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('pg_notify')) {
      const n = stats.statements++;
      if (stats.failAt.has(n)) return Promise.reject(new Error(`simulated failure of publish statement ${n}`));
    }
    return real(...args);
  }) as typeof pool.query;
  return { pool, stats };
}

/** A custom event of one session; `text` ends up inside the NOTIFY payload as is. */
function eventMessage(i: number, text = ''): BusMessage {
  return {
    kind: 'session',
    origin: 'batching-test',
    sessionId: 'ses_batching',
    event: { type: 'event', data: { name: `e${i}`, data: { text } } },
  };
}

/** Collects what a bus receives; `done` resolves once `count` messages (or `until`) arrived. */
function inbox(bus: PostgresEventBus, until: number | ((m: BusMessage) => boolean)) {
  const received: BusMessage[] = [];
  const done = new Promise<BusMessage[]>((resolve) => {
    const off = bus.subscribe((m) => {
      received.push(m);
      if (typeof until === 'number' ? received.length === until : until(m)) {
        off();
        resolve(received);
      }
    });
  });
  return { received, done };
}

describe.skipIf(pgService.skip)('PostgresEventBus publish batching', () => {
  const cleanups: (() => Promise<void>)[] = [];

  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });
  afterAll(closeAdmin);

  /** A publishing bus on a counting pool and a receiving bus on its own pool, one schema. */
  async function pair(publisherPoolSize = 3) {
    const schema = randomSchema();
    cleanups.push(() => dropSchema(schema));
    const { pool, stats } = countingPool(publisherPoolSize);
    cleanups.push(() => pool.end());
    const receiverPool = new pg.Pool({ connectionString: pgService.url, max: 2 });
    cleanups.push(() => receiverPool.end());
    const publisher = new PostgresEventBus({ pool, schema });
    cleanups.push(() => publisher.close());
    await publisher.init();
    const receiver = new PostgresEventBus({ pool: receiverPool, schema });
    cleanups.push(() => receiver.close());
    await receiver.init();
    return { schema, pool, stats, publisher, receiver };
  }

  it('1,000 publishes fired without awaiting arrive in publish order, in a handful of statements', async () => {
    const { stats, publisher, receiver } = await pair();
    const texts = ['plain', 'quote " and \\ backslash', 'comma, {brace} [x]', 'emoji 🎉 ünïcode', 'new\nline\ttab'];
    const sent = Array.from({ length: 1000 }, (_, i) => eventMessage(i, texts[i % texts.length]));
    const box = inbox(receiver, sent.length);
    await Promise.all(sent.map((m) => publisher.publish(m)));
    expect(await box.done).toEqual(sent);
    expect(stats.statements).toBeGreaterThan(0);
    expect(stats.statements).toBeLessThanOrEqual(5);
  });

  it('identical messages in one burst all arrive, in order', async () => {
    // PostgreSQL drops a repeated payload within one transaction, so the burst must not be one.
    const { publisher, receiver } = await pair();
    const online = [true, false, true, true, false, true];
    const box = inbox(receiver, online.length);
    await Promise.all(online.map((o) => publisher.publish({ kind: 'presence', origin: 'batching-test', online: o })));
    expect((await box.done).map((m) => m.kind === 'presence' && m.online)).toEqual(online);
  });

  it('small and by-reference messages fired together keep their order', async () => {
    const { schema, stats, publisher, receiver } = await pair();
    const isLarge = (i: number) => i % 5 === 2 || i === 39;
    // 'é' is two bytes of UTF-8: 10,000 bytes, over the 8000-byte NOTIFY limit.
    const sent = Array.from({ length: 40 }, (_, i) => eventMessage(i, isLarge(i) ? 'é'.repeat(5000) : `small ${i}`));
    const box = inbox(receiver, sent.length);
    await Promise.all(sent.map((m) => publisher.publish(m)));
    expect(await box.done).toEqual(sent);
    // Each large message goes alone; each run of small ones between them goes in one statement.
    const large = sent.filter((_, i) => isLarge(i)).length;
    const smallRuns = sent.filter((_, i) => !isLarge(i) && (i === 0 || isLarge(i - 1))).length;
    expect(stats.statements).toBe(large + smallRuns);
    const { rows } = await adminPool().query(
      `SELECT count(*)::int AS n FROM ${pg.escapeIdentifier(schema)}.bus_payloads`,
    );
    expect(rows[0].n).toBe(large);
  });

  // Fired at once, these go as three statements: s0-s4, then L by reference, then s5-s9.
  it.each([
    { label: 'the first batch', failing: 0, rejected: ['s0', 's1', 's2', 's3', 's4'] },
    { label: 'the large message', failing: 1, rejected: ['L'] },
    { label: 'the last batch', failing: 2, rejected: ['s5', 's6', 's7', 's8', 's9'] },
  ])(
    'a failed statement ($label) rejects exactly its publishes and the queue goes on',
    async ({ failing, rejected }) => {
      const { stats, publisher, receiver } = await pair();
      const names = ['s0', 's1', 's2', 's3', 's4', 'L', 's5', 's6', 's7', 's8', 's9'];
      const sent = names.map((name, i) => eventMessage(i, name === 'L' ? 'x'.repeat(9000) : name));
      const nameOf = (m: BusMessage) => (m.kind === 'session' && m.event.type === 'event' ? m.event.data.name : '');
      stats.failAt.add(failing);
      const box = inbox(receiver, (m) => nameOf(m) === 'marker');

      const results = await Promise.allSettled(sent.map((m) => publisher.publish(m)));

      const failedNames = names.filter((_, i) => results[i]!.status === 'rejected');
      expect(failedNames).toEqual(rejected);
      for (const r of results) {
        if (r.status !== 'rejected') continue;
        expect(r.reason).toBeInstanceOf(StorageError);
        expect(r.reason.message).toBe(
          `@pocketping/storage-postgres: event bus publish failed: simulated failure of publish statement ${failing}`,
        );
      }
      // Notifications arrive in order, so once the marker is in, everything sent before it is too.
      await publisher.publish({
        kind: 'session',
        origin: 'batching-test',
        sessionId: 'ses_batching',
        event: { type: 'event', data: { name: 'marker' } },
      });
      const received = await box.done;
      expect(received.slice(0, -1)).toEqual(sent.filter((_, i) => !rejected.includes(names[i]!)));
      expect(stats.statements).toBe(4);
    },
  );

  it("async commit stays in the publish statements: the pooled connection's synchronous_commit is still on", async () => {
    const { pool, publisher, receiver } = await pair(1);
    const before = await pool.query<{ pid: number; sc: string }>(
      `SELECT pg_backend_pid() AS pid, current_setting('synchronous_commit') AS sc`,
    );
    expect(before.rows[0]!.sc).toBe('on');
    const sent = [eventMessage(0), eventMessage(1), eventMessage(2, 'x'.repeat(9000)), eventMessage(3)];
    const box = inbox(receiver, sent.length);
    await Promise.all(sent.map((m) => publisher.publish(m)));
    expect(await box.done).toEqual(sent);
    // One connection in the pool: the publishes ran on it, and it is the same backend now.
    const after = await pool.query<{ pid: number; sc: string }>(
      `SELECT pg_backend_pid() AS pid, current_setting('synchronous_commit') AS sc`,
    );
    expect(after.rows[0]!.pid).toBe(before.rows[0]!.pid);
    expect(after.rows[0]!.sc).toBe('on');
    const inTransaction = await pool.connect();
    try {
      await inTransaction.query('BEGIN');
      const { rows } = await inTransaction.query<{ sc: string }>(`SELECT current_setting('synchronous_commit') AS sc`);
      expect(rows[0]!.sc).toBe('on');
      await inTransaction.query('COMMIT');
    } finally {
      inTransaction.release();
    }
  });

  it('close sends what is queued and later publishes reject', async () => {
    const { publisher, receiver } = await pair();
    const sent = Array.from({ length: 20 }, (_, i) => eventMessage(i));
    const box = inbox(receiver, sent.length);
    const published = sent.map((m) => publisher.publish(m));
    const closing = publisher.close();
    await expect(publisher.publish(eventMessage(20))).rejects.toThrow(
      '@pocketping/storage-postgres: event bus publish failed: the event bus is closed',
    );
    await Promise.all(published);
    await closing;
    expect(await box.done).toEqual(sent);
  });

  it('publishes still queued when the given pool was ended reject with a clear error', async () => {
    const schema = randomSchema();
    cleanups.push(() => dropSchema(schema));
    const pool = new pg.Pool({ connectionString: pgService.url, max: 2 });
    const bus = new PostgresEventBus({ pool, schema });
    await bus.init();
    const published = Promise.allSettled([0, 1, 2].map((i) => bus.publish(eventMessage(i))));
    const ending = pool.end();
    await bus.close();
    await ending;
    for (const r of await published) {
      expect(r.status).toBe('rejected');
      expect(r.status === 'rejected' && r.reason.message).toMatch(
        /event bus publish failed: the pg\.Pool was closed before the event bus sent this message/,
      );
    }
  });
});
