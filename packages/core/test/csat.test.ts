import type { CsatState } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { expectCode, harness, newSession, sendVisitor, tab } from './helpers.js';

describe('POST /csat', () => {
  it('stores the score, the trimmed comment and respondedAt, and clears pending', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    await pp.requestCsat(sessionId);
    expect(await pp.handleCsat({ sessionId, score: 4, comment: '  quick answer  ' })).toEqual({ ok: true });
    expect((await storage.getSession(sessionId))!.csat).toMatchObject({
      pending: false,
      score: 4,
      comment: 'quick answer',
      respondedAt: expect.any(Date),
      requestedAt: expect.any(Date),
    });
  });

  it('accepts every whole score from 1 to 5', async () => {
    const { pp } = await harness();
    for (const score of [1, 2, 3, 4, 5]) {
      expect(await pp.handleCsat({ sessionId: await newSession(pp), score })).toEqual({ ok: true });
    }
  });

  it('rejects a score outside 1..5 or not a whole number', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    for (const score of [0, 6, 3.5, -1, '5', null]) {
      const err = await expectCode(pp.handleCsat({ sessionId, score }), 'VALIDATION_FAILED');
      expect(err.message).toContain('score');
    }
    expect((await storage.getSession(sessionId))!.csat).toBeUndefined();
  });

  it('is idempotent: a second rating answers alreadyRated and changes nothing', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    await pp.handleCsat({ sessionId, score: 5, comment: 'great' });
    const first = (await storage.getSession(sessionId))!.csat;
    expect(await pp.handleCsat({ sessionId, score: 1, comment: 'changed my mind' })).toEqual({
      ok: true,
      alreadyRated: true,
    });
    expect((await storage.getSession(sessionId))!.csat).toEqual(first);
  });

  it('posts a one-line notice to the bridge thread', async () => {
    const { pp, bridge } = await harness();
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'thanks');
    await pp.flushDeliveries();
    await pp.handleCsat({ sessionId, score: 5, comment: 'great' });
    await pp.flushDeliveries();
    const notices = bridge.thread(bridge.threadOf(sessionId)!).filter((m) => m.kind === 'notice');
    expect(notices.map((m) => m.text)).toEqual(['⭐ 😄 5/5 — "great"']);
  });

  it('leaves the comment part out of the notice when there is none', async () => {
    const { pp, bridge } = await harness();
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'thanks');
    await pp.flushDeliveries();
    await pp.handleCsat({ sessionId, score: 1 });
    await pp.flushDeliveries();
    const notices = bridge.thread(bridge.threadOf(sessionId)!).filter((m) => m.kind === 'notice');
    expect(notices.map((m) => m.text)).toEqual(['⭐ 😞 1/5']);
  });

  it('runs onCsat once and emits csat.submitted', async () => {
    const calls: CsatState[] = [];
    const { pp } = await harness({
      onCsat: (_s, csat) => {
        calls.push(csat);
      },
    });
    const events: number[] = [];
    pp.on('csat.submitted', (e) => {
      events.push(e.csat.score!);
    });
    const sessionId = await newSession(pp);
    await pp.handleCsat({ sessionId, score: 3 });
    await pp.handleCsat({ sessionId, score: 3 });
    expect(calls.map((c) => c.score)).toEqual([3]);
    expect(events).toEqual([3]);
  });

  it('answers SESSION_NOT_FOUND for an unknown session', async () => {
    const { pp } = await harness();
    await expectCode(pp.handleCsat({ sessionId: 'ses_nope', score: 5 }), 'SESSION_NOT_FOUND');
  });
});

describe('requestCsat', () => {
  it('stores pending with requestedAt and emits csat_request', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    const t = tab(pp, sessionId);
    await pp.requestCsat(sessionId);
    const csat = (await storage.getSession(sessionId))!.csat!;
    expect(csat.pending).toBe(true);
    expect(t.of('csat_request')).toEqual([
      { type: 'csat_request', data: { requestedAt: csat.requestedAt!.toISOString() } },
    ]);
  });

  it('replays a pending request when a stream opens', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    await pp.requestCsat(sessionId);
    const frames = (await pp.streamReplay(sessionId)).map((f) => JSON.parse(f.json));
    expect(frames).toEqual([{ type: 'csat_request', data: { requestedAt: expect.any(String) } }]);
  });

  it('stops replaying once the visitor has rated', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    await pp.requestCsat(sessionId);
    await pp.handleCsat({ sessionId, score: 4 });
    expect(await pp.streamReplay(sessionId)).toEqual([]);
  });

  it('does not ask again after a rating', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    await pp.handleCsat({ sessionId, score: 4 });
    const t = tab(pp, sessionId);
    await pp.requestCsat(sessionId);
    expect(t.frames).toEqual([]);
  });
});
