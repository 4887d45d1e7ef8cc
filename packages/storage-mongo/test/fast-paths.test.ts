import { setTimeout as delay } from 'node:timers/promises';
import { makeMessage, makeSession } from '@pocketping/conformance';
import { isPocketPingError, type Message, type Session, type SessionTouch } from '@pocketping/core';
import { type Collection, type CommandStartedEvent, MongoClient } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { MongoStorage } from '../src/index.js';
import { randomDatabase, targetLabel, useMongoTarget } from './mongo-target.js';

const target = useMongoTarget();
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
});

/** One storage per client on a fresh database, like server processes; `commands` lists what the first one sent. */
async function open(count = 1): Promise<{ storages: MongoStorage[]; database: string; commands: string[] }> {
  const database = randomDatabase();
  const commands: string[] = [];
  const clients = Array.from({ length: count }, (_, i) => {
    const client = new MongoClient(target.url(), { monitorCommands: i === 0 });
    if (i === 0) {
      client.on('commandStarted', (event: CommandStartedEvent) => {
        if (event.databaseName === database) commands.push(event.commandName);
      });
    }
    return client;
  });
  const storages = clients.map((client) => new MongoStorage({ client, database }));
  cleanup.push(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await target.admin().db(database).dropDatabase();
  });
  await Promise.all(storages.map((s) => s.init()));
  commands.length = 0;
  return { storages, database, commands };
}

function touch(metadata: Session['metadata'], keepKeys: string[] = ['ip', 'country', 'city']): SessionTouch {
  return { lastActivity: new Date(), metadata, keepKeys };
}

