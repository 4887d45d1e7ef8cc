import { describe, expect, it } from 'vitest';
import { makeMessage, makeSession } from '../fixtures.js';
import { has, useStorage } from './harness.js';
import type { StorageConformanceOptions } from './types.js';

export function editDeleteTests(options: StorageConformanceOptions): void {
  describe('edit and delete', () => {
    const open = useStorage(options);

    it('updateMessage changes content in place without duplicating the message', async (ctx) => {
      const s = await open();
      if (!has(s, 'updateMessage')) return ctx.skip();
      const session = makeSession();
      await s.createSession(session);
      const m = makeMessage(session.id, { content: 'typo' });
      await s.saveMessage(m);
      const editedAt = new Date(m.timestamp.getTime() + 500);
      const updated = await s.updateMessage(m.id, { content: 'fixed', editedAt, updatedAt: editedAt });
      expect(updated?.content).toBe('fixed');
      const list = await s.getMessages(session.id);
      expect(list).toHaveLength(1);
      expect(list[0]!.content).toBe('fixed');
      expect(list[0]!.editedAt?.getTime()).toBe(editedAt.getTime());
      expect(list[0]!.timestamp.getTime()).toBe(m.timestamp.getTime());
      expect(list[0]!.sender).toBe('visitor');
    });

    it('a soft-deleted message stays in history with deletedAt', async (ctx) => {
      const s = await open();
      if (!has(s, 'updateMessage')) return ctx.skip();
      const session = makeSession();
      await s.createSession(session);
      const m = makeMessage(session.id);
      await s.saveMessage(m);
      const deletedAt = new Date(m.timestamp.getTime() + 100);
      await s.updateMessage(m.id, { deletedAt, updatedAt: deletedAt, content: '' });
      const list = await s.getMessages(session.id);
      expect(list).toHaveLength(1);
      expect(list[0]!.deletedAt?.getTime()).toBe(deletedAt.getTime());
    });

    it('read receipts update the stored message in place', async (ctx) => {
      const s = await open();
      if (!has(s, 'updateMessage')) return ctx.skip();
      const session = makeSession();
      await s.createSession(session);
      const m = makeMessage(session.id, { sender: 'operator' });
      await s.saveMessage(m);
      const readAt = new Date(m.timestamp.getTime() + 2000);
      await s.updateMessage(m.id, { status: 'read', readAt, deliveredAt: readAt, updatedAt: readAt });
      await s.updateMessage(m.id, { status: 'read', readAt, updatedAt: readAt });
      const list = await s.getMessages(session.id);
      expect(list).toHaveLength(1);
      expect(list[0]!.status).toBe('read');
      expect(list[0]!.readAt?.getTime()).toBe(readAt.getTime());
    });

    it('updateMessage of an unknown message returns nothing and creates nothing', async (ctx) => {
      const s = await open();
      if (!has(s, 'updateMessage')) return ctx.skip();
      const session = makeSession();
      await s.createSession(session);
      expect(await s.updateMessage('msg_unknown00000000000000000', { content: 'x' })).toBeFalsy();
      expect(await s.getMessages(session.id)).toEqual([]);
    });
  });
}
