import { makeMessage, makeSession } from '@pocketping/conformance';
import { type Attachment, generateId } from '@pocketping/core';
import { MongoClient } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { MongoStorage } from '../src/index.js';
import { randomDatabase, targetLabel, useMongoTarget } from './mongo-target.js';

const target = useMongoTarget();

describe(`MongoStorage persistence (${targetLabel})`, () => {
  it('a new instance on the same database sees sessions, history, edits, bridge references and attachments', async () => {
    const database = randomDatabase();
    const first = new MongoStorage({ url: target.url(), database });
    await first.init();
    const session = makeSession({ identity: { id: 'u-1', name: 'Ana' } });
    await first.createSession(session);
    const hello = makeMessage(session.id, { content: 'hello' });
    const reply = makeMessage(session.id, { content: 'hi, how can I help?', sender: 'operator', operatorName: 'Bo' });
    await first.saveMessage(hello);
    await first.saveMessage(reply);
    const editedAt = new Date(hello.timestamp.getTime() + 1000);
    await first.updateMessage(hello.id, { content: 'hello again', editedAt, updatedAt: editedAt });
    await first.setBridgeThread(session.id, 'telegram', 'topic-77');
    await first.saveBridgeMessageId(reply.id, 'telegram', '9001');
    const attachmentId = generateId('att');
    const attachment: Attachment = {
      id: attachmentId,
      sessionId: session.id,
      filename: 'a.png',
      mimeType: 'image/png',
      size: 10,
      url: 'https://files.example/a.png',
      status: 'ready',
      storageKey: `${session.id}/${attachmentId}`,
      createdAt: new Date(),
    };
    await first.saveAttachment(attachment);
    await first.close();

    const second = new MongoStorage({ url: target.url(), database });
    try {
      await second.init();
      const got = await second.getSession(session.id);
      expect(got?.identity).toEqual({ id: 'u-1', name: 'Ana' });
      expect(got?.bridgeThreads).toEqual({ telegram: 'topic-77' });
      expect((await second.getSessionByVisitorId(session.visitorId))?.id).toBe(session.id);
      const history = await second.getMessages(session.id);
      expect(history.map((m) => [m.id, m.content])).toEqual([
        [hello.id, 'hello again'],
        [reply.id, 'hi, how can I help?'],
      ]);
      expect(history[0]!.editedAt).toEqual(editedAt);
      expect((await second.findSessionByBridgeThread('telegram', 'topic-77'))?.id).toBe(session.id);
      expect((await second.findMessageByBridgeId('telegram', '9001'))?.id).toBe(reply.id);
      expect(await second.getAttachment(attachmentId)).toEqual(attachment);
    } finally {
      await second.close();
      await target.admin().db(database).dropDatabase();
    }
  });

  it('close() leaves a client you passed in open, and closing twice is safe', async () => {
    const client = new MongoClient(target.url());
    const database = randomDatabase();
    const storage = new MongoStorage({ client, database });
    try {
      await storage.init();
      await storage.createSession(makeSession({ id: 'ses_shared_client' }));
      await storage.close();
      await storage.close();
      // The client still works for its owner.
      const doc = await client.db(database).collection('pocketping_sessions').findOne({ id: 'ses_shared_client' });
      expect(doc?.visitorId).toBeTruthy();
      await expect(storage.getSession('ses_shared_client')).rejects.toMatchObject({
        name: 'StorageError',
        message: expect.stringContaining('after close()'),
      });
    } finally {
      await client.db(database).dropDatabase();
      await client.close();
    }
  });

  it('a storage built from a URL closes its own client', async () => {
    const storage = new MongoStorage(target.url());
    await storage.init();
    expect(await storage.ping()).toBe(true);
    await Promise.all([storage.close(), storage.close()]);
    expect(await storage.ping()).toBe(false);
  });
});