describe(`MongoStorage touchSession (${targetLabel})`, () => {
  it('a returning visitor whose kept keys are stored is touched in one findAndModify', async () => {
    const { storages, commands } = await open();
    const s = storages[0]!;
    const session = makeSession({ metadata: { url: 'https://a.example/one', ip: '203.0.113.7', country: 'FR' } });
    await s.createSession(session);
    commands.length = 0;
    const touched = await s.touchSession(session.id, session.visitorId, {
      lastActivity: new Date(session.lastActivity.getTime() + 1_000),
      metadata: { url: 'https://a.example/two', ip: '198.51.100.1', country: 'DE' },
      keepKeys: ['ip', 'country', 'city'],
    });
    expect(commands).toEqual(['findAndModify']);
    expect(touched?.metadata).toEqual({ url: 'https://a.example/two', ip: '203.0.113.7', country: 'FR' });
  });

  it('a kept key not stored yet takes the touched value, and stays from then on', async () => {
    const { storages, commands } = await open();
    const s = storages[0]!;
    const session = makeSession({ metadata: { url: 'https://a.example/one', ip: '203.0.113.7', custom: 'kept' } });
    await s.createSession(session);
    commands.length = 0;
    const first = await s.touchSession(
      session.id,
      session.visitorId,
      touch({ url: 'https://a.example/two', ip: '198.51.100.1', city: 'Lyon' }),
    );
    expect(first?.metadata).toEqual({ url: 'https://a.example/two', ip: '203.0.113.7', city: 'Lyon', custom: 'kept' });
    // The guess (every kept key stored) was wrong for `city`: one read, then the right write.
    expect(commands).toEqual(['findAndModify', 'find', 'findAndModify']);
    const second = await s.touchSession(session.id, session.visitorId, touch({ city: 'Paris', ip: '192.0.2.1' }));
    expect(second?.metadata).toEqual({ url: 'https://a.example/two', ip: '203.0.113.7', city: 'Lyon', custom: 'kept' });
    expect((await s.getSession(session.id))?.metadata).toEqual(second?.metadata);
  });

  it('a stored null counts as a stored value of a kept key', async () => {
    const { storages } = await open();
    const s = storages[0]!;
    const session = makeSession({ metadata: { ip: null as unknown as string } });
    await s.createSession(session);
    const touched = await s.touchSession(session.id, session.visitorId, touch({ ip: '198.51.100.1' }));
    expect(touched?.metadata).toEqual({ ip: null });
  });

  it('visitor-chosen keys with dots and dollars inside a value come back exactly', async () => {
    const { storages } = await open();
    const s = storages[0]!;
    const session = makeSession();
    await s.createSession(session);
    const botSignals = { 'a.b': true, $where: false, 'x.$y': true, plain: false };
    const touched = await s.touchSession(session.id, session.visitorId, touch({ botSignals, url: '$not-a-path' }));
    expect(touched?.metadata.botSignals).toEqual(botSignals);
    expect(touched?.metadata.url).toBe('$not-a-path');
    const read = await s.getSession(session.id);
    expect(read?.metadata.botSignals).toEqual(botSignals);
    expect(read?.metadata.url).toBe('$not-a-path');
    expect(read?.metadata.language).toBe(session.metadata.language);
  });

  it('a top-level metadata key that is not a field name is rejected and nothing changes', async () => {
    const { storages } = await open();
    const s = storages[0]!;
    const session = makeSession();
    await s.createSession(session);
    for (const key of ['a.b', '$set', '']) {
      const err = await s.touchSession(session.id, session.visitorId, touch({ [key]: 'x' })).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isPocketPingError(err) && err.code, key).toBe('VALIDATION_FAILED');
      expect((err as Error).message).toContain('@pocketping/storage-mongo');
    }
    const read = await s.getSession(session.id);
    expect(read?.metadata).toEqual(session.metadata);
    expect(read?.lastActivity).toEqual(session.lastActivity);
  });

  it('touches from several clients at once lose no metadata key, and keep the first stored value of a kept key', async () => {
    const { storages } = await open(3);
    const session = makeSession({ metadata: { url: 'https://a.example/' } });
    await storages[0]!.createSession(session);
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        storages[i % 3]!.touchSession(session.id, session.visitorId, touch({ [`k${i}`]: `v${i}`, ip: `ip-${i}` })),
      ),
    );
    const ips = new Set(results.map((r) => r?.metadata.ip));
    // Every touch found the session; only the first to store `ip` set it, the others kept it.
    expect(ips.size).toBe(1);
    const read = await storages[1]!.getSession(session.id);
    expect(read?.metadata.ip).toBe([...ips][0]);
    for (let i = 0; i < 30; i++) expect(read?.metadata[`k${i}`]).toBe(`v${i}`);
    expect(read?.metadata.url).toBe('https://a.example/');
  });

  it('a touch keeps the sequence and other fields, and never shows the storage counter', async () => {
    const { storages } = await open();
    const s = storages[0]!;
    const session = makeSession({ identity: { id: 'u1', name: 'Ana' }, status: 'closed' });
    await s.createSession(session);
    await s.saveMessage(makeMessage(session.id));
    await s.saveMessage(makeMessage(session.id));
    const touched = await s.touchSession(session.id, session.visitorId, touch({ url: 'https://b.example/' }));
    expect(touched).toMatchObject({ seq: 2, status: 'closed', identity: { id: 'u1', name: 'Ana' } });
    expect(touched).not.toHaveProperty('seqIssued');
    expect(touched).not.toHaveProperty('_id');
    const next = (await s.saveMessage(makeMessage(session.id))) as Message;
    expect(next.seq).toBe(3);
  });
});

