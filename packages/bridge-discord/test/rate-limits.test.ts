import { BridgeError } from '@pocketping/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const contents = (harness: Harness, threadId: string) =>
  harness.discord
    .channelMessages(threadId)
    .filter((m) => !m.deleted)
    .map((m) => m.content);

describe('rate limits and failures', () => {
  it('a 429 with retry_after is waited out: no message is lost and the order holds', async () => {
    h = await startHarness();
    const sessionId = await h.connect();
    await h.send(sessionId, 'one');
    await h.pp.flushDeliveries();
    const threadId = (await h.threadOf(sessionId))!;

    h.discord.rateLimitNext('POST', new RegExp(`^/channels/${threadId}/messages$`), 0.05);
    await h.send(sessionId, 'two');
    await h.send(sessionId, 'three');
    await h.pp.flushDeliveries();

    expect(contents(h, threadId)).toEqual(['one', 'two', 'three']);
    const posts = h.discord.requests.filter((r) => r.method === 'POST' && r.path === `/channels/${threadId}/messages`);
    expect(posts).toHaveLength(4); // one refused with 429, then retried
    expect(h.events.filter((e) => e.type === 'delivery.failed')).toHaveLength(0);
  });

  it('a rate limit longer than maxRateLimitWaitMs goes back to the PocketPing queue and still arrives in order', async () => {
    h = await startHarness({
      bridge: (d) => ({ botToken: d.token, channelId: d.channelId, apiUrl: d.apiUrl, maxRateLimitWaitMs: 20 }),
    });
    const sessionId = await h.connect();
    await h.send(sessionId, 'one');
    await h.pp.flushDeliveries();
    const threadId = (await h.threadOf(sessionId))!;

    h.discord.rateLimitNext('POST', new RegExp(`^/channels/${threadId}/messages$`), 0.2);
    await h.send(sessionId, 'two');
    await h.send(sessionId, 'three');
    await h.pp.flushDeliveries();

    expect(contents(h, threadId)).toEqual(['one', 'two', 'three']);
    const failures = h.events.flatMap((e) => (e.type === 'delivery.failed' ? [e] : []));
    expect(failures).toHaveLength(1);
    expect(failures[0]!.deadLettered).toBe(false);
    expect(failures[0]!.error).toBeInstanceOf(BridgeError);
    expect((failures[0]!.error as BridgeError).retryAfterMs).toBeGreaterThanOrEqual(200);
    expect((failures[0]!.error as BridgeError).code).toBe('BRIDGE_RATE_LIMITED');
  });

  it('a refused post (403 Missing Permissions) is retried by PocketPing until the message arrives', async () => {
    h = await startHarness();
    const sessionId = await h.connect();
    await h.send(sessionId, 'one');
    await h.pp.flushDeliveries();
    const threadId = (await h.threadOf(sessionId))!;
    // Forbidden is not retried inside discord.js, so the failure reaches PocketPing's queue.
    h.discord.failNext({
      method: 'POST',
      path: new RegExp(`^/channels/${threadId}/messages$`),
      status: 403,
      body: { message: 'Missing Permissions', code: 50013 },
    });
    await h.send(sessionId, 'two');
    await h.pp.flushDeliveries();
    expect(contents(h, threadId)).toEqual(['one', 'two']);
    const failures = h.events.flatMap((e) => (e.type === 'delivery.failed' ? [e] : []));
    expect(failures.map((f) => (f.error as BridgeError).message)).toEqual([
      expect.stringContaining('@pocketping/bridge-discord: posting a visitor message failed: Discord answered 403'),
    ]);
  });

  it('a message Discord refuses as invalid is not retried forever', async () => {
    h = await startHarness();
    const sessionId = await h.connect();
    await h.send(sessionId, 'one');
    await h.pp.flushDeliveries();
    const threadId = (await h.threadOf(sessionId))!;
    h.discord.failNext({
      method: 'POST',
      path: new RegExp(`^/channels/${threadId}/messages$`),
      status: 400,
      body: { message: 'Invalid Form Body', code: 50035 },
    });
    await h.send(sessionId, 'two');
    await h.send(sessionId, 'three');
    await h.pp.flushDeliveries();
    expect(contents(h, threadId)).toEqual(['one', 'three']);
    const [dead] = await h.pp.deadLetters();
    expect(dead!.operation.type).toBe('visitor_message');
    expect(dead!.attempts).toBe(1);
  });
});
