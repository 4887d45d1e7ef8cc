import type { Message } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { makeMessage, makeSession } from '../fixtures.js';
import { has, useStorage } from './harness.js';
import type { StorageConformanceOptions } from './types.js';

/**
 * The optional one-round-trip methods of the request hot paths: `touchSession`,
 * `createSessionForVisitor`, `saveMessageWithSession`.
 */
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

    it('createSessionForVisitor stores a new session when the visitor has none', async (ctx) => {
      const s = await open();
      if (!has(s, 'createSessionForVisitor')) return ctx.skip();
      const session = makeSession({ metadata: { url: 'https://a.example/first', ip: '203.0.113.7' } });
      const result = await s.createSessionForVisitor(session);
      expect(result.created).toBe(true);
      expect(result.session.id).toBe(session.id);
      expect(result.session.visitorId).toBe(session.visitorId);
      const read = await s.getSession(session.id);
      expect(read?.metadata).toEqual(session.metadata);
      expect(read?.createdAt.getTime()).toBe(session.createdAt.getTime());
      if (has(s, 'getSessionByVisitorId'))
        expect((await s.getSessionByVisitorId(session.visitorId))?.id).toBe(session.id);
    });

    it("createSessionForVisitor answers the visitor's newest session and stores nothing when it has one", async (ctx) => {
      const s = await open();
      if (!has(s, 'createSessionForVisitor')) return ctx.skip();
      const visitorId = 'v-returning-visitor';
      const older = makeSession({ visitorId, createdAt: new Date(Date.now() - 120_000) });
      const newer = makeSession({
        visitorId,
        createdAt: new Date(Date.now() - 60_000),
        metadata: { url: 'https://kept' },
      });
      await s.createSession(older);
      await s.createSession(newer);
      const attempt = makeSession({ visitorId, metadata: { url: 'https://not-stored' } });
      const result = await s.createSessionForVisitor(attempt);
      expect(result.created).toBe(false);
      expect(result.session.id).toBe(newer.id);
      expect(result.session.metadata).toEqual({ url: 'https://kept' });
      expect(await s.getSession(attempt.id)).toBeNull();
      // Another visitor is not affected.
      const other = await s.createSessionForVisitor(makeSession());
      expect(other.created).toBe(true);
    });

    it('saveMessageWithSession stores the message and patches its session in one step', async (ctx) => {
      const s = await open();
      if (!has(s, 'saveMessageWithSession')) return ctx.skip();
      const session = makeSession();
      await s.createSession(session);
      const message = makeMessage(session.id, { content: 'hello' });
      const at = new Date(message.timestamp.getTime());
      const result = await s.saveMessageWithSession(message, { lastActivity: at, hasVisitorMessage: true });
      if (!result) throw new Error('saveMessageWithSession answered null for an existing session');
      expect(result.message.id).toBe(message.id);
      expect(result.message.content).toBe('hello');
      expect(result.session.id).toBe(session.id);
      expect(result.session.hasVisitorMessage).toBe(true);
      expect(result.session.lastActivity.getTime()).toBe(at.getTime());
      const [listed] = await s.getMessages(session.id);
      expect(listed?.id).toBe(message.id);
      if (typeof result.message.seq === 'number') {
        expect(listed?.seq).toBe(result.message.seq);
        expect(result.session.seq).toBe(result.message.seq);
      }
      expect((await s.getSession(session.id))?.hasVisitorMessage).toBe(true);
    });

    it('saveMessageWithSession for an unknown session stores nothing and answers null', async (ctx) => {
      const s = await open();
      if (!has(s, 'saveMessageWithSession')) return ctx.skip();
      const sessionId = 'ses_nosuchsession000000000000';
      const message = makeMessage(sessionId, { content: 'orphan' });
      const result = await s.saveMessageWithSession(message, { lastActivity: new Date(), hasVisitorMessage: true });
      expect(result ?? null).toBeNull();
      expect(await s.getMessages(sessionId)).toEqual([]);
      if (has(s, 'getMessage')) expect((await s.getMessage(message.id)) ?? null).toBeNull();
      expect(await s.getSession(sessionId)).toBeNull();
    });

    it('saveMessageWithSession reopens a closed session with an unconditional patch', async (ctx) => {
      const s = await open();
      if (!has(s, 'saveMessageWithSession')) return ctx.skip();
      const closedAt = new Date(Date.now() - 60_000);
      const session = makeSession({ status: 'closed', closedAt, hasVisitorMessage: true });
      await s.createSession(session);
      const message = makeMessage(session.id, { content: 'back again' });
      const result = await s.saveMessageWithSession(message, {
        lastActivity: message.timestamp,
        hasVisitorMessage: true,
        status: 'open',
      });
      expect(result?.session.status).toBe('open');
      const read = await s.getSession(session.id);
      expect(read?.status).toBe('open');
      expect(read?.hasVisitorMessage).toBe(true);
      expect((await s.getMessages(session.id)).map((m: Message) => m.content)).toEqual(['back again']);
    });
  });
}
