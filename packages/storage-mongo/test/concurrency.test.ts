import { makeMessage, makeSession } from '@pocketping/conformance';
import { afterEach, describe, expect, it } from 'vitest';
import { MongoStorage } from '../src/index.js';
import { randomDatabase, targetLabel, useMongoTarget } from './mongo-target.js';

const target = useMongoTarget();
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
});

/** Several storages with their own clients on one database, like several server processes. */
async function processes(count: number): Promise<MongoStorage[]> {
  const database = randomDatabase();
  const storages = Array.from({ length: count }, () => new MongoStorage({ url: target.url(), database }));
  cleanup.push(async () => {
    await Promise.all(storages.map((s) => s.close()));
    await target.admin().db(database).dropDatabase();
  });
  await Promise.all(storages.map((s) => s.init()));
  return storages;
}

describe(`MongoStorage concurrent writers (${targetLabel})`, () => {
  it('200 writers on 4 clients saving to one session keep every message', async () => {
    const storages = await processes(4);
    const session = makeSession();
    await storages[0]!.createSession(session);
    const messages = Array.from({ length: 200 }, (_, i) => makeMessage(session.id, { content: `writer ${i}` }));
    await Promise.all(messages.map((m, i) => storages[i % 4]!.saveMessage(m)));
    for (const storage of storages) {
      const history = await storage.getMessages(session.id);
      expect(history.map((m) => m.id)).toEqual(messages.map((m) => m.id));
    }
  });

  it('patches, thread ids and platform ids written at once from several clients all persist', async () => {
    const [a, b, c, d] = await processes(4);
    const session = makeSession();
    await a!.createSession(session);
    const m = makeMessage(session.id);
    await a!.saveMessage(m);
    const later = new Date(session.lastActivity.getTime() + 10_000);
    const readAt = new Date(m.timestamp.getTime() + 500);
    await Promise.all([
      a!.updateSession(session.id, { identity: { id: 'u-9', name: 'Ana' } }),
      b!.updateSession(session.id, { lastActivity: later }),
      c!.updateSession(session.id, { aiActive: true }),
      d!.updateSession(session.id, { csat: { pending: true } }),
      a!.setBridgeThread(session.id, 'telegram', 'tg-1'),
      b!.setBridgeThread(session.id, 'discord', 'dc-1'),
      c!.setBridgeThread(session.id, 'slack', 'sl-1'),
      a!.saveBridgeMessageId(m.id, 'telegram', 't-1'),
      b!.saveBridgeMessageId(m.id, 'discord', 'd-1'),
      c!.saveBridgeMessageId(m.id, 'slack', 's-1'),
      d!.updateMessage(m.id, { status: 'read', readAt, updatedAt: readAt }),
    ]);
    const got = await d!.getSession(session.id);
    expect(got).toMatchObject({
      identity: { id: 'u-9', name: 'Ana' },
      aiActive: true,
      csat: { pending: true },
      bridgeThreads: { telegram: 'tg-1', discord: 'dc-1', slack: 'sl-1' },
    });
    expect(got!.lastActivity).toEqual(later);
    const stored = await a!.getMessage(m.id);
    expect(stored).toMatchObject({
      status: 'read',
      bridgeMessageIds: { telegram: 't-1', discord: 'd-1', slack: 's-1' },
    });
    for (const [bridge, pid] of [
      ['telegram', 't-1'],
      ['discord', 'd-1'],
      ['slack', 's-1'],
    ] as const) {
      expect((await b!.findMessageByBridgeId(bridge, pid))?.id).toBe(m.id);
    }
    expect((await c!.findSessionByBridgeThread('discord', 'dc-1'))?.id).toBe(session.id);
  });
});
