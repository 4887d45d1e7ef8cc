import type { Bridge } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { connect, expectCode, harness, newSession, sendVisitor } from './helpers.js';

/** A bridge that records notices and accepts messages. */
function noticeRecorder() {
  const notices: string[] = [];
  const bridge: Bridge = {
    name: 'notices',
    async onVisitorMessage(m) {
      return { platformMessageId: `p-${m.id}`, threadId: 'thread-1' };
    },
    onNotice(_session, text) {
      notices.push(text);
    },
  };
  return { bridge, notices };
}

describe('POST /disconnect', () => {
  it('tells the bridges the visitor left, with the time spent, once a thread exists', async () => {
    const rec = noticeRecorder();
    const { pp } = await harness({}, [rec.bridge]);
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'hi');
    expect(await pp.handleDisconnect({ sessionId, duration: 125, reason: 'page_unload' })).toEqual({ ok: true });
    await pp.flushDeliveries();
    expect(rec.notices).toEqual(['👋 Visitor left (was here for 2m 5s)']);
  });

  it('uses the identified name in the notice', async () => {
    const rec = noticeRecorder();
    const { pp } = await harness({}, [rec.bridge]);
    const sessionId = await newSession(pp, { identity: { id: 'u1', name: 'Ana' } });
    await sendVisitor(pp, sessionId, 'hi');
    await pp.handleDisconnect({ sessionId, duration: 42 });
    await pp.flushDeliveries();
    expect(rec.notices).toEqual(['👋 Ana left (was here for 42s)']);
  });

  it('sends no notice when the session has no thread (the visitor never wrote)', async () => {
    const rec = noticeRecorder();
    const { pp } = await harness({}, [rec.bridge]);
    const sessionId = await newSession(pp);
    await pp.handleDisconnect({ sessionId, duration: 10, reason: 'page_unload' });
    await pp.flushDeliveries();
    expect(rec.notices).toEqual([]);
  });

  it('runs onVisitorDisconnect with the duration', async () => {
    const calls: (number | undefined)[] = [];
    const { pp } = await harness({
      onVisitorDisconnect: (_s, d) => {
        calls.push(d);
      },
    });
    const sessionId = await newSession(pp);
    await pp.handleDisconnect({ sessionId, duration: 7 });
    expect(calls).toEqual([7]);
  });

  it('answers SESSION_NOT_FOUND for an unknown session', async () => {
    const { pp } = await harness();
    await expectCode(pp.handleDisconnect({ sessionId: 'ses_nope', duration: 1 }), 'SESSION_NOT_FOUND');
  });
});

describe('POST /visibility', () => {
  it('visible refreshes the session lastActivity', async () => {
    const { pp, storage } = await harness();
    const sessionId = (await connect(pp)).sessionId;
    const old = new Date(Date.now() - 3_600_000);
    await storage.updateSession(sessionId, { lastActivity: old });
    expect(await pp.handleVisibility({ sessionId, state: 'visible', timestamp: Date.now() })).toEqual({ ok: true });
    expect((await storage.getSession(sessionId))!.lastActivity.getTime()).toBeGreaterThan(old.getTime());
  });

  it('hidden answers ok and leaves lastActivity alone', async () => {
    const { pp, storage } = await harness();
    const sessionId = (await connect(pp)).sessionId;
    const old = new Date(Date.now() - 3_600_000);
    await storage.updateSession(sessionId, { lastActivity: old });
    expect(await pp.handleVisibility({ sessionId, state: 'hidden', timestamp: Date.now() })).toEqual({ ok: true });
    expect((await storage.getSession(sessionId))!.lastActivity).toEqual(old);
  });

  it('answers SESSION_NOT_FOUND for an unknown session', async () => {
    const { pp } = await harness();
    await expectCode(pp.handleVisibility({ sessionId: 'ses_nope', state: 'visible' }), 'SESSION_NOT_FOUND');
  });

  it('rejects an unknown state', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    await expectCode(pp.handleVisibility({ sessionId, state: 'minimized' }), 'VALIDATION_FAILED');
  });
});
