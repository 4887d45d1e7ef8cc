import { describe, expect, it } from 'vitest';
import { makeMessage, makeSession } from '../fixtures.js';
import { has, useStorage } from './harness.js';
import type { StorageConformanceOptions } from './types.js';

export function bridgeIdTests(options: StorageConformanceOptions): void {
  describe('bridge references', () => {
    const open = useStorage(options);

    it('a session is found by its thread on each bridge', async (ctx) => {
      const s = await open();
      if (!has(s, 'setBridgeThread') || !has(s, 'findSessionByBridgeThread')) return ctx.skip();
      const session = makeSession();
      await s.createSession(session);
      const topic = `topic-${Math.random()}`;
      await s.setBridgeThread(session.id, 'telegram', topic);
      await s.setBridgeThread(session.id, 'slack', '1700000000.000100');
      expect((await s.findSessionByBridgeThread('telegram', topic))?.id).toBe(session.id);
      expect((await s.findSessionByBridgeThread('slack', '1700000000.000100'))?.id).toBe(session.id);
      expect(await s.findSessionByBridgeThread('discord', topic)).toBeFalsy();
      const got = await s.getSession(session.id);
      expect(got!.bridgeThreads).toEqual({ telegram: topic, slack: '1700000000.000100' });
    });

    it('a replaced thread no longer points at the session, and null forgets it', async (ctx) => {
      const s = await open();
      if (!has(s, 'setBridgeThread') || !has(s, 'findSessionByBridgeThread')) return ctx.skip();
      const session = makeSession();
      await s.createSession(session);
      const a = `a-${Math.random()}`;
      const b = `b-${Math.random()}`;
      await s.setBridgeThread(session.id, 'telegram', a);
      await s.setBridgeThread(session.id, 'telegram', b);
      expect(await s.findSessionByBridgeThread('telegram', a)).toBeFalsy();
      expect((await s.findSessionByBridgeThread('telegram', b))?.id).toBe(session.id);
      await s.setBridgeThread(session.id, 'telegram', null);
      expect(await s.findSessionByBridgeThread('telegram', b)).toBeFalsy();
      expect((await s.getSession(session.id))!.bridgeThreads?.telegram).toBeUndefined();
    });

    it('a message is found by its platform id on each bridge', async (ctx) => {
      const s = await open();
      if (!has(s, 'saveBridgeMessageId') || !has(s, 'findMessageByBridgeId')) return ctx.skip();
      const session = makeSession();
      await s.createSession(session);
      const m = makeMessage(session.id);
      await s.saveMessage(m);
      const pid = String(Math.floor(Math.random() * 1e9));
      await s.saveBridgeMessageId(m.id, 'telegram', pid);
      await s.saveBridgeMessageId(m.id, 'discord', `d${pid}`);
      expect((await s.findMessageByBridgeId('telegram', pid))?.id).toBe(m.id);
      expect((await s.findMessageByBridgeId('discord', `d${pid}`))?.id).toBe(m.id);
      expect(await s.findMessageByBridgeId('slack', pid)).toBeFalsy();
      const [stored] = await s.getMessages(session.id);
      expect(stored!.bridgeMessageIds).toEqual({ telegram: pid, discord: `d${pid}` });
    });

    it('the same platform id on two bridges maps to two messages', async (ctx) => {
      const s = await open();
      if (!has(s, 'saveBridgeMessageId') || !has(s, 'findMessageByBridgeId')) return ctx.skip();
      const session = makeSession();
      await s.createSession(session);
      const m1 = makeMessage(session.id);
      const m2 = makeMessage(session.id);
      await s.saveMessage(m1);
      await s.saveMessage(m2);
      const pid = `same-${Math.random()}`;
      await s.saveBridgeMessageId(m1.id, 'telegram', pid);
      await s.saveBridgeMessageId(m2.id, 'discord', pid);
      expect((await s.findMessageByBridgeId('telegram', pid))?.id).toBe(m1.id);
      expect((await s.findMessageByBridgeId('discord', pid))?.id).toBe(m2.id);
    });
  });
}
