import { makeMessage, makeSession } from '@pocketping/conformance';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RedisStorage } from '../src/index.js';
import { adminClient, closeAdmin, deletePrefix, keysUnder, randomPrefix, redisService } from './helpers.js';

const DAY = 86_400;

describe.skipIf(redisService.skip)('RedisStorage retention (ttlDays)', () => {
  const prefixes: string[] = [];
  const opened: RedisStorage[] = [];
  const open = async (ttlDays?: number) => {
    const keyPrefix = randomPrefix();
    prefixes.push(keyPrefix);
    const s = new RedisStorage({ url: redisService.url!, keyPrefix, ...(ttlDays ? { ttlDays } : {}) });
    opened.push(s);
    await s.init();
    return { s, keyPrefix };
  };
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    for (const p of prefixes.splice(0)) await deletePrefix(p);
  });
  afterAll(closeAdmin);

  /** A session with a message, a thread, a platform message id and an attachment. */
  async function fill(s: RedisStorage) {
    const session = makeSession();
    await s.createSession(session);
    const m = makeMessage(session.id);
    await s.saveMessage(m);
    await s.setBridgeThread(session.id, 'telegram', 'topic-1');
    await s.saveBridgeMessageId(m.id, 'telegram', '99');
    await s.saveAttachment({
      id: 'att_ttl',
      sessionId: session.id,
      filename: 'a.txt',
      mimeType: 'text/plain',
      size: 1,
      url: '',
      status: 'pending',
      storageKey: 'k',
      createdAt: new Date(),
    });
    return { session, m };
  }

  it('with ttlDays every key of a session expires about that many days after the last activity', async () => {
    const { s, keyPrefix } = await open(7);
    const { session } = await fill(s);
    const redis = adminClient();
    const perSession = ['session', 'history', 'changes', 'seqs', 'visitor'].map((k) =>
      k === 'visitor' ? `${keyPrefix}visitor:${session.visitorId}` : `${keyPrefix}${k}:${session.id}`,
    );
    for (const key of perSession) {
      const ttl = await redis.ttl(key);
      expect(ttl, key).toBeGreaterThan(7 * DAY - 60);
      expect(ttl, key).toBeLessThanOrEqual(7 * DAY);
    }
    // Keys of single records live a little longer (up to one refresh interval) than the session.
    const keys = await keysUnder(keyPrefix);
    const indexes = new Set([`${keyPrefix}sessions`, `${keyPrefix}sessions:open`]);
    for (const key of keys.filter((k) => !indexes.has(k))) {
      const ttl = await redis.ttl(key);
      expect(ttl, key).toBeGreaterThan(7 * DAY - 60);
      expect(ttl, key).toBeLessThanOrEqual(8 * DAY);
    }
  });

  it('activity pushes the expiry back, including old messages once the refresh interval has passed', async () => {
    const { s, keyPrefix } = await open(7);
    const { session, m } = await fill(s);
    const redis = adminClient();
    const sessionKey = `${keyPrefix}session:${session.id}`;
    const messageKey = `${keyPrefix}message:${m.id}`;
    const threadKey = `${keyPrefix}thread:telegram:topic-1`;
    // Pretend time has passed: little time left, and the last full refresh long ago.
    await redis.expire(sessionKey, 100);
    await redis.expire(messageKey, 100);
    await redis.expire(threadKey, 100);
    await redis.hset(sessionKey, '_refreshed', '0');
    await s.updateSession(session.id, { lastActivity: new Date() });
    expect(await redis.ttl(sessionKey)).toBeGreaterThan(7 * DAY - 60);
    expect(await redis.ttl(messageKey)).toBeGreaterThan(7 * DAY - 60);
    expect(await redis.ttl(threadKey)).toBeGreaterThan(7 * DAY - 60);
  });

  it('without ttlDays nothing expires', async () => {
    const { s, keyPrefix } = await open();
    await fill(s);
    const keys = await keysUnder(keyPrefix);
    expect(keys.length).toBeGreaterThan(5);
    for (const key of keys) expect(await adminClient().ttl(key), key).toBe(-1);
  });

  it('an expired session disappears from lists and visitor lookups, and its index entries are cleaned', async () => {
    const { s, keyPrefix } = await open(7);
    const { session } = await fill(s);
    const newer = makeSession({ visitorId: session.visitorId, createdAt: new Date(Date.now() + 1000) });
    await s.createSession(newer);
    // Redis expiring the newer session is the same as deleting its hash.
    await adminClient().del(`${keyPrefix}session:${newer.id}`);
    expect((await s.getSessionByVisitorId(session.visitorId))?.id).toBe(session.id);
    expect((await s.listSessions()).map((x) => x.id)).toEqual([session.id]);
    expect(await adminClient().zscore(`${keyPrefix}sessions`, newer.id)).toBeNull();
  });
});
