import type { Bridge, Session } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { connect, expectCode, harness, newSession, sendVisitor, visitorId } from './helpers.js';

/** A bridge that records identity updates (and accepts messages so a thread exists). */
function identityRecorder() {
  const updates: Session[] = [];
  const bridge: Bridge = {
    name: 'recorder',
    async onVisitorMessage(m) {
      return { platformMessageId: `p-${m.id}`, threadId: 'thread-1' };
    },
    onIdentityUpdate(session) {
      updates.push(session);
    },
  };
  return { bridge, updates };
}

describe('POST /identify', () => {
  it('stores the identity with its custom fields and answers { ok: true }', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    const identity = { id: 'user-1', email: 'ana@example.com', name: 'Ana', plan: 'pro', seats: 3 };
    expect(await pp.handleIdentify({ sessionId, identity })).toEqual({ ok: true });
    expect((await storage.getSession(sessionId))!.identity).toEqual(identity);
  });

  it('returns the identity on the next connect', async () => {
    const { pp } = await harness();
    const vid = visitorId();
    const { sessionId } = await connect(pp, { visitorId: vid });
    await pp.handleIdentify({ sessionId, identity: { id: 'user-2', company: 'Acme' } });
    expect((await connect(pp, { visitorId: vid, sessionId })).identity).toEqual({ id: 'user-2', company: 'Acme' });
  });

  it('requires a non-empty identity.id', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    const err = await expectCode(pp.handleIdentify({ sessionId, identity: { email: 'a@b.co' } }), 'VALIDATION_FAILED');
    expect(err.message).toContain('identity.id');
    await expectCode(pp.handleIdentify({ sessionId, identity: { id: '' } }), 'VALIDATION_FAILED');
    expect((await storage.getSession(sessionId))!.identity).toBeUndefined();
  });

  it('answers SESSION_NOT_FOUND for an unknown session', async () => {
    const { pp } = await harness();
    await expectCode(pp.handleIdentify({ sessionId: 'ses_nope', identity: { id: 'u' } }), 'SESSION_NOT_FOUND');
  });

  it('runs the onIdentify hook and emits identity.updated', async () => {
    const seen: string[] = [];
    const { pp } = await harness({
      onIdentify: (s) => {
        seen.push(`hook:${s.identity?.id}`);
      },
    });
    pp.on('identity.updated', (e) => {
      seen.push(`event:${e.identity.id}`);
    });
    const sessionId = await newSession(pp);
    await pp.handleIdentify({ sessionId, identity: { id: 'u-9' } });
    expect(seen).toEqual(['hook:u-9', 'event:u-9']);
  });

  it('updates the bridge identity only once the visitor has written (a thread exists)', async () => {
    const rec = identityRecorder();
    const { pp } = await harness({}, [rec.bridge]);
    const sessionId = await newSession(pp);
    await pp.handleIdentify({ sessionId, identity: { id: 'u-1', name: 'Before' } });
    await pp.flushDeliveries();
    expect(rec.updates).toEqual([]);
    await sendVisitor(pp, sessionId, 'hello');
    await pp.handleIdentify({ sessionId, identity: { id: 'u-1', name: 'After' } });
    await pp.flushDeliveries();
    expect(rec.updates.map((s) => s.identity?.name)).toEqual(['After']);
  });

  it('renames the MemoryBridge thread after the first message', async () => {
    const { pp, bridge } = await harness();
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'hello');
    await pp.flushDeliveries();
    await pp.handleIdentify({ sessionId, identity: { id: 'u-1', name: 'Ana Lima' } });
    await pp.flushDeliveries();
    expect(bridge.threads.get(bridge.threadOf(sessionId)!)!.title).toBe('Ana Lima');
  });
});
