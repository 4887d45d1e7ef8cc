import { makeSession } from '@pocketping/conformance';
import { MemoryStorage, type Session, type SessionTouch } from '@pocketping/core';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { PostgresStorage } from '../src/index.js';
import {
  adminPool,
  closeAdmin,
  dropSchema,
  lockWaiters,
  pgService,
  randomSchema,
  settledDeadlockCount,
} from './helpers.js';

/** The text that only the grouped touch statement contains. */
const BATCH_MARKER = 'unnest($1::text[], $2::text[]';

/** Counts the statements a storage sends through its pool, and how many were grouped touches. */
function countStatements(storage: PostgresStorage): { all: number; batched: number } {
  const counts = { all: 0, batched: 0 };
  const real = storage.pool.query.bind(storage.pool) as (...args: unknown[]) => unknown;
  vi.spyOn(storage.pool, 'query').mockImplementation(((...args: unknown[]) => {
    const first = args[0];
    const text = typeof first === 'string' ? first : (first as { text?: string } | undefined)?.text;
    counts.all++;
    if (text?.includes(BATCH_MARKER)) counts.batched++;
    return real(...args);
  }) as typeof storage.pool.query);
  return counts;
}

/** One touchSession call of a burst. */
interface TouchCall {
  sessionId: string;
  visitorId: string;
  touch: SessionTouch;
}

