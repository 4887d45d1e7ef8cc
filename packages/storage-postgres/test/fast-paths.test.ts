import { makeMessage, makeSession } from '@pocketping/conformance';
import { MemoryStorage, type SessionTouch } from '@pocketping/core';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { PostgresStorage } from '../src/index.js';
import { closeAdmin, dropSchema, pgService, randomSchema } from './helpers.js';

const TOUCH: SessionTouch = {
  lastActivity: new Date(Date.UTC(2026, 0, 3)),
  metadata: {
    url: 'https://a.example/two',
    nothing: 'kept as null',
    no: true,
    ip: '198.51.100.1',
    city: 'Lyon',
    list: [[], {}],
    when: new Date(Date.UTC(2026, 0, 3, 1)),
  },
  keepKeys: ['ip', 'nothing', 'city', 'absent'],
};

describe.skipIf(pgService.skip)('PostgresStorage hot-path statements', () => {
  const schemas: string[] = [];
  const storages: PostgresStorage[] = [];
  const open = async () => {
    const schema = randomSchema();
    schemas.push(schema);
    const s = new PostgresStorage({ url: pgService.url!, schema, poolSize: 4 });
    storages.push(s);
    await s.init();
    return { s };
  };
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const s of storages.splice(0)) await s.close();
    for (const schema of schemas.splice(0)) await dropSchema(schema);
  });
  afterAll(closeAdmin);

  it('a touch commits without waiting for the WAL flush, and the setting never outlives it', async () => {
    const schema = randomSchema();
    schemas.push(schema);
    const pool = new pg.Pool({ connectionString: pgService.url!, max: 1 });
    const s = new PostgresStorage({ pool, schema });
    storages.push(s);
    await s.init();
    const session = makeSession();
    await s.createSession(session);
    // Inside the touch's own transaction the commit is asynchronous...
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const touch = (s as unknown as { sql: { touchSession: string } }).sql.touchSession;
      await client.query(touch, [session.id, session.visitorId, new Date(), '{}', []]);
      expect((await client.query('SHOW synchronous_commit')).rows[0].synchronous_commit).toBe('off');
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    // ...and the pooled connection (the one that will store the next message) is back to normal.
    await s.touchSession(session.id, session.visitorId, { lastActivity: new Date(), metadata: {}, keepKeys: [] });
    expect((await pool.query('SHOW synchronous_commit')).rows[0].synchronous_commit).toBe('on');
    // durableTouches keeps the touch synchronous.
    const durable = new PostgresStorage({ url: pgService.url!, schema, durableTouches: true });
    storages.push(durable);
    expect((durable as unknown as { sql: { touchSession: string } }).sql.touchSession).not.toContain('set_config');
    await pool.end();
  });

  it('touchSession merges like MemoryStorage and returns what getSession returns', async () => {
    const { s } = await open();
    const memory = new MemoryStorage();
    const base = Date.UTC(2026, 0, 1);
    const session = makeSession({
      metadata: { ip: '203.0.113.7', nothing: null, no: false, empty: [], at: new Date(base), url: 'one' },
    });
    await s.createSession(session);
    await memory.createSession(session);
    await s.setBridgeThread(session.id, 'telegram', '42');
    await s.saveMessage(makeMessage(session.id));
    await s.updateSession(session.id, { streamResume: [{ seq: 1, at: new Date(base + 100) }] });

    const touched = await s.touchSession(session.id, session.visitorId, TOUCH);
    const expected = await memory.touchSession(session.id, session.visitorId, TOUCH);
    expect(touched?.metadata).toEqual(expected?.metadata);
    expect(touched).toEqual(await s.getSession(session.id));
    expect(touched).toMatchObject({
      lastActivity: TOUCH.lastActivity,
      seq: 1,
      bridgeThreads: { telegram: '42' },
      streamResume: [{ seq: 1, at: new Date(base + 100) }],
    });
  });

  it('touchSession and saveMessageWithSession are one statement each (no transaction), both prepared', async () => {
    const { s } = await open();
    const session = makeSession();
    await s.createSession(session);
    // Every statement any connection sends, BEGIN and COMMIT included.
    const sent = vi.spyOn(pg.Client.prototype, 'query');

    await s.touchSession(session.id, session.visitorId, TOUCH);
    expect(sent).toHaveBeenCalledTimes(1);
    await s.saveMessageWithSession(makeMessage(session.id), { lastActivity: new Date(), hasVisitorMessage: true });
    expect(sent).toHaveBeenCalledTimes(2);
    // Named statements: parsed and planned once per connection.
    for (const [config] of sent.mock.calls) expect((config as { name?: string }).name).toMatch(/^pocketping_/);
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
      metadata: { url: 'patched' },
      bridgeThreads: { discord: 'thread-7' },
    });
    expect(result?.message).toEqual({ ...message, seq: 1 });
    expect(result?.session).toEqual(await s.getSession(session.id));
    expect(result?.session).toMatchObject({
      status: 'open',
      seq: 1,
      metadata: { url: 'patched' },
      bridgeThreads: { discord: 'thread-7' },
    });
    expect(result?.session.lastActivity.getTime()).toBe(at.getTime());
    expect((await s.findMessageByBridgeId('slack', 'p-1'))?.id).toBe(message.id);
    expect((await s.findSessionByBridgeThread('discord', 'thread-7'))?.id).toBe(session.id);

    // Saved again without bridge ids: the old reference goes, like with saveMessage.
    const again = await s.saveMessageWithSession({ ...message, bridgeMessageIds: undefined, content: 'v2' }, {});
    expect(again?.message.seq).toBe(2);
    expect(again?.session.seq).toBe(2);
    expect(await s.findMessageByBridgeId('slack', 'p-1')).toBeNull();
    expect((await s.getMessages(session.id)).map((m) => [m.content, m.seq])).toEqual([['v2', 2]]);
  });

  it('an unknown session stays unknown and nothing is stored for it', async () => {
    const { s } = await open();
    const message = makeMessage('ses_nobody');
    expect(await s.saveMessageWithSession(message, { lastActivity: new Date() })).toBeNull();
    expect(await s.getSession('ses_nobody')).toBeNull();
    expect(await s.getMessages('ses_nobody')).toEqual([]);
    expect(await s.getMessage(message.id)).toBeNull();
    // The same with bridge references (the transaction path).
    const withRefs = makeMessage('ses_nobody', { bridgeMessageIds: { slack: 'p-9' } });
    expect(await s.saveMessageWithSession(withRefs, { lastActivity: new Date() })).toBeNull();
    expect(await s.findMessageByBridgeId('slack', 'p-9')).toBeNull();
  });

  it('parallel saveMessageWithSession calls on one session get distinct numbers 1..n', async () => {
    const { s } = await open();
    const session = makeSession();
    await s.createSession(session);
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        s.saveMessageWithSession(makeMessage(session.id, { content: `m${i}` }), { lastActivity: new Date() }),
      ),
    );
    expect(results.map((r) => r?.message.seq).sort((a, b) => a! - b!)).toEqual(
      Array.from({ length: 60 }, (_, i) => i + 1),
    );
    for (const r of results) expect(r?.session.seq).toBe(r?.message.seq);
    expect((await s.getSession(session.id))?.seq).toBe(60);
  });
});