describe(`MongoStorage saveMessageWithSession (${targetLabel})`, () => {
  it('costs the sequence write plus the message write: three commands, no read first', async () => {
    const { storages, commands } = await open();
    const s = storages[0]!;
    const session = makeSession();
    await s.createSession(session);
    commands.length = 0;
    const result = await s.saveMessageWithSession(makeMessage(session.id), { lastActivity: new Date() });
    expect(result?.message.seq).toBe(1);
    // findAndModify: patch + number; update: the message upsert; update: `$max` publishing the number.
    expect(commands).toEqual(['findAndModify', 'update', 'update']);
  });

  it('writes on one client, mixed with saveMessage, get numbers in call order and the session follows', async () => {
    const { storages } = await open();
    const s = storages[0]!;
    const session = makeSession();
    await s.createSession(session);
    const calls = Array.from({ length: 40 }, (_, i) => {
      const message = makeMessage(session.id, { content: `m${i}` });
      return i % 2
        ? (s.saveMessage(message) as Promise<Message>).then((m) => ({ message: m, session: undefined }))
        : s.saveMessageWithSession(message, { lastActivity: message.timestamp }).then((r) => r!);
    });
    const results = await Promise.all(calls);
    expect(results.map((r) => r.message.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    for (const r of results) if (r.session) expect(r.session.seq).toBe(r.message.seq);
    expect((await s.getSession(session.id))?.seq).toBe(40);
    expect((await s.getMessages(session.id, { afterSeq: 0 })).map((m) => m.content)).toEqual(
      results.map((r) => r.message.content),
    );
  });

  it('writers on several clients never share a number, and every patch persists', async () => {
    const { storages } = await open(3);
    const session = makeSession();
    await storages[0]!.createSession(session);
    const results = await Promise.all(
      Array.from({ length: 45 }, (_, i) => {
        const patch =
          i === 7
            ? { aiActive: true }
            : i === 20
              ? { lastOperatorActivity: new Date(1_000) }
              : { hasVisitorMessage: true };
        return storages[i % 3]!.saveMessageWithSession(makeMessage(session.id, { content: `c${i}` }), patch);
      }),
    );
    const seqs = results.map((r) => r!.message.seq!);
    expect(new Set(seqs).size).toBe(45);
    expect(Math.max(...seqs)).toBe(45);
    for (const r of results) expect(r!.session.seq).toBeGreaterThanOrEqual(r!.message.seq!);
    const read = await storages[2]!.getSession(session.id);
    expect(read).toMatchObject({ seq: 45, aiActive: true, hasVisitorMessage: true });
    expect(read?.lastOperatorActivity).toEqual(new Date(1_000));
    expect(await storages[1]!.getMessages(session.id)).toHaveLength(45);
  });

  it('the session seq never runs ahead of a readable message while a combined write is slow', async () => {
    const { storages } = await open();
    const s = storages[0]!;
    const session = makeSession();
    await s.createSession(session);
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

    const slow = s.saveMessageWithSession(makeMessage(session.id, { content: 'slow' }), { hasVisitorMessage: true });
    const fast = s.saveMessageWithSession(makeMessage(session.id, { content: 'fast' }), { aiActive: true });
    await delay(100);
    const seq = (await s.getSession(session.id))!.seq!;
    const seen = new Set((await s.getMessages(session.id, { afterSeq: 0 })).map((m) => m.seq));
    for (let n = 1; n <= seq; n++) expect(seen.has(n), `seq ${n} of ${seq}`).toBe(true);
    release();
    const [a, b] = await Promise.all([slow, fast]);
    expect([a!.message.seq, b!.message.seq]).toEqual([1, 2]);
    expect(b!.session).toMatchObject({ seq: 2, hasVisitorMessage: true, aiActive: true });
  });

  it('a patch is applied like updateSession: undefined, fixed keys and seq are left alone', async () => {
    const { storages, database } = await open();
    const s = storages[0]!;
    const closedAt = new Date(Date.now() - 60_000);
    const session = makeSession({ status: 'closed', closedAt });
    await s.createSession(session);
    const result = await s.saveMessageWithSession({ ...makeMessage(session.id), seq: 900 }, {
      status: 'open',
      closedAt: undefined,
      id: 'ses_other',
      visitorId: 'v-other',
      createdAt: new Date(0),
      seq: 77,
      seqIssued: 50,
    } as never);
    expect(result?.message.seq).toBe(1);
    expect(result?.session).toMatchObject({ id: session.id, visitorId: session.visitorId, status: 'open', seq: 1 });
    expect(result?.session.closedAt).toEqual(closedAt);
    expect(result?.session.createdAt).toEqual(session.createdAt);
    expect(result?.session).not.toHaveProperty('seqIssued');
    expect(await s.getSession(session.id)).toEqual(result?.session);
    const raw = await target.admin().db(database).collection('pocketping_sessions').findOne({ id: session.id });
    expect(raw).toMatchObject({ seq: 1, seqIssued: 1 });
  });

  it('an invalid patch key or bridge name is rejected before anything is stored or numbered', async () => {
    const { storages } = await open();
    const s = storages[0]!;
    const session = makeSession();
    await s.createSession(session);
    const attempts: [Message, object][] = [
      [makeMessage(session.id), { 'metadata.url': 'x' }],
      [makeMessage(session.id), { $inc: 1 }],
      [makeMessage(session.id, { bridgeMessageIds: { 'tele.gram': '1' } }), { lastActivity: new Date() }],
      [makeMessage(session.id), { bridgeThreads: { $slack: 't' } }],
    ];
    for (const [message, patch] of attempts) {
      const err = await s.saveMessageWithSession(message, patch as never).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isPocketPingError(err) && err.code, JSON.stringify(patch)).toBe('VALIDATION_FAILED');
    }
    expect(await s.getMessages(session.id)).toEqual([]);
    expect((await s.saveMessage(makeMessage(session.id)))?.seq).toBe(1);
    expect((await s.getSession(session.id))?.metadata).toEqual(session.metadata);
  });

  it('an unknown session gets no message, no session document and no counter', async () => {
    const { storages, database } = await open();
    const s = storages[0]!;
    const message = makeMessage('ses_unknown000000000000000', { bridgeMessageIds: { telegram: 't-9' } });
    expect(await s.saveMessageWithSession(message, { lastActivity: new Date(), bridgeThreads: { slack: 's-9' } })).toBe(
      null,
    );
    const db = target.admin().db(database);
    expect(await db.collection('pocketping_sessions').countDocuments()).toBe(0);
    expect(await db.collection('pocketping_messages').countDocuments()).toBe(0);
    expect(await s.findMessageByBridgeId('telegram', 't-9')).toBeNull();
    expect(await s.findSessionByBridgeThread('slack', 's-9')).toBeNull();
  });

  it('bridge ids of the message and threads of the patch are found by the reverse lookups', async () => {
    const { storages } = await open(2);
    const [a, b] = storages;
    const session = makeSession();
    await a!.createSession(session);
    const message = makeMessage(session.id, { sender: 'operator', bridgeMessageIds: { telegram: 'tg-42' } });
    const result = await a!.saveMessageWithSession(message, {
      lastOperatorActivity: message.timestamp,
      bridgeThreads: { telegram: 'topic-7' },
    });
    expect(result?.session.bridgeThreads).toEqual({ telegram: 'topic-7' });
    expect((await b!.findMessageByBridgeId('telegram', 'tg-42'))?.id).toBe(message.id);
    expect((await b!.findSessionByBridgeThread('telegram', 'topic-7'))?.id).toBe(session.id);
  });

  it('saving the same message id again replaces it with a new number instead of adding one', async () => {
    const { storages } = await open();
    const s = storages[0]!;
    const session = makeSession();
    await s.createSession(session);
    const message = makeMessage(session.id, { content: 'first' });
    await s.saveMessageWithSession(message, {});
    const again = await s.saveMessageWithSession({ ...message, content: 'second' }, { hasVisitorMessage: true });
    expect(again?.message.seq).toBe(2);
    const history = await s.getMessages(session.id);
    expect(history.map((m) => [m.content, m.seq])).toEqual([['second', 2]]);
    expect(again?.session.hasVisitorMessage).toBe(true);
  });

  it('fails with a StorageError after close()', async () => {
    const database = randomDatabase();
    const s = new MongoStorage({ url: target.url(), database });
    await s.init();
    await s.close();
    for (const call of [
      () => s.saveMessageWithSession(makeMessage('ses_x'), {}),
      () => s.touchSession('ses_x', 'v', touch({})),
    ]) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isPocketPingError(err) && err.code).toBe('STORAGE_UNAVAILABLE');
    }
    await target.admin().db(database).dropDatabase();
  });
});
