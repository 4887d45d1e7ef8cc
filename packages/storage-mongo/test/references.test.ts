import { makeMessage, makeSession } from '@pocketping/conformance';
import { afterEach, describe, expect, it } from 'vitest';
import { MongoStorage } from '../src/index.js';
import { randomDatabase, targetLabel, useMongoTarget } from './mongo-target.js';

const target = useMongoTarget();
const opened: { storage: MongoStorage; database: string }[] = [];

afterEach(async () => {
  for (const { storage, database } of opened.splice(0)) {
    await storage.close();
    await target.admin().db(database).dropDatabase();
  }
});

async function open() {
  const database = randomDatabase();
  const storage = new MongoStorage({ url: target.url(), database });
  opened.push({ storage, database });
  await storage.init();
  return { storage, db: target.admin().db(database) };
}

// These hold whether or not the server enforces unique indexes (the emulator does not):
// references are upserted by key and checked against the session or message they name.
describe(`MongoStorage bridge references (${targetLabel})`, () => {
  it('a thread that moves to another session resolves to the new session', async () => {
    const { storage } = await open();
    const a = makeSession();
    const b = makeSession();
    await storage.createSession(a);
    await storage.createSession(b);
    await storage.setBridgeThread(a.id, 'telegram', 'topic-1');
    await storage.setBridgeThread(b.id, 'telegram', 'topic-1');
    expect((await storage.findSessionByBridgeThread('telegram', 'topic-1'))?.id).toBe(b.id);
    // Forgetting the thread on the old session must not break the new owner's lookup.
    await storage.setBridgeThread(a.id, 'telegram', null);
    expect((await storage.findSessionByBridgeThread('telegram', 'topic-1'))?.id).toBe(b.id);
  });

  it('a re-used platform message id resolves to the message that got it last', async () => {
    const { storage } = await open();
    const session = makeSession();
    await storage.createSession(session);
    const first = makeMessage(session.id);
    const second = makeMessage(session.id);
    await storage.saveMessage(first);
    await storage.saveMessage(second);
    await storage.saveBridgeMessageId(first.id, 'slack', '1700000000.000100');
    await storage.saveBridgeMessageId(second.id, 'slack', '1700000000.000100');
    expect((await storage.findMessageByBridgeId('slack', '1700000000.000100'))?.id).toBe(second.id);
  });

  it('a replaced platform message id no longer finds the message', async () => {
    const { storage } = await open();
    const session = makeSession();
    await storage.createSession(session);
    const m = makeMessage(session.id);
    await storage.saveMessage(m);
    await storage.saveBridgeMessageId(m.id, 'discord', 'old');
    await storage.saveBridgeMessageId(m.id, 'discord', 'new');
    expect(await storage.findMessageByBridgeId('discord', 'old')).toBeNull();
    expect((await storage.findMessageByBridgeId('discord', 'new'))?.id).toBe(m.id);
    expect((await storage.getMessage(m.id))?.bridgeMessageIds).toEqual({ discord: 'new' });
  });

  it('duplicate or stale reference documents never resolve to the wrong session or message', async () => {
    const { storage, db } = await open();
    const owner = makeSession();
    const other = makeSession();
    await storage.createSession(owner);
    await storage.createSession(other);
    await storage.setBridgeThread(owner.id, 'telegram', 'topic-9');
    const m = makeMessage(owner.id);
    await storage.saveMessage(m);
    await storage.saveBridgeMessageId(m.id, 'telegram', '42');
    // What a missing unique index or an interrupted write can leave behind: newer references
    // naming a session/message that does not (or no longer) hold that id.
    const later = new Date(Date.now() + 60_000);
    await db.collection('pocketping_bridge_threads').insertOne({
      bridge: 'telegram',
      threadId: 'topic-9',
      sessionId: other.id,
      at: later,
    });
    await db.collection('pocketping_bridge_messages').insertOne({
      bridge: 'telegram',
      platformMessageId: '42',
      messageId: 'msg_gone0000000000000000000',
      sessionId: other.id,
      at: later,
    });
    expect((await storage.findSessionByBridgeThread('telegram', 'topic-9'))?.id).toBe(owner.id);
    expect((await storage.findMessageByBridgeId('telegram', '42'))?.id).toBe(m.id);
  });

  it('threads and platform ids given with createSession, updateSession, saveMessage and updateMessage are found', async () => {
    const { storage } = await open();
    const session = makeSession({ bridgeThreads: { slack: '1700000000.1' } });
    await storage.createSession(session);
    await storage.updateSession(session.id, { bridgeThreads: { slack: '1700000000.1', discord: 'th-5' } });
    const m = makeMessage(session.id, { bridgeMessageIds: { telegram: '7' } });
    await storage.saveMessage(m);
    await storage.updateMessage(m.id, { bridgeMessageIds: { telegram: '7', discord: 'd-7' } });
    expect((await storage.findSessionByBridgeThread('slack', '1700000000.1'))?.id).toBe(session.id);
    expect((await storage.findSessionByBridgeThread('discord', 'th-5'))?.id).toBe(session.id);
    expect((await storage.findMessageByBridgeId('telegram', '7'))?.id).toBe(m.id);
    expect((await storage.findMessageByBridgeId('discord', 'd-7'))?.id).toBe(m.id);
  });

  it('deleting a session removes its bridge references', async () => {
    const { storage, db } = await open();
    const session = makeSession();
    await storage.createSession(session);
    const m = makeMessage(session.id);
    await storage.saveMessage(m);
    await storage.setBridgeThread(session.id, 'telegram', 'topic-del');
    await storage.saveBridgeMessageId(m.id, 'telegram', '1');
    expect(await storage.deleteSession(session.id)).toBe(true);
    expect(await storage.findSessionByBridgeThread('telegram', 'topic-del')).toBeNull();
    expect(await storage.findMessageByBridgeId('telegram', '1')).toBeNull();
    expect(await db.collection('pocketping_bridge_threads').countDocuments({ sessionId: session.id })).toBe(0);
    expect(await db.collection('pocketping_bridge_messages').countDocuments({ sessionId: session.id })).toBe(0);
  });

  it('a bridge name that would change the field path is rejected', async () => {
    const { storage } = await open();
    const session = makeSession();
    await storage.createSession(session);
    await expect(storage.setBridgeThread(session.id, 'tele.gram', 'x')).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringContaining('@pocketping/storage-mongo'),
    });
    await expect(storage.saveBridgeMessageId('msg_x', '$where', 'x')).rejects.toMatchObject({
      name: 'ValidationError',
    });
    expect(await storage.findSessionByBridgeThread('tele.gram', 'x')).toBeNull();
    expect((await storage.getSession(session.id))?.bridgeThreads).toBeUndefined();
  });
});
