import { makeMessage, makeSession } from '@pocketping/conformance';
import type { Message } from '@pocketping/core';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisStorage } from '../src/index.js';
import { closeAdmin, deletePrefix, randomPrefix, redisService } from './helpers.js';

describe.skipIf(redisService.skip)('RedisStorage under load', () => {
  const keyPrefix = randomPrefix();
  const storage = redisService.skip ? undefined : new RedisStorage({ url: redisService.url!, keyPrefix });

  afterAll(async () => {
    await storage?.close();
    await deletePrefix(keyPrefix);
    await closeAdmin();
  });

  it('200 concurrent writers to one session keep every message', async () => {
    const s = storage!;
    await s.init();
    const session = makeSession();
    await s.createSession(session);
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => s.saveMessage(makeMessage(session.id, { content: `writer ${i}` }))),
    );
    const history = await s.getMessages(session.id);
    expect(history).toHaveLength(200);
    expect(new Set(history.map((m) => m.content)).size).toBe(200);
  });

  it('concurrent patches of different fields of one message all persist', async () => {
    const s = storage!;
    const session = makeSession();
    await s.createSession(session);
    const m = makeMessage(session.id);
    await s.saveMessage(m);
    const t = new Date(m.timestamp.getTime() + 1000);
    await Promise.all([
      s.updateMessage(m.id, { status: 'read', readAt: t }),
      s.updateMessage(m.id, { content: 'edited', editedAt: t }),
      s.updateMessage(m.id, { metadata: { flag: true } }),
      s.saveBridgeMessageId(m.id, 'telegram', '1'),
      s.updateMessage(m.id, { updatedAt: t }),
    ]);
    const got = await s.getMessage(m.id);
    expect(got).toMatchObject({ status: 'read', content: 'edited', metadata: { flag: true } });
    expect(got!.bridgeMessageIds).toEqual({ telegram: '1' });
    expect(got!.updatedAt).toEqual(t);
  });

  it('pages back through 10,000 messages with equal timestamps in between, without losing or repeating one', async () => {
    const s = storage!;
    const session = makeSession();
    await s.createSession(session);
    const other = makeSession();
    await s.createSession(other);
    const base = Date.UTC(2026, 0, 1);
    // Pairs share a timestamp (the order is then by id); pages cut between timestamps only.
    const messages: Message[] = Array.from({ length: 10_000 }, (_, i) =>
      makeMessage(session.id, {
        content: `m${i}`,
        timestamp: new Date(base + Math.floor(i / 2) * 1000),
        updatedAt: new Date(base + Math.floor(i / 2) * 1000),
      }),
    );
    const shuffled = [...messages].sort(() => Math.random() - 0.5);
    for (let i = 0; i < shuffled.length; i += 500) {
      await Promise.all(shuffled.slice(i, i + 500).map((m) => s.saveMessage(m)));
    }
    await Promise.all(Array.from({ length: 50 }, () => s.saveMessage(makeMessage(other.id))));
    const expected = [...messages].sort(
      (a, b) => a.timestamp.getTime() - b.timestamp.getTime() || (a.id < b.id ? -1 : 1),
    );

    const all = await s.getMessages(session.id);
    expect(all.map((m) => m.id)).toEqual(expected.map((m) => m.id));

    const seen: string[] = [];
    let before: Date | undefined;
    for (;;) {
      const page = await s.getMessages(session.id, { limit: 500, ...(before ? { before } : {}) });
      if (page.length === 0) break;
      expect(page.length).toBeLessThanOrEqual(500);
      seen.unshift(...page.map((m) => m.id));
      before = page[0]!.timestamp;
    }
    expect(seen).toEqual(expected.map((m) => m.id));

    const cutoff = new Date(base + 20_000_000);
    await s.updateMessage(messages[42]!.id, { content: 'late edit', updatedAt: new Date(cutoff.getTime() + 1) });
    const delta = await s.getMessages(session.id, { after: cutoff });
    expect(delta.map((m) => m.content)).toEqual(['late edit']);
  });
});
