import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { expectCode, harness, newSession, sendVisitor, tab, until } from './helpers.js';

/** Fake timers from here to the end of the test, so expiry is checked without real waits. */
function useFakeClock(): void {
  vi.useFakeTimers();
  onTestFinished(() => {
    vi.useRealTimers();
  });
}

describe('POST /typing (visitor)', () => {
  it('answers { ok: true } to every pulse', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    expect(await pp.handleTyping({ sessionId, sender: 'visitor', isTyping: true })).toEqual({ ok: true });
  });

  it('throttles a burst of pulses into one bridge call', async () => {
    const { pp, bridge } = await harness({ typingThrottleMs: 60_000 });
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'hi');
    await pp.flushDeliveries();
    for (let i = 0; i < 20; i++) await pp.handleTyping({ sessionId, sender: 'visitor', isTyping: true });
    await until(() => bridge.typing.length > 0);
    expect(bridge.typing).toEqual([{ sessionId, isTyping: true }]);
  });

  it('expires by itself with an isTyping false call to the bridge', async () => {
    const { pp, bridge } = await harness({ typingTimeoutMs: 30 });
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'hi');
    await pp.flushDeliveries();
    await pp.handleTyping({ sessionId, sender: 'visitor', isTyping: true });
    await until(() => bridge.typing.length === 2);
    expect(bridge.typing).toEqual([
      { sessionId, isTyping: true },
      { sessionId, isTyping: false },
    ]);
  });

  it('keeps the indicator alive while pulses keep coming', async () => {
    const { pp, bridge } = await harness({ typingTimeoutMs: 100, typingThrottleMs: 60_000 });
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'hi');
    await pp.flushDeliveries();
    useFakeClock();
    for (let i = 0; i < 5; i++) {
      await pp.handleTyping({ sessionId, sender: 'visitor', isTyping: true });
      await vi.advanceTimersByTimeAsync(60);
    }
    expect(bridge.typing).toEqual([{ sessionId, isTyping: true }]);
    await vi.advanceTimersByTimeAsync(60);
    expect(bridge.typing).toEqual([
      { sessionId, isTyping: true },
      { sessionId, isTyping: false },
    ]);
  });

  it('sends no typing to the bridges before the first real message (no thread yet)', async () => {
    const { pp, bridge } = await harness({ typingTimeoutMs: 100 });
    const sessionId = await newSession(pp);
    useFakeClock();
    for (let i = 0; i < 3; i++) await pp.handleTyping({ sessionId, sender: 'visitor', isTyping: true });
    // Well past the expiry, when a stop call would have gone out.
    await vi.advanceTimersByTimeAsync(1000);
    expect(bridge.typing).toEqual([]);
    expect(bridge.threadOf(sessionId)).toBeUndefined();
  });

  it('a visitor message stops the typing indicator on the bridge', async () => {
    const { pp, bridge } = await harness({ typingTimeoutMs: 60_000 });
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'first');
    await pp.flushDeliveries();
    await pp.handleTyping({ sessionId, sender: 'visitor', isTyping: true });
    await until(() => bridge.typing.length === 1);
    await sendVisitor(pp, sessionId, 'second');
    await until(() => bridge.typing.length === 2);
    expect(bridge.typing[1]).toEqual({ sessionId, isTyping: false });
  });

  it('does not show the visitor their own typing as operator dots', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const t = tab(pp, sessionId);
    await pp.handleTyping({ sessionId, sender: 'visitor', isTyping: true });
    expect(t.of('typing').filter((f) => f.data.sender !== 'visitor')).toEqual([]);
  });

  it('accepts the Node SDK style typing frame over the WebSocket', async () => {
    const { pp, bridge } = await harness();
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'hi');
    await pp.flushDeliveries();
    await pp.handleClientFrame(sessionId, JSON.stringify({ type: 'typing', data: { isTyping: true } }));
    await until(() => bridge.typing.length === 1);
    expect(bridge.typing).toEqual([{ sessionId, isTyping: true }]);
  });

  it('answers SESSION_NOT_FOUND for an unknown session', async () => {
    const { pp } = await harness();
    await expectCode(pp.handleTyping({ sessionId: 'ses_nope', isTyping: true }), 'SESSION_NOT_FOUND');
  });
});

describe('operator typing', () => {
  it("emits typing with sender 'operator'", async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const t = tab(pp, sessionId);
    pp.setOperatorTyping(sessionId, true);
    expect(t.of('typing')).toEqual([{ type: 'typing', data: { sessionId, sender: 'operator', isTyping: true } }]);
  });

  it('sends an explicit stop after typingTimeoutMs', async () => {
    const { pp } = await harness({ typingTimeoutMs: 30 });
    const sessionId = await newSession(pp);
    const t = tab(pp, sessionId);
    pp.setOperatorTyping(sessionId, true);
    await until(() => t.of('typing').length === 2);
    expect(t.of('typing').map((f) => [f.data.sender, f.data.isTyping])).toEqual([
      ['operator', true],
      ['operator', false],
    ]);
  });

  it('an operator message clears the indicator with an explicit stop before the message', async () => {
    const { pp } = await harness({ typingTimeoutMs: 60_000 });
    const sessionId = await newSession(pp);
    const t = tab(pp, sessionId);
    pp.setOperatorTyping(sessionId, true);
    await pp.sendMessage(sessionId, { content: 'Here you go' });
    expect(t.frames.map((f) => (f.type === 'typing' ? `typing:${f.data.isTyping}` : f.type))).toEqual([
      'typing:true',
      'typing:false',
      'message',
    ]);
    // No late stop from the cleared timer.
    expect(t.of('typing')).toHaveLength(2);
  });

  it('typing from a bridge reaches the widget and stops by itself', async () => {
    const { pp, bridge } = await harness({ typingTimeoutMs: 30 });
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'hi');
    await pp.flushDeliveries();
    const t = tab(pp, sessionId);
    // MemoryBridge keeps its context private; the public BridgeContext is what real bridges call.
    const ctx = (bridge as unknown as { ctx: { operatorTyping(s: string, v: boolean): Promise<void> } }).ctx;
    await ctx.operatorTyping(sessionId, true);
    await until(() => t.of('typing').length === 2);
    expect(t.of('typing').map((f) => f.data.isTyping)).toEqual([true, false]);
  });
});
