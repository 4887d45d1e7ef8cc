import { describe, expect, it } from 'vitest';
import { makeMessage, makeSession } from '../fixtures.js';
import { has, useStorage } from './harness.js';
import type { StorageConformanceOptions } from './types.js';

export function messageTests(options: StorageConformanceOptions): void {
  describe('messages', () => {
    const open = useStorage(options);

    it('a saved message reads back with every field intact', async () => {
      const s = await open();
      const session = makeSession();
      await s.createSession(session);
      const first = makeMessage(session.id, { content: 'first' });
      const now = new Date();
      const message = makeMessage(session.id, {
        content: '  spaces kept \n and newlines\n\t émoji 🎉 ',
        replyTo: first.id,
        status: 'delivered',
        deliveredAt: now,
        metadata: { screenshot: true, nested: { a: [1, 2] } },
        operatorName: undefined,
        source: 'widget',
        attachments: [
          {
            id: 'att_fixture000000000000000001',
            sessionId: session.id,
            filename: 'report.pdf',
            mimeType: 'application/pdf',
            size: 1234,
            url: 'https://files.example.com/report.pdf',
            status: 'ready',
            storageKey: `${session.id}/att_fixture000000000000000001`,
            createdAt: now,
          },
        ],
      });
      await s.saveMessage(first);
      await s.saveMessage(message);
      const list = await s.getMessages(session.id);
      expect(list.map((m) => m.id)).toEqual([first.id, message.id]);
      const got = list[1]!;
      expect(got.content).toBe(message.content);
      expect(got.sender).toBe('visitor');
      expect(got.timestamp).toBeInstanceOf(Date);
      expect(got.timestamp.getTime()).toBe(message.timestamp.getTime());
      expect(got.updatedAt.getTime()).toBe(message.updatedAt.getTime());
      expect(got.status).toBe('delivered');
      expect(got.deliveredAt?.getTime()).toBe(now.getTime());
      expect(got.replyTo).toBe(first.id);
      expect(got.metadata).toEqual(message.metadata);
      expect(got.attachments).toHaveLength(1);
      expect(got.attachments![0]!.filename).toBe('report.pdf');
      expect(got.attachments![0]!.createdAt.getTime()).toBe(now.getTime());
    });

    it('an empty content is stored as an empty string', async () => {
      const s = await open();
      const session = makeSession();
      await s.createSession(session);
      const m = makeMessage(session.id, { content: '' });
      await s.saveMessage(m);
      const [got] = await s.getMessages(session.id);
      expect(got!.content).toBe('');
    });

    it('messages come back ascending by timestamp whatever the insertion order', async () => {
      const s = await open();
      const session = makeSession();
      await s.createSession(session);
      const base = Date.now();
      const msgs = [3, 1, 4, 0, 2].map((i) =>
        makeMessage(session.id, {
          content: `m${i}`,
          timestamp: new Date(base + i * 10),
          updatedAt: new Date(base + i * 10),
        }),
      );
      for (const m of msgs) await s.saveMessage(m);
      const list = await s.getMessages(session.id);
      expect(list.map((m) => m.content)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    });

    it('messages of another session never show up', async () => {
      const s = await open();
      const a = makeSession();
      const b = makeSession();
      await s.createSession(a);
      await s.createSession(b);
      await s.saveMessage(makeMessage(a.id, { content: 'for a' }));
      await s.saveMessage(makeMessage(b.id, { content: 'for b' }));
      expect((await s.getMessages(a.id)).map((m) => m.content)).toEqual(['for a']);
      expect((await s.getMessages(b.id)).map((m) => m.content)).toEqual(['for b']);
      expect(await s.getMessages('ses_nobody000000000000000000')).toEqual([]);
    });

    it('getMessage finds one message by id and returns nothing for unknown ids', async (ctx) => {
      const s = await open();
      if (!has(s, 'getMessage')) return ctx.skip();
      const session = makeSession();
      await s.createSession(session);
      const m = makeMessage(session.id, { sender: 'operator', operatorName: 'Ana', content: 'Hi!' });
      await s.saveMessage(m);
      const got = await s.getMessage(m.id);
      expect(got?.sessionId).toBe(session.id);
      expect(got?.sender).toBe('operator');
      expect(got?.operatorName).toBe('Ana');
      expect(await s.getMessage('msg_unknown00000000000000000')).toBeFalsy();
    });

    it('changing a returned message does not change what is stored', async () => {
      const s = await open();
      const session = makeSession();
      await s.createSession(session);
      await s.saveMessage(makeMessage(session.id, { content: 'original' }));
      const [got] = await s.getMessages(session.id);
      got!.content = 'tampered';
      const [again] = await s.getMessages(session.id);
      expect(again!.content).toBe('original');
    });
  });
}
