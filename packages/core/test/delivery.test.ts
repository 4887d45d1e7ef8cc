import {
  type Bridge,
  BridgeError,
  type DeliveryJob,
  MemoryDeliveryQueue,
  type Message,
  retryDelay,
} from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { harness, newSession, sendVisitor, tab, until } from './helpers.js';

/** Retries quickly so failures play out in milliseconds. */
const FAST = { baseDelayMs: 10, maxDelayMs: 40, maxAttempts: 4 };

/** A bridge whose visitor-message hook fails the first `failures` times for each message. */
function flakyBridge(failures: number, error: () => unknown = () => new Error('platform is down')) {
  const attempts = new Map<string, number>();
  const posted: string[] = [];
  const attemptTimes: number[] = [];
  const bridge: Bridge = {
    name: 'flaky',
    async onVisitorMessage(message: Message) {
      attemptTimes.push(Date.now());
      const n = (attempts.get(message.id) ?? 0) + 1;
      attempts.set(message.id, n);
      if (n <= failures) throw error();
      posted.push(message.content);
      return { platformMessageId: `p-${posted.length}`, threadId: 't-1' };
    },
  };
  return { bridge, posted, attempts, attemptTimes };
}

describe('bridge delivery', () => {
  it('a throwing bridge never breaks the visitor request', async () => {
    const flaky = flakyBridge(Number.POSITIVE_INFINITY);
    const { pp, storage } = await harness({ delivery: FAST }, [flaky.bridge]);
    const sessionId = await newSession(pp);
    const res = await sendVisitor(pp, sessionId, 'hello');
    expect(res.messageId).toBeTruthy();
    expect((await storage.getMessages(sessionId))[0]!.content).toBe('hello');
    await pp.flushDeliveries();
  });

  it('retries a failed delivery until the bridge accepts it, then marks it delivered', async () => {
    const flaky = flakyBridge(2);
    const { pp, storage } = await harness({ delivery: FAST }, [flaky.bridge]);
    const sessionId = await newSession(pp);
    const t = tab(pp, sessionId);
    const { messageId } = await sendVisitor(pp, sessionId, 'hello');
    await pp.flushDeliveries();
    expect(flaky.attempts.get(messageId)).toBe(3);
    expect(flaky.posted).toEqual(['hello']);
    expect((await storage.getMessages(sessionId))[0]!.status).toBe('delivered');
    expect(t.of('read').map((f) => f.data.status)).toEqual(['delivered']);
    expect(await pp.deadLetters()).toEqual([]);
  });

  it('keeps messages of a session in order while retrying', async () => {
    const flaky = flakyBridge(2);
    const { pp } = await harness({ delivery: FAST }, [flaky.bridge]);
    const sessionId = await newSession(pp);
    for (const text of ['one', 'two', 'three']) await sendVisitor(pp, sessionId, text);
    await pp.flushDeliveries();
    expect(flaky.posted).toEqual(['one', 'two', 'three']);
  });

  it('dead-letters a delivery after maxAttempts and reports delivery.failed', async () => {
    const flaky = flakyBridge(Number.POSITIVE_INFINITY);
    const { pp, storage } = await harness({ delivery: FAST }, [flaky.bridge]);
    const failures: boolean[] = [];
    pp.on('delivery.failed', (e) => {
      failures.push(e.deadLettered);
    });
    const sessionId = await newSession(pp);
    const { messageId } = await sendVisitor(pp, sessionId, 'lost?');
    await pp.flushDeliveries();
    expect(flaky.attempts.get(messageId)).toBe(FAST.maxAttempts);
    expect(failures).toEqual([false, false, false, true]);
    const dead = await pp.deadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({
      bridge: 'flaky',
      sessionId,
      operation: { type: 'visitor_message', messageId },
      attempts: FAST.maxAttempts,
    });
    expect(dead[0]!.lastError).toContain('platform is down');
    // Never delivered, so the visitor's tick stays "sent".
    expect((await storage.getMessages(sessionId))[0]!.status).toBe('sent');
  });

  it('a dead-lettered delivery can be retried by hand', async () => {
    let down = true;
    const posted: string[] = [];
    const bridge: Bridge = {
      name: 'toggle',
      async onVisitorMessage(m) {
        if (down) throw new Error('down');
        posted.push(m.content);
        return { platformMessageId: 'p1', threadId: 't1' };
      },
    };
    const { pp, storage } = await harness({ delivery: { ...FAST, maxAttempts: 1 } }, [bridge]);
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'later');
    await pp.flushDeliveries();
    const [dead] = await pp.deadLetters();
    down = false;
    expect(await pp.retryDeadLetter(dead!.id)).toBe(true);
    await pp.flushDeliveries();
    expect(posted).toEqual(['later']);
    expect(await pp.deadLetters()).toEqual([]);
    expect((await storage.getMessages(sessionId))[0]!.status).toBe('delivered');
  });

  it('sends a BridgeError with retryable false straight to the dead letters', async () => {
    const flaky = flakyBridge(
      Number.POSITIVE_INFINITY,
      () => new BridgeError('flaky', 'message rejected by the platform', { code: 'BRIDGE_REJECTED', retryable: false }),
    );
    const { pp } = await harness({ delivery: FAST }, [flaky.bridge]);
    const sessionId = await newSession(pp);
    const { messageId } = await sendVisitor(pp, sessionId, 'bad content');
    await pp.flushDeliveries();
    expect(flaky.attempts.get(messageId)).toBe(1);
    const dead = await pp.deadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0]!.attempts).toBe(1);
  });

  it('waits retryAfterMs before retrying a rate-limited delivery', async () => {
    const retryAfterMs = 150;
    const flaky = flakyBridge(1, () => new BridgeError('flaky', 'Too Many Requests', { retryAfterMs }));
    const { pp } = await harness({ delivery: FAST }, [flaky.bridge]);
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'slow down');
    await pp.flushDeliveries();
    expect(flaky.attemptTimes).toHaveLength(2);
    // The base delay is 10 ms; only the platform's ask explains the wait.
    expect(flaky.attemptTimes[1]! - flaky.attemptTimes[0]!).toBeGreaterThanOrEqual(retryAfterMs - 5);
  });

  it('one failing bridge does not hold back another', async () => {
    const flaky = flakyBridge(Number.POSITIVE_INFINITY);
    const posted: string[] = [];
    const healthy: Bridge = {
      name: 'healthy',
      async onVisitorMessage(m) {
        posted.push(m.content);
        return { platformMessageId: 'h1', threadId: 'th' };
      },
    };
    const { pp } = await harness({ delivery: { ...FAST, baseDelayMs: 1000, maxDelayMs: 1000 } }, [
      flaky.bridge,
      healthy,
    ]);
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'hello');
    await until(() => posted.length === 1);
    expect(posted).toEqual(['hello']);
  });

  it('wraps a plain error thrown by a bridge in a BridgeError naming the bridge', async () => {
    const flaky = flakyBridge(Number.POSITIVE_INFINITY);
    const { pp } = await harness({ delivery: { ...FAST, maxAttempts: 1 } }, [flaky.bridge]);
    const errors: unknown[] = [];
    pp.on('delivery.failed', (e) => {
      errors.push(e.error);
    });
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'x');
    await pp.flushDeliveries();
    expect(errors[0]).toBeInstanceOf(BridgeError);
    expect((errors[0] as BridgeError).bridge).toBe('flaky');
    expect((errors[0] as BridgeError).message).toContain('flaky');
  });

  it('mirrors an operator reply into the bridges except the one it came from', async () => {
    const { pp, bridge } = await harness();
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'hi');
    await pp.flushDeliveries();
    const threadId = bridge.threadOf(sessionId)!;
    await bridge.reply(threadId, 'from the platform', { operatorName: 'Ana' });
    await pp.sendMessage(sessionId, { content: 'from the API', operatorName: 'Bo' });
    await pp.flushDeliveries();
    expect(bridge.thread(threadId).map((m) => [m.kind, m.text])).toEqual([
      ['visitor', 'hi'],
      ['operator', 'from the platform'],
      ['mirror', 'Bo: from the API'],
    ]);
  });
});

