import { makeMessage, makeSession } from '@pocketping/conformance';
import type { Message, Session, SessionPatch } from '@pocketping/core';
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

/** Only the grouped statements (several calls in one) pass their values as arrays to `unnest`. */
const GROUPED = 'unnest(';

/** Texts that a hand-rolled array literal would get wrong: they travel as elements of `text[]` and `jsonb[]`. */
const AWKWARD = ['', 'NULL', 'a "quoted", {braced} \\ back\\slash', 'line\nbreak\ttab', 'emoji 🎉 é ("x")'];

/** One statement sent through a storage's pool. */
interface Sent {
  text: string;
  params: unknown[];
}

/** Records every statement a storage sends through `pool.query` (the hot paths use nothing else). */
function recordStatements(storage: PostgresStorage): Sent[] {
  const sent: Sent[] = [];
  const real = storage.pool.query.bind(storage.pool) as (...args: unknown[]) => unknown;
  vi.spyOn(storage.pool, 'query').mockImplementation(((...args: unknown[]) => {
    const first = args[0] as string | { text?: string; values?: unknown[] } | undefined;
    const text = typeof first === 'string' ? first : (first?.text ?? '');
    const params = Array.isArray(args[1]) ? args[1] : typeof first === 'object' ? (first.values ?? []) : [];
    sent.push({ text, params });
    return real(...args);
  }) as typeof storage.pool.query);
  return sent;
}

/** The grouped message saves among recorded statements. */
const groupedMessageSaves = (sent: Sent[]) =>
  sent.filter((x) => x.text.includes(GROUPED) && x.text.includes('message_seq'));
/** The grouped new-session statements among recorded statements. */
const groupedSessionCreates = (sent: Sent[]) =>
  sent.filter((x) => x.text.includes(GROUPED) && x.text.includes('proposed_id'));

/** One saveMessageWithSession call of a burst. */
interface SaveCall {
  message: Message;
  patch: SessionPatch;
}

type SaveAnswer = { message: Message; session: Session } | null;

