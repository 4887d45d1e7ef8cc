import { makeSession } from '@pocketping/conformance';
import type { Message } from '@pocketping/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoStorage } from '../src/index.js';
import { randomDatabase, targetLabel, useMongoTarget } from './mongo-target.js';

const target = useMongoTarget();
const TOTAL = 10_000;
const database = randomDatabase();
const session = makeSession();
const base = Date.UTC(2026, 0, 1);
let storage: MongoStorage;
let ids: string[];

beforeAll(async () => {
  storage = new MongoStorage({ url: target.url(), database });
  await storage.init();
  await storage.createSession(session);
  // Written straight into the collection in bulk: this test is about reading them back.
  const messages: Message[] = Array.from({ length: TOTAL }, (_, i) => {
    const timestamp = new Date(base + i * 1000);
    return {
      id: `msg_${String(i).padStart(6, '0')}`,
      sessionId: session.id,
      content: `m${i}`,
      sender: i % 2 === 0 ? 'visitor' : 'operator',
      timestamp,
      updatedAt: timestamp,
      status: 'sent',
    };
  });
  ids = messages.map((m) => m.id);
  // Shuffled, so the order comes from the query and not from insertion.
  const shuffled = [...messages].sort(() => Math.random() - 0.5);
  await target.admin().db(database).collection('pocketping_messages').insertMany(shuffled);
});

afterAll(async () => {
  await storage?.close();
  await target.admin().db(database).dropDatabase();
});

describe(`MongoStorage pagination over ${TOTAL} messages (${targetLabel})`, () => {
  it('paging back with before and limit returns every message once, in order', async () => {
    const seen: string[] = [];
    let before: Date | undefined;
    for (;;) {
      const page = await storage.getMessages(session.id, { limit: 1000, ...(before ? { before } : {}) });
      if (page.length === 0) break;
      expect(page.length).toBeLessThanOrEqual(1000);
      seen.unshift(...page.map((m) => m.id));
      before = page[0]!.timestamp;
    }
    expect(seen).toEqual(ids);
  });

  it('the whole history comes back in one call, ascending', async () => {
    const all = await storage.getMessages(session.id);
    expect(all.map((m) => m.id)).toEqual(ids);
  });

  it('limit alone returns the newest messages, ascending', async () => {
    const page = await storage.getMessages(session.id, { limit: 3 });
    expect(page.map((m) => m.id)).toEqual(ids.slice(-3));
    expect(page[0]!.timestamp).toBeInstanceOf(Date);
  });

  it('the after delta returns old messages changed after the cursor, oldest first', async () => {
    const cursor = new Date(base + TOTAL * 1000);
    const changed = new Date(cursor.getTime() + 1);
    await storage.updateMessage(ids[10]!, { status: 'read', readAt: changed, updatedAt: changed });
    await storage.updateMessage(ids[5]!, { content: 'edited', editedAt: changed, updatedAt: changed });
    const delta = await storage.getMessages(session.id, { after: cursor });
    expect(delta.map((m) => [m.id, m.status, m.content])).toEqual([
      [ids[5], 'sent', 'edited'],
      [ids[10], 'read', 'm10'],
    ]);
  });

  it('messages sharing a timestamp come back ordered by id, and limit keeps the newest by id', async () => {
    const tieSession = makeSession();
    await storage.createSession(tieSession);
    const same = new Date(base);
    for (const id of ['msg_c', 'msg_a', 'msg_b']) {
      await storage.saveMessage({
        id,
        sessionId: tieSession.id,
        content: id,
        sender: 'visitor',
        timestamp: same,
        updatedAt: same,
        status: 'sent',
      });
    }
    expect((await storage.getMessages(tieSession.id)).map((m) => m.id)).toEqual(['msg_a', 'msg_b', 'msg_c']);
    expect((await storage.getMessages(tieSession.id, { limit: 2 })).map((m) => m.id)).toEqual(['msg_b', 'msg_c']);
    expect(await storage.getMessages(tieSession.id, { limit: 0 })).toEqual([]);
  });
});
