import { makeMessage, makeSession } from '@pocketping/conformance';
import { MemoryStorage, type SessionTouch } from '@pocketping/core';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { RedisStorage } from '../src/index.js';
import { adminClient, closeAdmin, deletePrefix, randomPrefix, redisService } from './helpers.js';

/** Stored metadata whose members JSON re-encoding in Lua (cjson) would change. */
const TRICKY: Record<string, unknown> = {
  empty: [],
  nested: { list: [1, {}, [], 'x'], text: 'quote " backslash \\ brackets }{][ , : end' },
  big: 12345678901234568,
  third: 1 / 3,
  tiny: -1.5e-7,
  at: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)),
  'key "with" \\ escapes/': 'old',
  unicode: 'é 🙂 \u2028',
  nothing: null,
  no: false,
  ip: '203.0.113.7',
};

const TOUCH: SessionTouch = {
  lastActivity: new Date(Date.UTC(2026, 0, 3)),
  metadata: {
    url: 'https://a.example/two',
    'key "with" \\ escapes/': 'new',
    nothing: 'kept as null',
    no: true,
    ip: '198.51.100.1',
    city: 'Lyon',
    list: [[], {}],
    when: new Date(Date.UTC(2026, 0, 3, 1)),
  },
  keepKeys: ['ip', 'nothing', 'city', 'absent'],
};

