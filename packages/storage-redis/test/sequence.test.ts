import { makeMessage, makeSession } from '@pocketping/conformance';
import type { Message } from '@pocketping/core';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RedisStorage } from '../src/index.js';
import { adminClient, closeAdmin, deletePrefix, keysUnder, randomPrefix, redisService } from './helpers.js';

describe.skipIf(redisService.skip)('RedisStorage sequence numbers', () => {
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
    for (const s of opened.splice(0)) await s.close();
    for (const p of prefixes.splice(0)) await deletePrefix(p);
  });
  afterAll(closeAdmin);

  it('data stored before sequence numbers keeps working: seq 0, unnumbered messages left out of afterSeq', async () => {
    const { s, keyPrefix } = await open();
    const session = makeSession();
    await s.createSession(session);
    const old = makeMessage(session.id, { content: 'from before the upgrade' });
    await s.saveMessage(old);
    // What an earlier version left: no counter in the session hash, no seq on the message,
    // no entry in the seq index.
    const redis = adminClient();
    await redis.hdel(`${keyPrefix}session:${session.id}`, '_seq');
    await redis.hdel(`${keyPrefix}message:${old.id}`, 'seq');
    await redis.del(`${keyPrefix}seqs:${session.id}`);

    expect((await s.getSession(session.id))?.seq).toBe(0);
    const [legacy] = await s.getMessages(session.id);
    expect(legacy?.content).toBe('from before the upgrade');
    expect(legacy?.seq).toBeUndefined();
    expect(await s.getMessages(session.id, { afterSeq: 0 })).toEqual([]);

    const next = (await s.saveMessage(makeMessage(session.id, { content: 'after' }))) as Message;
    expect(next.seq).toBe(1);
    const edited = await s.updateMessage(old.id, { content: 'edited later', updatedAt: new Date() });
    expect(edited?.seq).toBe(2);
    expect((await s.getMessages(session.id, { afterSeq: 0 })).map((m) => m.id)).toEqual([old.id, next.id]);
    expect((await s.getMessages(session.id, { afterSeq: 1 })).map((m) => m.id)).toEqual([old.id]);
  });

  it('saving a session again keeps its sequence, so numbers already handed out stay below new ones', async () => {
    const { s } = await open();
    const session = makeSession();
    await s.createSession(session);
    const first = (await s.saveMessage(makeMessage(session.id))) as Message;
    await s.createSession({ ...session, status: 'closed', seq: 0 });
    const got = await s.getSession(session.id);
    expect(got?.status).toBe('closed');
    expect(got?.seq).toBe(first.seq);
    const second = (await s.saveMessage(makeMessage(session.id))) as Message;
    expect(second.seq).toBeGreaterThan(first.seq!);
  });

  it('messages of an unknown session are numbered without making the session appear', async () => {
    const { s } = await open();
    const session = makeSession();
    const orphan = (await s.saveMessage(makeMessage(session.id))) as Message;
    expect(orphan.seq).toBe(1);
    expect(await s.getSession(session.id)).toBeNull();
    expect(await s.updateSession(session.id, { status: 'closed' })).toBeNull();
    await s.setBridgeThread(session.id, 'telegram', 'topic-orphan');
    expect(await s.findSessionByBridgeThread('telegram', 'topic-orphan')).toBeNull();
    // Creating the session later continues the count.
    await s.createSession(session);
    expect((await s.getSession(session.id))?.seq).toBe(1);
    expect(((await s.saveMessage(makeMessage(session.id))) as Message).seq).toBe(2);
  });

  it('deleteSession removes the counter and the seq index, and a caller-given seq is never stored', async () => {
    const { s, keyPrefix } = await open();
    const session = makeSession();
    await s.createSession(session);
    const saved = (await s.saveMessage({ ...makeMessage(session.id), seq: 500 })) as Message;
    expect(saved.seq).toBe(1);
    expect((await s.getMessage(saved.id))?.seq).toBe(1);
    expect(await adminClient().zscore(`${keyPrefix}seqs:${session.id}`, saved.id)).toBe('1');
    expect(await s.deleteSession(session.id)).toBe(true);
    expect(await keysUnder(`${keyPrefix}seqs:`)).toEqual([]);
    expect(await keysUnder(`${keyPrefix}session:`)).toEqual([]);
  });

  it('a message moved to another session leaves the first session seq index', async () => {
    const { s, keyPrefix } = await open();
    const a = makeSession();
    const b = makeSession();
    await s.createSession(a);
    await s.createSession(b);
    const m = makeMessage(a.id);
    await s.saveMessage(m);
    const moved = (await s.saveMessage({ ...m, sessionId: b.id })) as Message;
    expect(moved.seq).toBe(1);
    expect(await s.getMessages(a.id, { afterSeq: 0 })).toEqual([]);
    expect((await s.getMessages(b.id, { afterSeq: 0 })).map((x) => x.id)).toEqual([m.id]);
    expect(await adminClient().zcard(`${keyPrefix}seqs:${a.id}`)).toBe(0);
  });
});
