import type { Message } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { makeMessage, makeSession } from '../fixtures.js';
import { has, useStorage } from './harness.js';
import type { StorageConformanceOptions } from './types.js';

/** The optional one-round-trip methods of the request hot paths: `touchSession`, `saveMessageWithSession`. */
export function fastPathTests(options: StorageConformanceOptions): void {
  describe('hot-path methods', () => {
    const open = useStorage(options);

    it('touchSession merges metadata, keeps the listed stored keys, and sets lastActivity', async (ctx) => {
      const s = await open();
      if (!has(s, 'touchSession')) return ctx.skip();
      const session = makeSession({
        metadata: { url: 'https://a.example/one', ip: '203.0.113.7', country: 'FR', language: 'fr', custom: 'kept' },
      });
      await s.createSession(session);
      const later = new Date(session.lastActivity.getTime() + 60_000);
      const touched = await s.touchSession(session.id, session.visitorId, {
        lastActivity: later,
        metadata: { url: 'https://a.example/two', ip: '198.51.100.1', city: 'Lyon', userAgent: 'UA 2' },
        keepKeys: ['ip', 'country', 'city'],
      });
      const expected = {
        url: 'https://a.example/two',
        ip: '203.0.113.7',
        country: 'FR',
        city: 'Lyon',
        language: 'fr',
        custom: 'kept',
        userAgent: 'UA 2',
      };
      expect(touched?.metadata).toEqual(expected);
      expect(touched?.lastActivity.getTime()).toBe(later.getTime());
      expect(touched?.id).toBe(session.id);
      const read = await s.getSession(session.id);
      expect(read?.metadata).toEqual(expected);
      expect(read?.lastActivity.getTime()).toBe(later.getTime());
    });

    it('touchSession answers null and changes nothing for another visitor or an unknown session', async (ctx) => {
      const s = await open();
      if (!has(s, 'touchSession')) return ctx.skip();
      const session = makeSession({ metadata: { url: 'https://a.example/one' } });
      await s.createSession(session);
      const touch = { lastActivity: new Date(), metadata: { url: 'https://evil.example' }, keepKeys: [] };
      expect(await s.touchSession(session.id, 'someone-else', touch)).toBeNull();
      expect(await s.touchSession('ses_unknown00000000000000000', session.visitorId, touch)).toBeNull();
      const read = await s.getSession(session.id);
      expect(read?.metadata).toEqual({ url: 'https://a.example/one' });
      expect(read?.lastActivity.getTime()).toBe(session.lastActivity.getTime());
    });

    it('saveMessageWithSession stores the message and patches its session in one step', async (ctx) => {
      const s = await open();
      if (!has(s, 'saveMessageWithSession')) return ctx.skip();
      const session = makeSession();
      await s.createSession(session);
      const message = makeMessage(session.id, { content: 'hello' });
      const at = new Date(message.timestamp.getTime());
      const result = await s.saveMessageWithSession(message, { lastActivity: at, hasVisitorMessage: true });
      expect(result.message.id).toBe(message.id);
      expect(result.message.content).toBe('hello');
      expect(result.session?.hasVisitorMessage).toBe(true);
      expect(result.session?.lastActivity.getTime()).toBe(at.getTime());
      const [listed] = await s.getMessages(session.id);
      expect(listed?.id).toBe(message.id);
      if (typeof result.message.seq === 'number') {
        expect(listed?.seq).toBe(result.message.seq);
        expect(result.session?.seq).toBe(result.message.seq);
      }
      expect((await s.getSession(session.id))?.hasVisitorMessage).toBe(true);
    });

    it('saveMessageWithSession for an unknown session stores the message and answers a null session', async (ctx) => {
      const s = await open();
      if (!has(s, 'saveMessageWithSession')) return ctx.skip();
      const sessionId = 'ses_nosuchsession000000000000';
      const result = await s.saveMessageWithSession(makeMessage(sessionId, { content: 'orphan' }), {
        lastActivity: new Date(),
      });
      expect(result.session ?? null).toBeNull();
      expect((await s.getMessages(sessionId)).map((m: Message) => m.content)).toEqual(['orphan']);
    });
  });
}