describe.skipIf(pgService.skip)('PostgresStorage touch batching', () => {
  const schemas: string[] = [];
  const storages: PostgresStorage[] = [];
  const open = async (options: { schema?: string; poolSize?: number; batchSize?: number } = {}) => {
    const schema = options.schema ?? randomSchema();
    if (!schemas.includes(schema)) schemas.push(schema);
    const s = new PostgresStorage({
      url: pgService.url!,
      schema,
      poolSize: options.poolSize ?? 4,
      batchSize: options.batchSize ?? 64,
    });
    storages.push(s);
    await s.init();
    return s;
  };
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const s of storages.splice(0)) await s.close();
    for (const schema of schemas.splice(0)) await dropSchema(schema);
  });
  afterAll(closeAdmin);

  it('300 concurrent touches each answer what a lone touch would, in far fewer statements', async () => {
    const s = await open({ poolSize: 4 });
    const memory = new MemoryStorage();
    const base = Date.UTC(2026, 2, 1);
    const sessions: Session[] = [];
    for (let i = 0; i < 40; i++) {
      sessions.push(
        makeSession({
          lastActivity: new Date(base),
          metadata: { ip: `203.0.113.${i}`, url: 'https://a.example/first', language: 'fr' },
        }),
      );
    }
    // Touched only by someone else's visitor id: must stay exactly as stored.
    const bystander = makeSession({ lastActivity: new Date(base), metadata: { ip: '192.0.2.9', url: 'kept' } });
    for (const session of [...sessions, bystander]) {
      await s.createSession(session);
      await memory.createSession(session);
    }

    const calls: TouchCall[] = [];
    for (let i = 0; i < 300; i++) {
      const session = sessions[i % 40]!;
      const touch: SessionTouch = {
        lastActivity: new Date(base + (i + 1) * 1000),
        // Every touch sets the same keys, so what a touch answers does not depend on which
        // touch of its session went first: the burst can be checked against lone touches.
        metadata: { url: `https://a.example/page-${i}`, n: i, ip: `10.0.0.${i % 250}`, city: `city-${session.id}` },
        // Two shapes of keep keys, so batches of both kinds run side by side.
        keepKeys: i % 9 === 0 ? ['ip'] : ['ip', 'city'],
      };
      if (i % 11 === 3) calls.push({ sessionId: session.id, visitorId: 'v-someone-else', touch });
      else if (i % 11 === 6) calls.push({ sessionId: `ses_unknown_${i}`, visitorId: session.visitorId, touch });
      else if (i % 50 === 8) calls.push({ sessionId: bystander.id, visitorId: 'v-someone-else', touch });
      else calls.push({ sessionId: session.id, visitorId: session.visitorId, touch });
    }

    const counts = countStatements(s);
    const answers = await Promise.all(calls.map((c) => s.touchSession(c.sessionId, c.visitorId, c.touch)));
    const statements = { ...counts };
    vi.restoreAllMocks();

    let nulls = 0;
    for (const [i, call] of calls.entries()) {
      const lone = await memory.touchSession(call.sessionId, call.visitorId, call.touch);
      const answer = answers[i]!;
      if (lone === null) {
        nulls++;
        expect(answer, `call ${i}`).toBeNull();
        continue;
      }
      expect(answer, `call ${i}`).not.toBeNull();
      expect(
        {
          id: answer?.id,
          visitorId: answer?.visitorId,
          lastActivity: answer?.lastActivity,
          metadata: answer?.metadata,
        },
        `call ${i}`,
      ).toEqual({ id: lone.id, visitorId: lone.visitorId, lastActivity: lone.lastActivity, metadata: lone.metadata });
    }
    expect(nulls).toBeGreaterThan(40);
    // 300 calls, at most 64 per statement and one call per session in each: a handful of
    // statements, not one per call.
    expect(statements.batched).toBeGreaterThan(0);
    expect(statements.all).toBeLessThan(300 / 10);

    for (const session of sessions) {
      const own = calls.filter((c) => c.sessionId === session.id && c.visitorId === session.visitorId);
      expect(own.length).toBeGreaterThan(1);
      const stored = (await s.getSession(session.id))!;
      // The last statement to commit wins, whichever it was; its time and its page travel together.
      const winner = own.find((c) => c.touch.lastActivity.getTime() === stored.lastActivity.getTime());
      expect(winner, `stored lastActivity of ${session.id} is one it was touched with`).toBeDefined();
      expect(stored.metadata).toEqual({
        ip: session.metadata?.ip,
        language: 'fr',
        url: winner?.touch.metadata.url,
        n: winner?.touch.metadata.n,
        city: `city-${session.id}`,
      });
    }
    expect(await s.getSession(bystander.id)).toMatchObject({
      lastActivity: new Date(base),
      metadata: { ip: '192.0.2.9', url: 'kept' },
    });
  });

  it('two instances touching overlapping sessions in opposite orders never deadlock', async () => {
    const schema = randomSchema();
    const a = await open({ schema, poolSize: 4 });
    const b = await open({ schema, poolSize: 4 });
    const sessions: Session[] = [];
    for (let i = 0; i < 40; i++) sessions.push(makeSession({ metadata: { ip: `198.51.100.${i}` } }));
    for (const session of sessions) await a.createSession(session);
    // Both pools connected and idle before the clock starts.
    await Promise.all([a.ping(), b.ping(), a.ping(), b.ping()]);
    const before = await settledDeadlockCount();

    // Instance a touches sessions 0..29 upwards, b touches 10..39 downwards; six rounds each,
    // all at once, so every statement carries 30 sessions and overlaps those of the other
    // instance (and, with two statements in flight per instance, its own).
    const burst = (storage: PostgresStorage, order: Session[], tag: string) => {
      const pending: Promise<Session | null>[] = [];
      for (let round = 0; round < 6; round++) {
        for (const session of order) {
          pending.push(
            storage.touchSession(session.id, session.visitorId, {
              lastActivity: new Date(),
              metadata: { url: `https://a.example/${tag}/${round}` },
              keepKeys: ['ip'],
            }),
          );
        }
      }
      return pending;
    };
    // Session 20, which every statement needs, is held by another connection until both
    // statements in flight (one batch per instance) are stuck, so the two instances' statements surely meet while each
    // holds the rows it reached first. Locking in call order, a would hold 0..19 and b 39..21,
    // and whoever takes 20 next waits for the other: a deadlock every run. Locking in id order,
    // they queue up instead.
    const holder = await adminPool().connect();
    let all: Promise<PromiseSettledResult<Session | null>[]>;
    const started = performance.now();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM ${pg.escapeIdentifier(schema)}.sessions WHERE id = $1 FOR UPDATE`, [
        sessions[20]!.id,
      ]);
      all = Promise.allSettled([
        ...burst(a, sessions.slice(0, 30), 'a'),
        ...burst(b, sessions.slice(10, 40).reverse(), 'b'),
      ]);
      await lockWaiters(schema, 2);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    const outcomes = await all;
    const elapsed = performance.now() - started;

    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    expect(outcomes.every((o) => o.status === 'fulfilled' && o.value !== null)).toBe(true);
    // A deadlock would not reject anything (the batch is retried call by call), so it is looked
    // for where PostgreSQL counts it, once both instances' connections have ended.
    await a.close();
    await b.close();
    expect(await settledDeadlockCount()).toBe(before);
    // Timing assertions are otherwise avoided here. This one is the second witness of deadlocks:
    // each costs deadlock_timeout (1 s by default) before PostgreSQL breaks it. The workload is
    // a dozen small statements that take well under 100 ms here, so 3 s leaves a wide margin for
    // a slow machine, while repeated deadlocks still exceed it.
    expect(elapsed).toBeLessThan(3000);
  });

  it('batchSize 1 sends one statement per touch, never a grouped one', async () => {
    const s = await open({ poolSize: 4, batchSize: 1 });
    const sessions: Session[] = [];
    for (let i = 0; i < 10; i++) sessions.push(makeSession());
    for (const session of sessions) await s.createSession(session);

    const counts = countStatements(s);
    const at = new Date(Date.UTC(2026, 3, 1));
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        s.touchSession(sessions[i % 10]!.id, sessions[i % 10]!.visitorId, {
          lastActivity: at,
          metadata: { url: `https://a.example/${i % 10}` },
          keepKeys: [],
        }),
      ),
    );
    expect(counts).toEqual({ all: 50, batched: 0 });
    expect(answers.map((x) => [x?.id, x?.metadata?.url])).toEqual(
      Array.from({ length: 50 }, (_, i) => [sessions[i % 10]!.id, `https://a.example/${i % 10}`]),
    );
  });
});