describe('retryDelay', () => {
  const policy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };

  it('grows exponentially with at most 20 % jitter', () => {
    for (let attempt = 1; attempt <= 3; attempt++) {
      const d = retryDelay(policy, attempt, new Error('x'));
      const expected = 100 * 2 ** (attempt - 1);
      expect(d).toBeGreaterThanOrEqual(expected * 0.8 - 1);
      expect(d).toBeLessThanOrEqual(expected * 1.2 + 1);
    }
  });

  it('never exceeds maxDelayMs (plus jitter)', () => {
    expect(retryDelay(policy, 30, new Error('x'))).toBeLessThanOrEqual(1200);
  });

  it("uses the platform's retryAfterMs as given", () => {
    expect(retryDelay(policy, 1, new BridgeError('b', 'slow', { retryAfterMs: 4321 }))).toBe(4321);
  });
});

describe('MemoryDeliveryQueue', () => {
  it('runs jobs of one bridge and session in order and drains', async () => {
    const queue = new MemoryDeliveryQueue({ maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 });
    const ran: string[] = [];
    queue.start(async (job: DeliveryJob) => {
      if (job.operation.type === 'notice') ran.push(job.operation.text);
    });
    await queue.enqueue(
      ['a', 'b', 'c'].map((text) => ({ bridge: 'x', sessionId: 's', operation: { type: 'notice' as const, text } })),
    );
    await queue.drain();
    expect(ran).toEqual(['a', 'b', 'c']);
    await queue.stop();
  });

  it('drain resolves at once when nothing is queued', async () => {
    const queue = new MemoryDeliveryQueue();
    await expect(queue.drain()).resolves.toBeUndefined();
  });
});