describe.skipIf(redisService.skip)('RedisStorage hot-path scripts', () => {
  const prefixes: string[] = [];
  const opened: RedisStorage[] = [];
  const open = async () => {
    const keyPrefix = randomPrefix();
    prefixes.push(keyPrefix);
    const s = new RedisStorage({ url: redisService.url!, keyPrefix });
    opened.push(s);
    await s.init();
    return { s, keyPrefix };
  };
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const s of opened.splice(0)) await s.close();
    for (const p of prefixes.splice(0)) await deletePrefix(p);
  });
  afterAll(closeAdmin);

  /** Commands sent to Redis while `fn` runs. */
  const commandsDuring = async (s: RedisStorage, fn: () => Promise<unknown>): Promise<string[]> => {
    const spy = vi.spyOn(s.client, 'sendCommand');
    await fn();
    const names = spy.mock.calls.map(([command]) => (command as { name: string }).name);
    spy.mockRestore();
    return names;
  };

  it('touchSession merges member by member exactly like MemoryStorage, leaving stored values byte for byte', async () => {
    const { s, keyPrefix } = await open();
    const memory = new MemoryStorage();
    const session = makeSession({ metadata: TRICKY });
    await s.createSession(session);
    await memory.createSession(session);
    const rawBefore = await adminClient().hget(`${keyPrefix}session:${session.id}`, 'metadata');

    const touched = await s.touchSession(session.id, session.visitorId, TOUCH);
    const expected = await memory.touchSession(session.id, session.visitorId, TOUCH);
    expect(touched?.metadata).toEqual(expected?.metadata);
    expect(touched?.lastActivity).toEqual(TOUCH.lastActivity);
    expect((await s.getSession(session.id))?.metadata).toEqual(expected?.metadata);

    // Untouched members keep their stored JSON text: `[]` stays `[]`, numbers keep every digit.
    const rawAfter = (await adminClient().hget(`${keyPrefix}session:${session.id}`, 'metadata'))!;
    const before = JSON.parse(rawBefore!) as Record<string, unknown>;
    const after = JSON.parse(rawAfter) as Record<string, unknown>;
    for (const key of ['empty', 'nested', 'big', 'third', 'tiny', 'at', 'unicode', 'nothing', 'ip']) {
      expect(JSON.stringify(after[key]), key).toBe(JSON.stringify(before[key]));
    }
    expect(rawAfter).toContain('"empty":[]');
    expect(rawAfter).toContain('12345678901234568');
  });

  it('for any stored and new metadata, touchSession merges exactly like MemoryStorage', async () => {
    const { s } = await open();
    // Keys and strings full of the characters a hand-written JSON splitter could trip on.
    const text = fc.string({
      unit: fc.constantFrom('a', '"', '\\', '{', '}', '[', ']', ',', ':', ' ', 'é', '🙂', '\n'),
    });
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        text,
        fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (d === 0 ? 0 : d)),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('v'), { maxLength: 3 }),
        fc.dictionary(text, tie('v'), { maxKeys: 3 }),
      ),
    })).v;
    const metadata = fc.dictionary(fc.oneof(text, fc.constantFrom('ip', 'city', 'url')), value, { maxKeys: 6 });
    await fc.assert(
      fc.asyncProperty(metadata, metadata, fc.subarray(['ip', 'city', 'url', 'x']), async (stored, given, keepKeys) => {
        const memory = new MemoryStorage();
        const session = makeSession({ metadata: stored });
        await s.createSession(session);
        await memory.createSession(session);
        const touch = { lastActivity: new Date(), metadata: given, keepKeys };
        const got = await s.touchSession(session.id, session.visitorId, touch);
        const want = await memory.touchSession(session.id, session.visitorId, touch);
        expect(got?.metadata).toEqual(want?.metadata);
      }),
      { numRuns: 150 },
    );
  });

  it('touchSession returns what getSession returns and moves the session in the activity indexes', async () => {
    const { s } = await open();
    const base = Date.UTC(2026, 0, 1);
    const older = makeSession({ lastActivity: new Date(base), createdAt: new Date(base) });
    const newer = makeSession({ lastActivity: new Date(base + 1000), createdAt: new Date(base) });
    const closed = makeSession({ status: 'closed', lastActivity: new Date(base + 2000), createdAt: new Date(base) });
    for (const x of [older, newer, closed]) await s.createSession(x);
    await s.setBridgeThread(older.id, 'telegram', '42');
    await s.saveMessage(makeMessage(older.id));
    await s.updateSession(older.id, { streamResume: [{ seq: 1, at: new Date(base + 100) }] });

    const touched = await s.touchSession(older.id, older.visitorId, { ...TOUCH, lastActivity: new Date(base + 5000) });
    expect(touched).toEqual(await s.getSession(older.id));
    expect(touched?.bridgeThreads).toEqual({ telegram: '42' });
    expect(touched?.seq).toBe(1);
    expect(touched?.streamResume).toEqual([{ seq: 1, at: new Date(base + 100) }]);
    expect((await s.listSessions({ status: 'open' })).map((x) => x.id)).toEqual([older.id, newer.id]);
    expect((await s.listSessions({ limit: 1 }))[0]?.id).toBe(older.id);

    await s.touchSession(closed.id, closed.visitorId, { ...TOUCH, lastActivity: new Date(base + 9000) });
    expect((await s.listSessions({ status: 'closed' }))[0]?.lastActivity.getTime()).toBe(base + 9000);
    expect((await s.listSessions({ status: 'open' })).map((x) => x.id)).toEqual([older.id, newer.id]);
  });

  it('a session without stored metadata takes the new members', async () => {
    const { s, keyPrefix } = await open();
    const session = makeSession();
    await s.createSession(session);
    await adminClient().hdel(`${keyPrefix}session:${session.id}`, 'metadata');
    const touched = await s.touchSession(session.id, session.visitorId, TOUCH);
    expect(touched?.metadata).toEqual(TOUCH.metadata);
  });

  it('touchSession and saveMessageWithSession are one command each', async () => {
    const { s } = await open();
    const session = makeSession();
    await s.createSession(session);
    // First calls load the scripts (EVALSHA, then EVAL on NOSCRIPT).
    await s.touchSession(session.id, session.visitorId, TOUCH);
    await s.saveMessageWithSession(makeMessage(session.id), { lastActivity: new Date() });

    expect(await commandsDuring(s, () => s.touchSession(session.id, session.visitorId, TOUCH))).toEqual(['evalsha']);
    expect(
      await commandsDuring(s, () =>
        s.saveMessageWithSession(makeMessage(session.id), { lastActivity: new Date(), hasVisitorMessage: true }),
      ),
    ).toEqual(['evalsha']);
  });

  it('saveMessageWithSession reopens a closed session, writes bridge references, and answers the session as read', async () => {
    const { s } = await open();
    const base = Date.UTC(2026, 0, 1);
    const session = makeSession({ status: 'closed', closedAt: new Date(base), lastActivity: new Date(base) });
    await s.createSession(session);
    const message = makeMessage(session.id, { bridgeMessageIds: { slack: 'p-1' } });
    const at = new Date(base + 60_000);
    const result = await s.saveMessageWithSession(message, {
      lastActivity: at,
      status: 'open',
      bridgeThreads: { 'my:bridge': 'thread-7' },
    });
    expect(result?.message).toEqual({ ...message, seq: 1 });
    expect(result?.session).toEqual(await s.getSession(session.id));
    expect(result?.session).toMatchObject({ status: 'open', seq: 1, bridgeThreads: { 'my:bridge': 'thread-7' } });
    expect(result?.session.lastActivity.getTime()).toBe(at.getTime());
    expect((await s.findMessageByBridgeId('slack', 'p-1'))?.id).toBe(message.id);
    expect((await s.findSessionByBridgeThread('my:bridge', 'thread-7'))?.id).toBe(session.id);
    expect((await s.listSessions({ status: 'open' })).map((x) => x.id)).toEqual([session.id]);
    expect(await s.listSessions({ status: 'closed' })).toEqual([]);
  });

  it('an unknown session stays unknown and nothing is stored for it', async () => {
    const { s } = await open();
    const message = makeMessage('ses_nobody');
    expect(await s.saveMessageWithSession(message, { lastActivity: new Date() })).toBeNull();
    expect(await s.getSession('ses_nobody')).toBeNull();
    expect(await s.listSessions()).toEqual([]);
    expect(await s.getMessages('ses_nobody')).toEqual([]);
    expect(await s.getMessage(message.id)).toBeNull();
  });

  it('parallel saveMessageWithSession calls on one session get distinct numbers 1..n', async () => {
    const { s } = await open();
    const session = makeSession();
    await s.createSession(session);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        s.saveMessageWithSession(makeMessage(session.id, { content: `m${i}` }), { lastActivity: new Date() }),
      ),
    );
    expect(results.map((r) => r?.message.seq).sort((a, b) => a! - b!)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    for (const r of results) expect(r?.session.seq).toBe(r?.message.seq);
    expect((await s.getSession(session.id))?.seq).toBe(100);
  });
});
