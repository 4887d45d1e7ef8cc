import { describe, expect, it } from 'vitest';
import { makeMessage, makeSession } from '../fixtures.js';
import { has, useStorage } from './harness.js';
import type { StorageConformanceOptions } from './types.js';

export function concurrencyTests(options: StorageConformanceOptions): void {
  describe('concurrency', () => {
    const open = useStorage(options);

    it('200 parallel saveMessage calls on one session keep every message, in a stable order', async () => {
      const s = await open();
      const session = makeSession();
      await s.createSession(session);
      const same = new Date();
      // Half share one timestamp: the order must still be stable (timestamp, then id).
      const msgs = Array.from({ length: 200 }, (_, i) =>
        makeMessage(session.id, {
          content: `parallel ${i}`,
          ...(i % 2 === 0 ? { timestamp: same, updatedAt: same } : {}),
        }),
      );
      await Promise.all(msgs.map((m) => s.saveMessage(m)));
      const first = await s.getMessages(session.id);
      const second = await s.getMessages(session.id);
      expect(first).toHaveLength(200);
      expect(new Set(first.map((m) => m.id)).size).toBe(200);
      expect(first.map((m) => m.id)).toEqual(second.map((m) => m.id));
      for (let i = 1; i < first.length; i++) {
        expect(first[i - 1]!.timestamp.getTime()).toBeLessThanOrEqual(first[i]!.timestamp.getTime());
      }
    });

    it('parallel updates of different session fields all persist', async (ctx) => {
      const s = await open();
      if (!has(s, 'updateSession')) return ctx.skip();
      const session = makeSession();
      await s.createSession(session);
      const later = new Date(Date.now() + 10_000);
      await Promise.all([
        s.updateSession(session.id, { identity: { id: 'u-1', name: 'Ana' } }),
        s.updateSession(session.id, { csat: { pending: true } }),
        s.updateSession(session.id, { lastActivity: later }),
        s.updateSession(session.id, { hasVisitorMessage: true }),
        s.updateSession(session.id, { preChat: { phone: '+33612345678', submittedAt: later } }),
      ]);
      const got = await s.getSession(session.id);
      expect(got!.identity?.name).toBe('Ana');
      expect(got!.csat?.pending).toBe(true);
      expect(got!.lastActivity.getTime()).toBe(later.getTime());
      expect(got!.hasVisitorMessage).toBe(true);
      expect(got!.preChat?.phone).toBe('+33612345678');
    });

    it('parallel bridge ids for one message on several bridges all persist', async (ctx) => {
      const s = await open();
      if (!has(s, 'saveBridgeMessageId') || !has(s, 'findMessageByBridgeId')) return ctx.skip();
      const session = makeSession();
      await s.createSession(session);
      const m = makeMessage(session.id);
      await s.saveMessage(m);
      await Promise.all(
        ['telegram', 'discord', 'slack', 'custom'].map((b) => s.saveBridgeMessageId(m.id, b, `${b}-${m.id}`)),
      );
      for (const b of ['telegram', 'discord', 'slack', 'custom']) {
        expect((await s.findMessageByBridgeId(b, `${b}-${m.id}`))?.id).toBe(m.id);
      }
    });

    it('parallel threads on several bridges for one session all persist', async (ctx) => {
      const s = await open();
      if (!has(s, 'setBridgeThread')) return ctx.skip();
      const session = makeSession();
      await s.createSession(session);
      await Promise.all(['telegram', 'discord', 'slack'].map((b) => s.setBridgeThread(session.id, b, `${b}-thread`)));
      const got = await s.getSession(session.id);
      expect(got!.bridgeThreads).toEqual({
        telegram: 'telegram-thread',
        discord: 'discord-thread',
        slack: 'slack-thread',
      });
    });
  });
}
