import { describe, expect, it } from 'vitest';
import { setup, waitFor } from './helpers.js';

const TOO_MANY = {
  error_code: 429,
  description: 'Too Many Requests: retry after 1',
  parameters: { retry_after: 1 },
};

describe('rate limits and permanent errors', () => {
  it('a 429 is retried after retry_after, and the next message waits for it: order is kept', async () => {
    const { fake, pp, send, openTopic } = await setup();
    const { sessionId, threadId } = await openTopic();
    fake.failNext('sendMessage', TOO_MANY);
    await send(sessionId, 'one');
    await send(sessionId, 'two');
    await pp.flushDeliveries();
    const posted = fake.topicMessages(threadId).map((m) => m.visible);
    expect(posted.slice(-2)).toEqual(['one', 'two']);
    const refused = fake.callsOf('sendMessage').find((c) => c.params.text === 'one')!;
    const one = fake.topicMessages(threadId).find((m) => m.visible === 'one')!;
    expect(one.at - refused.at).toBeGreaterThanOrEqual(990);
    expect(fake.callsOf('sendMessage').filter((c) => c.params.text === 'one')).toHaveLength(2);
    expect(await pp.deadLetters()).toEqual([]);
  });

  it('after a 429, posts of other sessions in the same group wait too', async () => {
    const { fake, pp, send, logger, openTopic } = await setup();
    const a = await openTopic('session A');
    const b = await openTopic('session B');
    fake.failNext('sendMessage', TOO_MANY);
    await send(a.sessionId, 'A again');
    // The bridge has seen the 429 once PocketPing logs the retry.
    await waitFor(() => logger.lines.some((l) => l.msg.includes('will retry')), 'retry scheduled');
    const refusedAt = fake.callsOf('sendMessage').find((c) => c.params.text === 'A again')!.at;
    await send(b.sessionId, 'B meanwhile');
    await pp.flushDeliveries();
    const bPosted = fake.topicMessages(b.threadId).find((m) => m.visible === 'B meanwhile')!;
    expect(bPosted.at - refusedAt).toBeGreaterThanOrEqual(990);
    expect(fake.topicMessages(a.threadId).at(-1)!.visible).toBe('A again');
  });

  it('a message Telegram refuses for good is dead-lettered after one attempt', async () => {
    const { fake, pp, send, openTopic } = await setup();
    const { sessionId } = await openTopic();
    fake.failNext('sendMessage', { error_code: 400, description: 'Bad Request: PEER_ID_INVALID' });
    await send(sessionId, 'doomed');
    await send(sessionId, 'after it');
    await pp.flushDeliveries();
    const dead = await pp.deadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ attempts: 1, operation: { type: 'visitor_message' } });
    expect(dead[0]!.lastError).toContain('PEER_ID_INVALID');
    expect(fake.callsOf('sendMessage').filter((c) => c.params.text === 'doomed')).toHaveLength(1);
    expect(fake.callsOf('sendMessage').some((c) => c.params.text === 'after it')).toBe(true);
  });

  it('a server error is retried and the message still arrives', async () => {
    const { fake, pp, send, openTopic } = await setup();
    const { sessionId, threadId } = await openTopic();
    fake.failNext('sendMessage', { error_code: 502, description: 'Bad Gateway' });
    await send(sessionId, 'eventually');
    await pp.flushDeliveries();
    expect(fake.topicMessages(threadId).at(-1)!.visible).toBe('eventually');
  });

  it('a failed post after the topic was created reuses the topic on retry', async () => {
    const { fake, pp, connect, send, threadOf } = await setup();
    const sessionId = await connect();
    fake.failNext('sendMessage', TOO_MANY);
    await send(sessionId, 'first words');
    await pp.flushDeliveries();
    expect(fake.callsOf('createForumTopic')).toHaveLength(1);
    const threadId = await threadOf(sessionId);
    const posted = fake.topicMessages(threadId!);
    expect(posted.map((m) => m.visible)).toEqual([expect.stringContaining('Page:'), 'first words']);
  });

  it('posts to the group are paced to the configured rate', async () => {
    const { fake, openTopic } = await setup({ bridge: { rateLimit: { max: 2, windowMs: 400 } } });
    await openTopic();
    const paced = fake.calls.filter((c) => c.method === 'createForumTopic' || c.method === 'sendMessage');
    expect(paced.map((c) => c.method)).toEqual(['createForumTopic', 'sendMessage', 'sendMessage']);
    expect(paced[2]!.at - paced[0]!.at).toBeGreaterThanOrEqual(390);
  });
});
