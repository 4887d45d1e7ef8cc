import { createServer } from 'node:net';
import { makeMessage, makeSession } from '@pocketping/conformance';
import { StorageError } from '@pocketping/core';
import { MongoError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { MongoStorage } from '../src/index.js';
import { onEmulator, randomDatabase, startEmulator, targetLabel, useMongoTarget } from './mongo-target.js';

const target = useMongoTarget();

/** A 127.0.0.1 port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe(`MongoStorage errors (${targetLabel})`, () => {
  it('an unreachable server fails init with a StorageError that names the package and keeps the driver error', async () => {
    const port = await closedPort();
    const storage = new MongoStorage(`mongodb://127.0.0.1:${port}/?serverSelectionTimeoutMS=300`);
    try {
      const err = await storage.init().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StorageError);
      expect(err).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
      expect((err as Error).message).toMatch(/^@pocketping\/storage-mongo: init failed: /);
      expect((err as Error).cause).toBeInstanceOf(MongoError);
      expect(await storage.ping()).toBe(false);
    } finally {
      await storage.close();
    }
  });

  it.skipIf(!onEmulator)('a server that goes away turns reads and writes into StorageError', async () => {
    const emulator = await startEmulator();
    const storage = new MongoStorage(`${emulator.url}&serverSelectionTimeoutMS=300`);
    try {
      await storage.init();
      const session = makeSession();
      await storage.createSession(session);
      await emulator.stop();
      await expect(storage.getSession(session.id)).rejects.toMatchObject({
        name: 'StorageError',
        code: 'STORAGE_UNAVAILABLE',
        message: expect.stringContaining('@pocketping/storage-mongo: getSession failed'),
      });
      await expect(storage.saveMessage(makeMessage(session.id))).rejects.toBeInstanceOf(StorageError);
      expect(await storage.ping()).toBe(false);
    } finally {
      await storage.close();
    }
  });

  it('unknown ids are null, not errors, and nothing comes back with a MongoDB _id', async () => {
    const database = randomDatabase();
    const storage = new MongoStorage({ url: target.url(), database });
    try {
      await storage.init();
      expect(await storage.getSession('ses_nope')).toBeNull();
      expect(await storage.getMessage('msg_nope')).toBeNull();
      expect(await storage.getAttachment('att_nope')).toBeNull();
      expect(await storage.findSessionByBridgeThread('telegram', 'nope')).toBeNull();
      expect(await storage.findMessageByBridgeId('telegram', 'nope')).toBeNull();
      expect(await storage.updateSession('ses_nope', {})).toBeNull();
      await storage.setBridgeThread('ses_nope', 'telegram', 't');
      expect(await storage.findSessionByBridgeThread('telegram', 't')).toBeNull();

      const session = makeSession();
      await storage.createSession(session);
      const message = makeMessage(session.id, { operatorName: undefined, replyTo: undefined });
      await storage.saveMessage(message);
      const results = [
        await storage.getSession(session.id),
        await storage.updateSession(session.id, { aiActive: true }),
        await storage.getSessionByVisitorId(session.visitorId),
        ...(await storage.listSessions()),
        ...(await storage.getMessages(session.id)),
        await storage.getMessage(message.id),
        await storage.updateMessage(message.id, { status: 'delivered' }),
      ];
      for (const result of results) {
        expect(result).toBeTruthy();
        expect(Object.keys(result!)).not.toContain('_id');
      }
      // Optional fields given as undefined stay absent (not null) after the round trip.
      const stored = await storage.getMessage(message.id);
      expect('operatorName' in stored!).toBe(false);
      expect('replyTo' in stored!).toBe(false);
    } finally {
      await storage.close();
      await target.admin().db(database).dropDatabase();
    }
  });
});
