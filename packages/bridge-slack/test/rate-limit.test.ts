import { BridgeError } from '@pocketping/core';
import { LogLevel, WebClient } from '@slack/web-api';
import { describe, expect, it } from 'vitest';
import type { FakeSlack } from './fake-slack.js';
import { setup } from './helpers.js';

function clientFor(fake: FakeSlack, options: { rejectRateLimitedCalls?: boolean } = {}): WebClient {
  return new WebClient(fake.token, {
    slackApiUrl: fake.apiUrl,
    retryConfig: { retries: 0 },
    logLevel: LogLevel.ERROR,
    ...options,
  });
}

describe('SlackBridge rate limits', () => {
  it('a 429 with Retry-After is waited out: nothing is lost and the order is kept', async () => {
    const { fake, pp, connect, send, threadOf } = await setup();
    const sessionId = await connect();
    fake.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    await send(sessionId, 'one');
    await send(sessionId, 'two');
    await send(sessionId, 'three');
    await pp.flushDeliveries();
    const thread = (await threadOf(sessionId))!;
    expect(fake.parents()).toHaveLength(1);
    expect(
      fake
        .thread(thread)
        .slice(1)
        .map((m) => m.text),
    ).toEqual(['one', 'two', 'three']);
    // The rate-limited call was made and then repeated.
    expect(fake.callsOf('chat.postMessage')).toHaveLength(5);
  });

  it('when the client gives up on a rate limit, the bridge throws a BridgeError with retryAfterMs', async () => {
    const { fake, storage, conversation } = await setup();
    const { sessionId } = await conversation();
    const session = (await storage.getSession(sessionId))!;
    const [message] = await storage.getMessages(sessionId);

    const { SlackBridge } = await import('../src/index.js');
    const rejecting = new SlackBridge({
      botToken: fake.token,
      channelId: fake.channelId,
      signingSecret: fake.signingSecret,
      client: clientFor(fake, { rejectRateLimitedCalls: true }),
    });
    fake.failNext('chat.postMessage', { status: 429, retryAfter: 7 });
    const rejected = await rejecting.onVisitorMessage(message!, session, {}).catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(BridgeError);
    expect(rejected).toMatchObject({ code: 'BRIDGE_RATE_LIMITED', retryAfterMs: 7000, retryable: true });

    // Default client behaviour: it waits Retry-After itself, then gives up when out of retries.
    const exhausted = new SlackBridge({
      botToken: fake.token,
      channelId: fake.channelId,
      signingSecret: fake.signingSecret,
      client: clientFor(fake),
    });
    fake.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    const gaveUp = await exhausted.onVisitorMessage(message!, session, {}).catch((e: unknown) => e);
    expect(gaveUp).toBeInstanceOf(BridgeError);
    expect(gaveUp).toMatchObject({ code: 'BRIDGE_RATE_LIMITED', retryAfterMs: 1000 });
    expect((gaveUp as Error).message).toMatch(/^@pocketping\/bridge-slack: chat\.postMessage/);
  });

  it('a rate-limited delivery is retried later by the delivery queue, in order', async () => {
    const { fake, pp, connect, send, threadOf } = await setup((f) => ({
      client: clientFor(f, { rejectRateLimitedCalls: true }),
    }));
    const sessionId = await connect();
    await send(sessionId, 'before');
    await pp.flushDeliveries();
    fake.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    await send(sessionId, 'a');
    await send(sessionId, 'b');
    await pp.flushDeliveries();
    const thread = (await threadOf(sessionId))!;
    expect(
      fake
        .thread(thread)
        .slice(1)
        .map((m) => m.text),
    ).toEqual(['before', 'a', 'b']);
    expect(fake.callsOf('chat.postMessage').map((c) => c.args.text)).toEqual([
      expect.stringContaining('New conversation'),
      'before',
      'a',
      'a',
      'b',
    ]);
  });
});