/** Asserts that the numbers are exactly 1..n in some order. */
function expectOneToN(seqs: (number | undefined)[]): void {
  expect([...seqs].sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
}

describe.skipIf(pgService.skip)('PostgresStorage grouped message saves and new sessions', () => {
  const schemas: string[] = [];
  const storages: PostgresStorage[] = [];
  const open = async (options: { schema?: string; poolSize?: number; batchSize?: number } = {}) => {
    const schema = options.schema ?? randomSchema();
    if (!schemas.includes(schema)) schemas.push(schema);
    const s = new PostgresStorage({
      url: pgService.url!,
      schema,
      poolSize: options.poolSize ?? 4,
      ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
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

  it('400 concurrent message saves over 30 sessions answer like lone calls, number each session 1..n, in a few statements', async () => {
    const s = await open({ poolSize: 4 });
    const base = Date.UTC(2026, 1, 1);
    const sessions = Array.from({ length: 30 }, (_, i) =>
      makeSession({
        status: 'closed',
        closedAt: new Date(base),
        lastActivity: new Date(base),
        identity: { id: `user-${i}`, email: `user-${i}@example.com` },
      }),
    );
    for (const session of sessions) await s.createSession(session);
    const initial = new Map<string, Session>();
    for (const session of sessions) initial.set(session.id, (await s.getSession(session.id))!);

    const calls: SaveCall[] = [];
    const unknown: SaveCall[] = [];
    for (let i = 0; i < 400; i++) {
      const session = sessions[(i * 7) % 30]!;
      const at = new Date(base + (i + 1) * 1000);
      if (i % 25 === 0) {
        // An operator reply: another patch shape, so it never shares a statement with the rest.
        calls.push({
          message: makeMessage(session.id, { sender: 'operator', operatorName: 'Ana', content: `reply ${i}` }),
          patch: { lastActivity: at, lastOperatorActivity: at },
        });
      } else {
        const awkward = i % 10 === 3 ? AWKWARD[Math.floor(i / 10) % AWKWARD.length]! : undefined;
        calls.push({
          message: makeMessage(session.id, {
            content: awkward ?? `message ${i}`,
            metadata: { n: i, ...(awkward === undefined ? {} : { note: awkward }) },
          }),
          patch: { lastActivity: at, hasVisitorMessage: true, status: 'open' },
        });
      }
      if (i % 50 === 10) {
        unknown.push({
          message: makeMessage(`ses_unknown_${i}`),
          patch: { lastActivity: at, hasVisitorMessage: true, status: 'open' },
        });
        calls.push(unknown[unknown.length - 1]!);
      }
    }

    const sent = recordStatements(s);
    // Issued without awaiting, like the requests of many widgets at once.
    const pending = calls.map((c) => s.saveMessageWithSession(c.message, c.patch));
    const answers = await Promise.all(pending);
    vi.restoreAllMocks();
    const answerOf = new Map<SaveCall, SaveAnswer>(calls.map((c, i) => [c, answers[i] ?? null]));

    for (const call of unknown) {
      expect(answerOf.get(call)).toBeNull();
      expect(await s.getMessage(call.message.id)).toBeNull();
      expect(await s.getSession(call.message.sessionId)).toBeNull();
    }

    for (const session of sessions) {
      const mine = calls.filter((c) => c.message.sessionId === session.id);
      const answered = mine.map((c) => ({ call: c, answer: answerOf.get(c)! }));
      for (const { call, answer } of answered) {
        expect(answer).not.toBeNull();
        expect(answer.message).toEqual({ ...call.message, seq: answer.message.seq });
        expect(typeof answer.message.seq).toBe('number');
        expect(answer.session.seq).toBe(answer.message.seq);
      }
      expectOneToN(answered.map((x) => x.answer.message.seq));

      // Each answer is the session right after its own patch: the initial session with the
      // patches of every call numbered before it (and its own) applied in seq order.
      answered.sort((a, b) => a.answer.message.seq! - b.answer.message.seq!);
      let state: Session = initial.get(session.id)!;
      for (const { call, answer } of answered) {
        state = { ...state, ...call.patch, seq: answer.message.seq! };
        expect(answer.session).toEqual(state);
      }
      expect(await s.getSession(session.id)).toEqual(state);
      expect(state.seq).toBe(mine.length);

      const stored = await s.getMessages(session.id);
      expect(stored).toHaveLength(mine.length);
      const byId = new Map(stored.map((m) => [m.id, m]));
      for (const { answer } of answered) expect(byId.get(answer.message.id)).toEqual(answer.message);
    }

    // Far fewer statements than calls: the calls queued behind the two statements in flight
    // went out together.
    const grouped = groupedMessageSaves(sent);
    expect(sent.length).toBeLessThan(calls.length / 5);
    expect(grouped.length).toBeGreaterThan(0);
    const carried = grouped.reduce((n, x) => n + (x.params[0] as unknown[]).length, 0);
    expect(carried).toBeGreaterThan(calls.length * 0.8);
    // No statement carried two messages of one session.
    for (const x of grouped) {
      const sessionIds = x.params[1] as string[];
      expect(new Set(sessionIds).size).toBe(sessionIds.length);
    }
  });

  it('a message saved again inside a grouped save is replaced, renumbered, and loses its old bridge references', async () => {
    const s = await open({ poolSize: 4 });
    const sessions = Array.from({ length: 10 }, () => makeSession());
    for (const session of sessions) await s.createSession(session);
    const [first, second, bystander] = sessions as [Session, Session, Session];

    // References set both ways: with the message itself, and added afterwards.
    const withIds = makeMessage(first.id, { content: 'v1', bridgeMessageIds: { slack: 'sl-1' } });
    expect((await s.saveMessage(withIds)).seq).toBe(1);
    await s.saveBridgeMessageId(withIds.id, 'discord', 'dc-1');
    const plain = makeMessage(second.id, { content: 'v1' });
    expect((await s.saveMessage(plain)).seq).toBe(1);
    await s.saveBridgeMessageId(plain.id, 'telegram', 'tg-1');
    // A message whose references must survive: its session gets a new message in the same batch.
    const kept = makeMessage(bystander.id, { bridgeMessageIds: { slack: 'sl-kept' } });
    await s.saveMessage(kept);
    expect((await s.findMessageByBridgeId('discord', 'dc-1'))?.id).toBe(withIds.id);
    expect((await s.findMessageByBridgeId('telegram', 'tg-1'))?.id).toBe(plain.id);

    const again1 = { ...withIds, content: 'v2', bridgeMessageIds: undefined, updatedAt: new Date() };
    const again2 = { ...plain, content: 'v2', updatedAt: new Date() };
    const calls: SaveCall[] = sessions.map((session) => ({
      message: makeMessage(session.id),
      patch: { lastActivity: new Date(), hasVisitorMessage: true },
    }));
    calls[0] = { message: again1, patch: { lastActivity: new Date(), hasVisitorMessage: true } };
    calls[1] = { message: again2, patch: { lastActivity: new Date(), hasVisitorMessage: true } };

    const sent = recordStatements(s);
    const answers = await Promise.all(calls.map((c) => s.saveMessageWithSession(c.message, c.patch)));
    vi.restoreAllMocks();
    // Both went out in a grouped statement (not alone).
    const carried = groupedMessageSaves(sent).flatMap((x) => x.params[0] as string[]);
    expect(carried).toEqual(expect.arrayContaining([withIds.id, plain.id]));

    for (const [i, again] of [again1, again2].entries()) {
      expect(answers[i]?.message).toEqual({ ...again, seq: 2 });
      expect(answers[i]?.session.seq).toBe(2);
      const stored = await s.getMessages(again.sessionId);
      expect(stored).toEqual([{ ...again, seq: 2 }]);
      expect(await s.getMessage(again.id)).toEqual({ ...again, seq: 2 });
    }
    expect(await s.findMessageByBridgeId('slack', 'sl-1')).toBeNull();
    expect(await s.findMessageByBridgeId('discord', 'dc-1')).toBeNull();
    expect(await s.findMessageByBridgeId('telegram', 'tg-1')).toBeNull();
    const { rows } = await adminPool().query(
      `SELECT count(*)::int AS n FROM ${pg.escapeIdentifier(schemas[0]!)}.bridge_messages WHERE message_id = ANY($1::text[])`,
      [[withIds.id, plain.id]],
    );
    expect(rows[0].n).toBe(0);
    expect((await s.findMessageByBridgeId('slack', 'sl-kept'))?.id).toBe(kept.id);
    expect((await s.getMessages(bystander.id)).map((m) => m.seq)).toEqual([1, 2]);
  });

  it('messages with bridge ids or a bridgeThreads patch go alone, amid a burst, and keep their references', async () => {
    const s = await open({ poolSize: 4 });
    const sessions = Array.from({ length: 6 }, () => makeSession());
    for (const session of sessions) await s.createSession(session);
    const hotPatch = (): SessionPatch => ({ lastActivity: new Date(), hasVisitorMessage: true, status: 'open' });

    const calls: SaveCall[] = [];
    const withIds: SaveCall[] = [];
    const withThreads: SaveCall[] = [];
    for (let round = 0; round < 10; round++) {
      for (const [k, session] of sessions.entries()) {
        calls.push({ message: makeMessage(session.id, { content: `hot ${round}` }), patch: hotPatch() });
        if (round === 3) {
          const call = {
            message: makeMessage(session.id, { bridgeMessageIds: { slack: `sl-${k}`, discord: `dc-${k}` } }),
            patch: hotPatch(),
          };
          withIds.push(call);
          calls.push(call);
        }
        if (round === 6 && k % 2 === 0) {
          const call = {
            message: makeMessage(session.id, { sender: 'operator', content: 'thread opened' }),
            patch: { ...hotPatch(), bridgeThreads: { telegram: `topic-${k}` } },
          };
          withThreads.push(call);
          calls.push(call);
        }
      }
    }

    const sent = recordStatements(s);
    const answers = await Promise.all(calls.map((c) => s.saveMessageWithSession(c.message, c.patch)));
    vi.restoreAllMocks();
    const answerOf = new Map(calls.map((c, i) => [c, answers[i]]));

    const grouped = groupedMessageSaves(sent);
    expect(grouped.length).toBeGreaterThan(0);
    const carried = new Set(grouped.flatMap((x) => x.params[0] as string[]));
    for (const call of [...withIds, ...withThreads]) expect(carried.has(call.message.id)).toBe(false);

    for (const call of withIds) {
      const answer = answerOf.get(call);
      expect(answer?.message).toEqual({ ...call.message, seq: answer?.message.seq });
      const k = sessions.findIndex((x) => x.id === call.message.sessionId);
      expect(await s.findMessageByBridgeId('slack', `sl-${k}`)).toEqual(answer?.message);
      expect(await s.findMessageByBridgeId('discord', `dc-${k}`)).toEqual(answer?.message);
    }
    for (const call of withThreads) {
      const answer = answerOf.get(call);
      expect(answer?.session.bridgeThreads).toEqual(call.patch.bridgeThreads);
      expect(answer?.session.seq).toBe(answer?.message.seq);
      const topic = call.patch.bridgeThreads!.telegram!;
      expect((await s.findSessionByBridgeThread('telegram', topic))?.id).toBe(call.message.sessionId);
    }
    for (const session of sessions) {
      const mine = calls.filter((c) => c.message.sessionId === session.id);
      expectOneToN(mine.map((c) => answerOf.get(c)?.message.seq));
      expectOneToN((await s.getMessages(session.id)).map((m) => m.seq));
      expect((await s.getSession(session.id))?.seq).toBe(mine.length);
    }
  });

  it('200 concurrent new sessions: fresh visitors are stored as given, known visitors get their newest session', async () => {
    const s = await open({ poolSize: 4 });
    const base = Date.UTC(2026, 2, 1);
    // 50 visitors who already have two sessions each; the newer one is the answer.
    const newest = new Map<string, Session>();
    for (let i = 0; i < 50; i++) {
      const visitorId = `v-known-${i}-${randomSchema()}`;
      const older = makeSession({ visitorId, createdAt: new Date(base), lastActivity: new Date(base) });
      const newer = makeSession({ visitorId, createdAt: new Date(base + 60_000), lastActivity: new Date(base) });
      await s.createSession(newer);
      await s.createSession(older);
      newest.set(visitorId, (await s.getSession(newer.id))!);
    }
    const known = [...newest.keys()];
    const proposals: Session[] = [];
    for (let i = 0; i < 200; i++) {
      if (i % 4 === 1) {
        proposals.push(makeSession({ visitorId: known[(i - 1) / 4]! }));
      } else {
        proposals.push(
          makeSession({
            createdAt: new Date(base + i),
            lastActivity: new Date(base + i),
            identity: { id: `user-${i}`, name: `User ${i}` },
            metadata: { url: `https://a.example/${i}`, ip: '203.0.113.5', at: new Date(base) },
          }),
        );
      }
    }
    const fresh = proposals.filter((p) => !newest.has(p.visitorId));
    expect(fresh).toHaveLength(150);

    const sent = recordStatements(s);
    const answers = await Promise.all(proposals.map((p) => s.createSessionForVisitor(p)));
    vi.restoreAllMocks();

    for (const [i, proposal] of proposals.entries()) {
      const answer = answers[i]!;
      const existing = newest.get(proposal.visitorId);
      if (existing) {
        expect(answer).toEqual({ session: existing, created: false });
        expect(await s.getSession(proposal.id)).toBeNull();
      } else {
        expect(answer).toEqual({ session: { ...proposal, seq: 0 }, created: true });
        expect(await s.getSession(proposal.id)).toEqual({ ...proposal, seq: 0 });
      }
      expect(await s.getSessionByVisitorId(proposal.visitorId)).toEqual(answer.session);
    }

    const grouped = groupedSessionCreates(sent);
    expect(grouped.length).toBeGreaterThan(0);
    expect(sent.length).toBeLessThan(proposals.length / 5);
    const carried = grouped.reduce((n, x) => n + (x.params[0] as unknown[]).length, 0);
    expect(carried).toBeGreaterThan(proposals.length * 0.8);
  });

  it('two concurrent calls for the same new visitor never share a statement: one creates, the other finds it', async () => {
    // A pool of 2 runs one grouped statement at a time, so the second call of a visitor goes
    // in the statement after the one that stored the first.
    const s = await open({ poolSize: 2 });
    const pairs = Array.from({ length: 40 }, () => {
      const visitorId = `v-pair-${randomSchema()}`;
      return [makeSession({ visitorId }), makeSession({ visitorId })] as const;
    });
    const sent = recordStatements(s);
    const answers = await Promise.all(pairs.flat().map((p) => s.createSessionForVisitor(p)));
    vi.restoreAllMocks();

    const grouped = groupedSessionCreates(sent);
    expect(grouped.length).toBeGreaterThan(0);
    for (const x of grouped) {
      const visitors = x.params[1] as string[];
      expect(new Set(visitors).size).toBe(visitors.length);
    }
    for (const [k, [a, b]] of pairs.entries()) {
      const [answerA, answerB] = [answers[2 * k]!, answers[2 * k + 1]!];
      expect(answerA).toEqual({ session: { ...a, seq: 0 }, created: true });
      expect(answerB).toEqual({ session: { ...a, seq: 0 }, created: false });
      expect(await s.getSession(b.id)).toBeNull();
      expect(await s.getSessionByVisitorId(a.visitorId)).toEqual(answerA.session);
    }
  });

  it('two instances saving into the same 10 sessions at once number them 1..n without a deadlock', async () => {
    const schema = randomSchema();
    const a = await open({ schema, poolSize: 4 });
    const b = await open({ schema, poolSize: 4 });
    const sessions = Array.from({ length: 10 }, () => makeSession());
    for (const session of sessions) await a.createSession(session);
    // Both pools connected before the deadlock count is read.
    await Promise.all([a.ping(), a.ping(), b.ping(), b.ping()]);
    const before = await settledDeadlockCount();

    // a goes through the sessions upwards, b downwards, six rounds each, so each instance's two
    // statements in flight carry all ten sessions, in opposite orders.
    const burst = (storage: PostgresStorage, order: Session[], tag: string) =>
      Array.from({ length: 6 }, (_, round) =>
        order.map((session) =>
          storage.saveMessageWithSession(makeMessage(session.id, { content: `${tag} ${round}` }), {
            lastActivity: new Date(),
            hasVisitorMessage: true,
            status: 'open',
          }),
        ),
      ).flat();
    // Session 5 is held by another connection until two statements (one batch per instance) wait,
    // so both instances' statements are surely running at the same time when it is released.
    const holder = await adminPool().connect();
    let all: Promise<PromiseSettledResult<SaveAnswer>[]>;
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM ${pg.escapeIdentifier(schema)}.sessions WHERE id = $1 FOR UPDATE`, [
        sessions[5]!.id,
      ]);
      all = Promise.allSettled([...burst(a, sessions, 'a'), ...burst(b, [...sessions].reverse(), 'b')]);
      await lockWaiters(schema, 2);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    const outcomes = await all;
    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    const answers = outcomes.map((o) => (o.status === 'fulfilled' ? o.value : null));
    expect(answers.every((x) => x !== null)).toBe(true);

    for (const session of sessions) {
      const mine = answers.filter((x) => x?.message.sessionId === session.id);
      expect(mine).toHaveLength(12);
      expectOneToN(mine.map((x) => x?.message.seq));
      expectOneToN((await a.getMessages(session.id)).map((m) => m.seq));
      expect((await b.getSession(session.id))?.seq).toBe(12);
    }
    // A deadlock rejects nothing (the batch is retried call by call), so it is looked for where
    // PostgreSQL counts it, once both instances' connections are gone.
    await a.close();
    await b.close();
    expect(await settledDeadlockCount()).toBe(before);
  });

  it('batchSize 1 sends every message save and new session alone', async () => {
    const s = await open({ poolSize: 4, batchSize: 1 });
    const sessions = Array.from({ length: 5 }, () => makeSession());
    for (const session of sessions) await s.createSession(session);

    const sent = recordStatements(s);
    const saves = Array.from({ length: 40 }, (_, i) =>
      s.saveMessageWithSession(makeMessage(sessions[i % 5]!.id), {
        lastActivity: new Date(),
        hasVisitorMessage: true,
        status: 'open',
      }),
    );
    const proposals = Array.from({ length: 20 }, () => makeSession());
    const creates = proposals.map((p) => s.createSessionForVisitor(p));
    const [saved, created] = await Promise.all([Promise.all(saves), Promise.all(creates)]);
    vi.restoreAllMocks();

    expect(sent.filter((x) => x.text.includes(GROUPED))).toEqual([]);
    expect(sent).toHaveLength(60);
    for (const session of sessions) {
      expectOneToN(saved.filter((x) => x?.message.sessionId === session.id).map((x) => x?.message.seq));
    }
    expect(created).toEqual(proposals.map((p) => ({ session: { ...p, seq: 0 }, created: true })));
  });

  // A grouped statement that fails stored nothing (one transaction); each of its calls then runs
  // alone, so one request the database refuses does not take down the unrelated requests that
  // happened to be queued with it.
  it('a message id given for two sessions in one burst does not fail the other saves of its statement', async () => {
    const s = await open({ poolSize: 4 });
    const sessions = Array.from({ length: 5 }, () => makeSession());
    for (const session of sessions) await s.createSession(session);
    // The same message for two sessions (a client retrying into another session): lone calls
    // both succeed, the row ending up in one of them. In one statement, the upsert meets its row
    // twice ("ON CONFLICT DO UPDATE command cannot affect row a second time").
    const twice = makeMessage(sessions[0]!.id);
    const calls = sessions.map((session, i) => (i < 2 ? { ...twice, sessionId: session.id } : makeMessage(session.id)));
    const outcomes = await Promise.allSettled(
      calls.map((m) => s.saveMessageWithSession(m, { lastActivity: new Date() })),
    );
    expect(outcomes.slice(2).map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
  });

  it('a new session whose id is taken rejects only its own call, not the other new visitors of its statement', async () => {
    const s = await open({ poolSize: 4 });
    const taken = makeSession();
    await s.createSession(taken);
    const proposals = [makeSession(), makeSession({ id: taken.id }), makeSession(), makeSession()];
    const outcomes = await Promise.allSettled(proposals.map((p) => s.createSessionForVisitor(p)));
    // A lone call gets the duplicate key error for itself only.
    expect(outcomes[1]?.status).toBe('rejected');
    expect([outcomes[0], outcomes[2], outcomes[3]].map((o) => o?.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
  });
});
