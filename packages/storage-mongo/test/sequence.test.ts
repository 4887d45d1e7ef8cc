import { setTimeout as delay } from 'node:timers/promises';
import { makeMessage, makeSession } from '@pocketping/conformance';
import type { Message } from '@pocketping/core';
import type { Collection } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { MongoStorage } from '../src/index.js';
import { randomDatabase, targetLabel, useMongoTarget } from './mongo-target.js';

const target = useMongoTarget();
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
});

/** `count` storages with their own clients on one fresh database, like server processes. */
async function open(count = 1): Promise<{ storages: MongoStorage[]; database: string }> {
  const database = randomDatabase();
  const storages = Array.from({ length: count }, () => new MongoStorage({ url: target.url(), database }));
  cleanup.push(async () => {
    await Promise.all(storages.map((s) => s.close()));
    await target.admin().db(database).dropDatabase();
  });
  await Promise.all(storages.map((s) => s.init()));
  return { storages, database };
}

describe(`MongoStorage sequence numbers (${targetLabel})`, () => {
  it('data stored before sequence numbers keeps working: seq 0, unnumbered messages left out of afterSeq', async () => {
    const { storages, database } = await open();
    const s = storages[0]!;
    const db = target.admin().db(database);
    const session = makeSession();
    const old = makeMessage(session.id, { content: 'from before the upgrade' });
    // What an earlier version wrote: the models as they are, no counters, no seq.
    await db.collection('pocketping_sessions').insertOne({ ...session });
    await db.collection('pocketping_messages').insertOne({ ...old });

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
    expect((await s.getSession(session.id))?.seq).toBe(2);
  });

  it('saving a session again replaces its fields but keeps its sequence', async () => {
    const { storages } = await open();
    const s = storages[0]!;
    const session = makeSession({ identity: { id: 'u1', name: 'Ana' } });
    await s.createSession(session);
    const first = (await s.saveMessage(makeMessage(session.id))) as Message;
    const { identity: _dropped, ...withoutIdentity } = session;
    await s.createSession({ ...withoutIdentity, status: 'closed', seq: 0 });
    const got = await s.getSession(session.id);
    expect(got?.status).toBe('closed');
    expect(got?.identity).toBeUndefined();
    expect(got?.seq).toBe(first.seq);
    const second = (await s.saveMessage(makeMessage(session.id))) as Message;
    expect(second.seq).toBe(first.seq! + 1);
  });

  it('reads never show the storage counter, and a caller-given seq is never stored', async () => {
    const { storages, database } = await open();
    const s = storages[0]!;
    const session = makeSession();
    await s.createSession({ ...session, seq: 40 });
    const saved = (await s.saveMessage({ ...makeMessage(session.id), seq: 500 })) as Message;
    expect(saved.seq).toBe(1);
    expect((await s.getMessage(saved.id))?.seq).toBe(1);
    await s.updateSession(session.id, { seq: 77, seqIssued: 0 } as never);
    for (const got of [
      await s.getSession(session.id),
      (await s.listSessions())[0],
      await s.getSessionByVisitorId(session.visitorId),
      await s.updateSession(session.id, { status: 'closed' }),
    ]) {
      expect(got?.seq).toBe(1);
      expect(got).not.toHaveProperty('seqIssued');
    }
    const raw = await target.admin().db(database).collection('pocketping_sessions').findOne({ id: session.id });
    expect(raw).toMatchObject({ seq: 1, seqIssued: 1 });
  });

  it('a message of an unknown session is stored without a number and creates no session', async () => {
    const { storages } = await open();
    const s = storages[0]!;
    const session = makeSession();
    const orphan = await s.saveMessage(makeMessage(session.id));
    expect(orphan?.seq).toBeUndefined();
    expect(await s.getSession(session.id)).toBeNull();
    expect(await s.listSessions()).toEqual([]);
    expect((await s.getMessages(session.id)).map((m) => m.id)).toEqual([orphan!.id]);
  });

  it('within one process the session seq never runs ahead of a readable message, even when a write is slow', async () => {
    const { storages } = await open();
    const s = storages[0]!;
    const session = makeSession();
    await s.createSession(session);
    // Hold back the write of one message, as a slow network or a busy server would.
    const messages = (s as unknown as { messages: Collection<Message> }).messages;
    const replaceOne = messages.replaceOne.bind(messages);
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    messages.replaceOne = (async (...args: Parameters<typeof replaceOne>) => {
      if ((args[1] as Message).content === 'slow') await held;
      return replaceOne(...args);
    }) as typeof messages.replaceOne;

    const slow = s.saveMessage(makeMessage(session.id, { content: 'slow' }));
    const fast = s.saveMessage(makeMessage(session.id, { content: 'fast' }));
    await delay(100);
    // Read the session first: every number up to its seq must already be readable.
    const seq = (await s.getSession(session.id))!.seq!;
    const seen = new Set((await s.getMessages(session.id, { afterSeq: 0 })).map((m) => m.seq));
    for (let n = 1; n <= seq; n++) expect(seen.has(n), `seq ${n} of ${seq}`).toBe(true);
    release();
    const [a, b] = (await Promise.all([slow, fast])) as Message[];
    // Writes of one process commit in the order they took their numbers.
    expect([a!.seq, b!.seq]).toEqual([1, 2]);
    expect((await s.getSession(session.id))?.seq).toBe(2);
  });

  it('writers on several clients never share a number, and the session ends on the highest', async () => {
    const { storages } = await open(3);
    const session = makeSession();
    await storages[0]!.createSession(session);
    const saved = (await Promise.all(
      Array.from({ length: 60 }, (_, i) => storages[i % 3]!.saveMessage(makeMessage(session.id, { content: `c${i}` }))),
    )) as Message[];
    const seqs = saved.map((m) => m.seq!);
    expect(new Set(seqs).size).toBe(60);
    expect(Math.max(...seqs)).toBe(60);
    for (const storage of storages) expect((await storage.getSession(session.id))?.seq).toBe(60);
    const after = await storages[1]!.getMessages(session.id, { afterSeq: 30 });
    expect(after.map((m) => m.seq).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 30 }, (_, i) => i + 31));
  });
});
