import { describe, expect, it } from 'vitest';
import { COLLECTIONS, MongoStorage } from '../src/index.js';
import { randomDatabase, targetLabel, useMongoTarget } from './mongo-target.js';

const target = useMongoTarget();

async function indexSummary(database: string, prefix: string) {
  const db = target.admin().db(database);
  const out: Record<string, { name: string; key: Record<string, unknown>; unique: boolean }[]> = {};
  for (const name of Object.values(COLLECTIONS)) {
    const indexes = await db.collection(`${prefix}${name}`).indexes();
    out[name] = indexes
      .filter((i) => i.name !== '_id_')
      .map((i) => ({ name: i.name!, key: { ...i.key }, unique: i.unique === true }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }
  return out;
}

describe(`MongoStorage indexes (${targetLabel})`, () => {
  it('init creates the indexes history, delta, visitor, listing, reverse lookups, the outbox and leases need', async () => {
    const database = randomDatabase();
    const storage = new MongoStorage({ url: target.url(), database, collectionPrefix: 'pp_' });
    try {
      await storage.init();
      const summary = await indexSummary(database, 'pp_');
      expect(summary.sessions).toEqual([
        { name: 'pp_activity', key: { lastActivity: -1, id: 1 }, unique: false },
        { name: 'pp_id', key: { id: 1 }, unique: true },
        { name: 'pp_status_activity', key: { status: 1, lastActivity: -1, id: 1 }, unique: false },
        { name: 'pp_visitor_activity', key: { visitorId: 1, lastActivity: -1 }, unique: false },
      ]);
      expect(summary.messages).toEqual([
        { name: 'pp_id', key: { id: 1 }, unique: true },
        { name: 'pp_session_history', key: { sessionId: 1, timestamp: 1, id: 1 }, unique: false },
        { name: 'pp_session_seq', key: { sessionId: 1, seq: 1 }, unique: false },
        { name: 'pp_session_updated', key: { sessionId: 1, updatedAt: 1 }, unique: false },
      ]);
      expect(summary.bridge_threads).toEqual([
        { name: 'pp_bridge_thread', key: { bridge: 1, threadId: 1 }, unique: true },
        { name: 'pp_session', key: { sessionId: 1 }, unique: false },
      ]);
      expect(summary.bridge_messages).toEqual([
        { name: 'pp_bridge_message', key: { bridge: 1, platformMessageId: 1 }, unique: true },
        { name: 'pp_message', key: { messageId: 1 }, unique: false },
        { name: 'pp_session', key: { sessionId: 1 }, unique: false },
      ]);
      expect(summary.attachments).toEqual([
        { name: 'pp_id', key: { id: 1 }, unique: true },
        { name: 'pp_session', key: { sessionId: 1 }, unique: false },
      ]);
      expect(summary.outbox).toEqual([
        { name: 'pp_id', key: { id: 1 }, unique: true },
        { name: 'pp_lane', key: { status: 1, bridge: 1, sessionId: 1, seq: 1 }, unique: false },
        { name: 'pp_session', key: { sessionId: 1 }, unique: false },
        { name: 'pp_status_created', key: { status: 1, createdAt: 1, seq: 1 }, unique: false },
      ]);
      expect(summary.leases).toEqual([{ name: 'pp_name', key: { name: 1 }, unique: true }]);
    } finally {
      await storage.close();
      await target.admin().db(database).dropDatabase();
    }
  });

  it('init twice, and from a second instance at the same time, leaves the same indexes', async () => {
    const database = randomDatabase();
    const a = new MongoStorage({ url: target.url(), database });
    const b = new MongoStorage({ url: target.url(), database });
    try {
      await a.init();
      const first = await indexSummary(database, 'pocketping_');
      await a.init();
      await Promise.all([a.init(), b.init()]);
      expect(await indexSummary(database, 'pocketping_')).toEqual(first);
      expect(first.messages).toHaveLength(4);
    } finally {
      await a.close();
      await b.close();
      await target.admin().db(database).dropDatabase();
    }
  });

  it('two prefixes in one database keep separate collections', async () => {
    const database = randomDatabase();
    const a = new MongoStorage({ url: target.url(), database, collectionPrefix: 'a_' });
    const b = new MongoStorage({ url: target.url(), database, collectionPrefix: 'b_' });
    try {
      await a.init();
      await b.init();
      const now = new Date();
      await a.createSession({
        id: 'ses_a',
        visitorId: 'v',
        createdAt: now,
        lastActivity: now,
        status: 'open',
        metadata: {},
      });
      expect(await a.getSession('ses_a')).toBeTruthy();
      expect(await b.getSession('ses_a')).toBeNull();
      const names = (await target.admin().db(database).listCollections().toArray()).map((c) => c.name).sort();
      expect(names).toEqual(
        Object.values(COLLECTIONS)
          .flatMap((n) => [`a_${n}`, `b_${n}`])
          .sort(),
      );
    } finally {
      await a.close();
      await b.close();
      await target.admin().db(database).dropDatabase();
    }
  });
});
