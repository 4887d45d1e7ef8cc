import { PocketPing, silentLogger } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { useStorage } from './harness.js';
import type { StorageConformanceOptions } from './types.js';

/** The whole widget flow through PocketPing: checks the fallbacks for storages with few methods. */
export function throughPocketPingTests(options: StorageConformanceOptions): void {
  describe('through PocketPing', () => {
    const open = useStorage(options);

    it('connect, send, edit, delete, read and reconnect give a consistent history', async () => {
      const storage = await open();
      const pp = new PocketPing({ storage, logger: silentLogger });
      await pp.init();
      try {
        const visitorId = `v-${Math.random().toString(36).slice(2)}`;
        const c1 = await pp.handleConnect({ visitorId, sessionId: null, metadata: { url: 'https://example.com/' } });
        expect(c1.messages).toEqual([]);
        const sent = await pp.handleMessage({
          sessionId: c1.sessionId,
          content: 'Hi  ',
          sender: 'visitor',
          attachmentIds: [],
        });
        const second = await pp.handleMessage({
          sessionId: c1.sessionId,
          content: 'second',
          sender: 'visitor',
          attachmentIds: [],
        });
        const reply = await pp.sendMessage(c1.sessionId, { content: 'Hello! How can I help?', operatorName: 'Ana' });
        await pp.handleEditMessage(sent.messageId, { sessionId: c1.sessionId, content: 'Hi there' });
        await pp.handleDeleteMessage(second.messageId, { sessionId: c1.sessionId });
        const read = await pp.handleRead({ sessionId: c1.sessionId, messageIds: [reply.id], status: 'read' });
        expect(read.updated).toBe(1);
        await pp.handleRead({ sessionId: c1.sessionId, messageIds: [reply.id], status: 'read' });

        const c2 = await pp.handleConnect({
          visitorId,
          sessionId: c1.sessionId,
          metadata: { url: 'https://example.com/b' },
        });
        expect(c2.sessionId).toBe(c1.sessionId);
        expect(c2.messages.map((m) => m.id)).toEqual([sent.messageId, second.messageId, reply.id]);
        expect(c2.messages[0]).toMatchObject({ content: 'Hi there', sender: 'visitor' });
        expect(c2.messages[0]!.editedAt).toBeTruthy();
        expect(c2.messages[1]!.deletedAt).toBeTruthy();
        expect(c2.messages[2]).toMatchObject({ sender: 'operator', status: 'read' });

        const c3 = await pp.handleConnect({ visitorId, sessionId: null, metadata: {} });
        const session = await storage.getSession(c1.sessionId);
        expect(session?.metadata.url).toBe('https://example.com/b');
        if (typeof storage.getSessionByVisitorId === 'function') expect(c3.sessionId).toBe(c1.sessionId);
      } finally {
        await pp.close();
      }
    });

    it('the polling delta returns edits, deletes and receipts made after the cursor', async () => {
      const storage = await open();
      const pp = new PocketPing({ storage, logger: silentLogger, afterSlackMs: 0 });
      await pp.init();
      try {
        const c = await pp.handleConnect({ visitorId: 'v-delta', sessionId: null, metadata: {} });
        const a = await pp.handleMessage({ sessionId: c.sessionId, content: 'a', attachmentIds: [] });
        const op = await pp.sendMessage(c.sessionId, { content: 'op' });
        await new Promise((r) => setTimeout(r, 5));
        const cursor = new Date().toISOString();
        await new Promise((r) => setTimeout(r, 5));
        await pp.handleEditMessage(a.messageId, { sessionId: c.sessionId, content: 'a2' });
        await pp.handleRead({ sessionId: c.sessionId, messageIds: [op.id] });
        const delta = await pp.handleGetMessages({ sessionId: c.sessionId, after: cursor });
        const byId = new Map(delta.messages.map((m) => [m.id, m]));
        expect(byId.get(a.messageId)?.content).toBe('a2');
        expect(byId.get(op.id)?.status).toBe('read');
      } finally {
        await pp.close();
      }
    });
  });
}
