import type { Attachment, Message, Session } from '@pocketping/core';
import { describe, expect, it, onTestFinished } from 'vitest';
import { has, useStorage } from './harness.js';
import type { StorageConformanceOptions } from './types.js';

/** A restart: with `reopen`, a second instance on the same data reads back everything the first wrote. */
export function persistenceTests(options: StorageConformanceOptions): void {
  const reopen = options.reopen;
  // In-memory storages have no restart to test: nothing is registered for them.
  if (!reopen) return;
  describe('persistence across a restart', () => {
    const open = useStorage(options);

    it('a new storage instance on the same data sees every change made by the previous one', async (ctx) => {
      const t0 = new Date('2026-03-01T10:00:00.000Z');
      const at = (ms: number) => new Date(t0.getTime() + ms);
      const session: Session = {
        id: 'ses_restart',
        visitorId: 'v-restart',
        createdAt: t0,
        lastActivity: t0,
        status: 'open',
        metadata: { url: 'https://example.com/pricing', botSignals: { webdriver: false } },
      };
      const messages: Message[] = ['hello', 'typo', 'to delete', 'operator reply'].map((content, i) => ({
        id: `msg_restart_${i}`,
        sessionId: session.id,
        content,
        sender: i === 3 ? 'operator' : 'visitor',
        timestamp: at(i * 1000),
        updatedAt: at(i * 1000),
        status: 'sent',
        ...(i === 3 ? { operatorName: 'Ana' } : {}),
      }));
      const attachment: Attachment = {
        id: 'att_restart',
        sessionId: session.id,
        filename: 'a.png',
        mimeType: 'image/png',
        size: 10,
        url: '',
        status: 'pending',
        storageKey: 'ses_restart/att_restart',
        createdAt: t0,
      };

      const first = await open();
      if (
        !has(first, 'updateSession') ||
        !has(first, 'updateMessage') ||
        !has(first, 'setBridgeThread') ||
        !has(first, 'saveBridgeMessageId') ||
        !has(first, 'saveAttachment') ||
        !has(first, 'updateAttachment')
      )
        return ctx.skip();
      await first.createSession(session);
      for (const m of messages) await first.saveMessage(m);
      await first.updateSession(session.id, {
        identity: { id: 'user-1', email: 'ana@example.com', plan: 'pro' },
        metadata: { ...session.metadata, pageTitle: 'Pricing' },
        preChat: { email: 'ana@example.com', submittedAt: at(50) },
        csat: { pending: false, score: 5, respondedAt: at(60) },
        screenshotRequests: [{ requestId: 'scr_1', requestedAt: at(70), deliveredAt: at(80) }],
        lastActivity: at(9000),
        status: 'closed',
        closedAt: at(9000),
      });
      await first.updateMessage('msg_restart_1', { content: 'fixed', editedAt: at(5000), updatedAt: at(5000) });
      await first.updateMessage('msg_restart_2', { content: '', deletedAt: at(6000), updatedAt: at(6000) });
      await first.updateMessage('msg_restart_3', {
        status: 'read',
        deliveredAt: at(7000),
        readAt: at(7500),
        updatedAt: at(7500),
      });
      await first.setBridgeThread(session.id, 'telegram', '4242');
      await first.saveBridgeMessageId('msg_restart_3', 'telegram', '77');
      await first.saveAttachment(attachment);
      await first.updateAttachment(attachment.id, {
        status: 'ready',
        url: 'https://files.example/a.png',
        messageId: 'msg_restart_0',
      });
      await first.close?.();

      const second = await reopen(first);
      await second.init?.();
      onTestFinished(() => second.close?.());
      const got = await second.getSession(session.id);
      expect(got).toMatchObject({
        visitorId: 'v-restart',
        status: 'closed',
        identity: { id: 'user-1', email: 'ana@example.com', plan: 'pro' },
        metadata: { url: 'https://example.com/pricing', pageTitle: 'Pricing', botSignals: { webdriver: false } },
        bridgeThreads: { telegram: '4242' },
      });
      expect(got!.closedAt).toEqual(at(9000));
      expect(got!.preChat?.submittedAt).toEqual(at(50));
      expect(got!.csat).toEqual({ pending: false, score: 5, respondedAt: at(60) });
      expect(got!.screenshotRequests).toEqual([{ requestId: 'scr_1', requestedAt: at(70), deliveredAt: at(80) }]);
      expect((await second.getSessionByVisitorId!('v-restart'))?.id).toBe(session.id);
      expect((await second.findSessionByBridgeThread!('telegram', '4242'))?.id).toBe(session.id);

      const history = await second.getMessages(session.id);
      expect(history.map((m) => m.content)).toEqual(['hello', 'fixed', '', 'operator reply']);
      expect(history[1]!.editedAt).toEqual(at(5000));
      expect(history[2]!.deletedAt).toEqual(at(6000));
      expect(history[3]).toMatchObject({ status: 'read', operatorName: 'Ana', bridgeMessageIds: { telegram: '77' } });
      expect(history[3]!.readAt).toEqual(at(7500));
      expect(history[3]!.deliveredAt).toEqual(at(7000));
      expect((await second.findMessageByBridgeId!('telegram', '77'))?.id).toBe('msg_restart_3');
      expect((await second.getMessages(session.id, { after: at(4000) })).map((m) => m.id)).toEqual([
        'msg_restart_1',
        'msg_restart_2',
        'msg_restart_3',
      ]);
      expect(await second.getAttachment!(attachment.id)).toEqual({
        ...attachment,
        status: 'ready',
        url: 'https://files.example/a.png',
        messageId: 'msg_restart_0',
      });
      expect((await second.listSessions!({ status: 'closed' })).map((s) => s.id)).toEqual([session.id]);
    });
  });
}
