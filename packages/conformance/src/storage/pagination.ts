import { describe, expect, it } from 'vitest';
import { makeMessage, makeSession } from '../fixtures.js';
import { has, useStorage } from './harness.js';
import type { StorageConformanceOptions } from './types.js';

export function paginationTests(options: StorageConformanceOptions): void {
  describe('pagination', () => {
    const open = useStorage(options);

    async function seed(count: number) {
      const s = await open();
      const session = makeSession();
      await s.createSession(session);
      const base = Date.now() - count * 10;
      const msgs = Array.from({ length: count }, (_, i) =>
        makeMessage(session.id, {
          content: `m${i}`,
          timestamp: new Date(base + i * 10),
          updatedAt: new Date(base + i * 10),
          sender: i % 3 === 0 ? 'operator' : 'visitor',
        }),
      );
      for (const m of msgs) await s.saveMessage(m);
      return { s, session, msgs, base };
    }

    it('limit keeps the newest messages, still in ascending order', async () => {
      const { s, session } = await seed(30);
      const page = await s.getMessages(session.id, { limit: 5 });
      // A storage may ignore the query (PocketPing trims); if it applies it, the newest win.
      const tail = page.slice(-5).map((m) => m.content);
      expect(tail).toEqual(['m25', 'm26', 'm27', 'm28', 'm29']);
      if (page.length === 5) expect(page.map((m) => m.content)).toEqual(tail);
    });

    it('after returns only messages created or changed after the instant', async () => {
      const { s, session, msgs, base } = await seed(20);
      const cutoff = new Date(base + 14 * 10);
      let page = await s.getMessages(session.id, { after: cutoff });
      page = page.filter((m) => m.updatedAt.getTime() > cutoff.getTime());
      expect(page.map((m) => m.content)).toEqual(['m15', 'm16', 'm17', 'm18', 'm19']);
      const applied = await s.getMessages(session.id, { after: cutoff });
      // Storages that apply the filter must not leave out anything changed after the cutoff.
      for (const m of page) expect(applied.some((x) => x.id === m.id)).toBe(true);
      expect(msgs).toHaveLength(20);
    });

    it('an edited old message shows up in the after delta', async (ctx) => {
      const { s, session, msgs, base } = await seed(10);
      if (!has(s, 'updateMessage')) return ctx.skip();
      const cutoff = new Date(base + 100);
      const edit = new Date(cutoff.getTime() + 1000);
      await s.updateMessage(msgs[2]!.id, { content: 'edited', editedAt: edit, updatedAt: edit });
      const page = await s.getMessages(session.id, { after: cutoff });
      expect(page.map((m) => m.content)).toEqual(['edited']);
      expect(page[0]!.timestamp.getTime()).toBe(msgs[2]!.timestamp.getTime());
    });

    it('before pages back through history', async () => {
      const { s, session, base } = await seed(12);
      const page = await s.getMessages(session.id, { before: new Date(base + 6 * 10), limit: 3 });
      const filtered = page.filter((m) => m.timestamp.getTime() < base + 60).slice(-3);
      expect(filtered.map((m) => m.content)).toEqual(['m3', 'm4', 'm5']);
    });

    it('pages through 1,000 messages without losing or repeating one', async () => {
      const { s, session, msgs } = await seed(1000);
      const all = await s.getMessages(session.id);
      expect(all).toHaveLength(1000);
      const seen: string[] = [];
      let before: Date | undefined;
      for (let i = 0; i < 20; i++) {
        const page = await s.getMessages(session.id, { limit: 100, ...(before ? { before } : {}) });
        const trimmed = page.filter((m) => !before || m.timestamp.getTime() < before.getTime()).slice(-100);
        if (trimmed.length === 0) break;
        seen.unshift(...trimmed.map((m) => m.id));
        before = trimmed[0]!.timestamp;
      }
      expect(seen).toEqual(msgs.map((m) => m.id));
    });
  });
}
