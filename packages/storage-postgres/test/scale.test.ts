import { makeMessage, makeSession } from '@pocketping/conformance';
import type { Message } from '@pocketping/core';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStorage } from '../src/index.js';
import { closeAdmin, dropSchema, pgService, randomSchema } from './helpers.js';

describe.skipIf(pgService.skip)('PostgresStorage under load', () => {
  const schema = randomSchema();
  const storage = pgService.skip ? undefined : new PostgresStorage({ url: pgService.url!, schema, poolSize: 10 });

  afterAll(async () => {
    await storage?.close();
    await dropSchema(schema);
    await closeAdmin();
  });

  it('200 concurrent writers to one session keep every message', async () => {
    const s = storage!;
    await s.init();
    const session = makeSession();
    await s.createSession(session);
    const writers = Array.from({ length: 200 }, (_, i) =>
      s.saveMessage(makeMessage(session.id, { content: `writer ${i}`, sender: i % 2 ? 'visitor' : 'operator' })),
    );
    await Promise.all(writers);
    const history = await s.getMessages(session.id);
    expect(history).toHaveLength(200);
    expect(new Set(history.map((m) => m.content)).size).toBe(200);
  });

  it('pages back through 10,000 bulk-inserted messages without losing or repeating one, and the delta finds late edits', async () => {
    const s = storage!;
    await s.init();
    const session = makeSession();
    await s.createSession(session);
    // Another busy session in the same tables: its rows must never leak into the pages.
    const other = makeSession();
    await s.createSession(other);
    const base = Date.UTC(2026, 0, 1);
    const messages: Message[] = Array.from({ length: 10_000 }, (_, i) =>
      makeMessage(session.id, {
        content: `m${i}`,
        timestamp: new Date(base + i * 1000),
        updatedAt: new Date(base + i * 1000),
      }),
    );
    // Bulk insert (multi-row INSERTs) keeps the setup fast; shuffled so the order must come from the query.
    const shuffled = [...messages].sort(() => Math.random() - 0.5);
    await s.saveMessages(shuffled);
    await Promise.all(Array.from({ length: 50 }, () => s.saveMessage(makeMessage(other.id))));

    const seen: string[] = [];
    let before: Date | undefined;
    for (;;) {
      const page = await s.getMessages(session.id, { limit: 500, ...(before ? { before } : {}) });
      if (page.length === 0) break;
      expect(page.length).toBeLessThanOrEqual(500);
      seen.unshift(...page.map((m) => m.id));
      before = page[0]!.timestamp;
    }
    expect(seen).toEqual(messages.map((m) => m.id));

    const newest = await s.getMessages(session.id, { limit: 3 });
    expect(newest.map((m) => m.content)).toEqual(['m9997', 'm9998', 'm9999']);

    const cutoff = new Date(base + 20_000_000);
    await s.updateMessage(messages[42]!.id, {
      content: 'late edit',
      editedAt: cutoff,
      updatedAt: new Date(cutoff.getTime() + 1),
    });
    const delta = await s.getMessages(session.id, { after: cutoff });
    expect(delta.map((m) => m.content)).toEqual(['late edit']);
  });
});
