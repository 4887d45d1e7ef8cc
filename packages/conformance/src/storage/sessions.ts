import { describe, expect, it } from 'vitest';
import { makeMessage, makeSession } from '../fixtures.js';
import { has, useStorage } from './harness.js';
import type { StorageConformanceOptions } from './types.js';

export function sessionTests(options: StorageConformanceOptions): void {
  describe('sessions', () => {
    const open = useStorage(options);

    it('a created session reads back with every field intact', async () => {
      const s = await open();
      const session = makeSession({
        identity: { id: 'user-42', email: 'ana@example.com', name: 'Ana', plan: 'pro', seats: 3 },
        metadata: {
          url: 'https://example.com/a?b=c',
          referrer: 'https://google.com/',
          userAgent: 'Mozilla/5.0',
          botSignals: { webdriver: false, plugins: true },
          ip: '203.0.113.9',
        },
        preChat: { email: 'ana@example.com', submittedAt: new Date('2026-01-02T03:04:05.678Z') },
        csat: { pending: true, requestedAt: new Date('2026-01-02T03:04:06.000Z') },
      });
      await s.createSession(session);
      const got = await s.getSession(session.id);
      expect(got).toBeTruthy();
      expect(got!.id).toBe(session.id);
      expect(got!.visitorId).toBe(session.visitorId);
      expect(got!.status).toBe('open');
      expect(got!.createdAt).toBeInstanceOf(Date);
      expect(got!.createdAt.getTime()).toBe(session.createdAt.getTime());
      expect(got!.lastActivity.getTime()).toBe(session.lastActivity.getTime());
      expect(got!.identity).toEqual(session.identity);
      expect(got!.metadata).toEqual(session.metadata);
      expect(got!.preChat?.submittedAt.getTime()).toBe(session.preChat!.submittedAt.getTime());
      expect(got!.csat?.pending).toBe(true);
      expect(got!.csat?.requestedAt?.getTime()).toBe(session.csat!.requestedAt!.getTime());
    });

    it('an unknown session is null or undefined, not an error', async () => {
      const s = await open();
      expect(await s.getSession('ses_doesnotexist0000000000000')).toBeFalsy();
    });

    it('changing a returned session does not change what is stored', async () => {
      const s = await open();
      const session = makeSession();
      await s.createSession(session);
      const got = await s.getSession(session.id);
      got!.status = 'closed';
      got!.metadata.url = 'https://evil.example';
      const again = await s.getSession(session.id);
      expect(again!.status).toBe('open');
      expect(again!.metadata.url).toBe(session.metadata.url);
    });

    it('updateSession merges the given fields and keeps the others', async (ctx) => {
      const s = await open();
      if (!has(s, 'updateSession')) return ctx.skip();
      const session = makeSession({ identity: { id: 'u1', name: 'Before' } });
      await s.createSession(session);
      const later = new Date(session.lastActivity.getTime() + 5000);
      const updated = await s.updateSession(session.id, {
        identity: { id: 'u1', name: 'After', email: 'a@b.co' },
        lastActivity: later,
        status: 'closed',
        closedAt: later,
      });
      expect(updated?.identity?.name).toBe('After');
      expect(updated?.status).toBe('closed');
      const got = await s.getSession(session.id);
      expect(got!.identity).toEqual({ id: 'u1', name: 'After', email: 'a@b.co' });
      expect(got!.lastActivity.getTime()).toBe(later.getTime());
      expect(got!.closedAt?.getTime()).toBe(later.getTime());
      expect(got!.metadata).toEqual(session.metadata);
      expect(got!.visitorId).toBe(session.visitorId);
    });

    it('updateSession of an unknown session returns nothing and creates nothing', async (ctx) => {
      const s = await open();
      if (!has(s, 'updateSession')) return ctx.skip();
      const result = await s.updateSession('ses_unknown00000000000000000', { status: 'closed' });
      expect(result).toBeFalsy();
      expect(await s.getSession('ses_unknown00000000000000000')).toBeFalsy();
    });

    it('getSessionByVisitorId finds the newest session of that visitor', async (ctx) => {
      const s = await open();
      if (!has(s, 'getSessionByVisitorId')) return ctx.skip();
      const visitorId = `v-${Math.random().toString(36).slice(2)}`;
      const older = makeSession({
        visitorId,
        createdAt: new Date(Date.now() - 60_000),
        lastActivity: new Date(Date.now() - 60_000),
      });
      const newer = makeSession({ visitorId });
      await s.createSession(older);
      await s.createSession(newer);
      await s.createSession(makeSession());
      const got = await s.getSessionByVisitorId(visitorId);
      expect(got?.id).toBe(newer.id);
      expect(await s.getSessionByVisitorId('v-nobody')).toBeFalsy();
    });

    it('listSessions returns the most recently active first, with limit, cursor and status', async (ctx) => {
      const s = await open();
      if (!has(s, 'listSessions')) return ctx.skip();
      const base = Date.now() - 100_000;
      const sessions = Array.from({ length: 5 }, (_, i) =>
        makeSession({ lastActivity: new Date(base + i * 1000), status: i === 2 ? 'closed' : 'open' }),
      );
      for (const x of sessions) await s.createSession(x);
      const all = await s.listSessions({ limit: 100 });
      const ours = all.filter((x) => sessions.some((y) => y.id === x.id)).map((x) => x.id);
      expect(ours).toEqual([...sessions].reverse().map((x) => x.id));
      const firstTwo = await s.listSessions({ limit: 2, before: new Date(base + 4500) });
      expect(firstTwo.map((x) => x.id)).toEqual([sessions[4]!.id, sessions[3]!.id]);
      const page2 = await s.listSessions({ limit: 2, before: firstTwo[1]!.lastActivity });
      expect(page2.map((x) => x.id)).toEqual([sessions[2]!.id, sessions[1]!.id]);
      const closed = await s.listSessions({ status: 'closed', limit: 100 });
      expect(closed.some((x) => x.id === sessions[2]!.id)).toBe(true);
      expect(closed.every((x) => x.status === 'closed')).toBe(true);
    });

    it('deleteSession removes the session and its messages', async (ctx) => {
      const s = await open();
      if (!has(s, 'deleteSession')) return ctx.skip();
      const session = makeSession();
      await s.createSession(session);
      await s.saveMessage(makeMessage(session.id));
      expect(await s.deleteSession(session.id)).toBe(true);
      expect(await s.getSession(session.id)).toBeFalsy();
      expect(await s.getMessages(session.id)).toEqual([]);
      expect(await s.deleteSession(session.id)).toBe(false);
    });

    it('cleanupOldSessions deletes only sessions inactive since before the cutoff', async (ctx) => {
      const s = await open();
      if (!has(s, 'cleanupOldSessions')) return ctx.skip();
      const old = makeSession({
        lastActivity: new Date('2020-01-01T00:00:00.000Z'),
        createdAt: new Date('2020-01-01T00:00:00.000Z'),
      });
      const fresh = makeSession();
      await s.createSession(old);
      await s.createSession(fresh);
      await s.saveMessage(makeMessage(old.id));
      const removed = await s.cleanupOldSessions(new Date('2021-01-01T00:00:00.000Z'));
      expect(removed).toBeGreaterThanOrEqual(1);
      expect(await s.getSession(old.id)).toBeFalsy();
      expect(await s.getMessages(old.id)).toEqual([]);
      expect(await s.getSession(fresh.id)).toBeTruthy();
    });
  });
}
