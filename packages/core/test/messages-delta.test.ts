import { describe, expect, it } from 'vitest';
import { expectCode, expectNoNulls, harness, newSession, sendVisitor, sleep } from './helpers.js';

/**
 * Waits until the wall clock is past `iso`. Server timestamps are strictly increasing and may
 * run a few milliseconds ahead of the wall clock during bursts; `after` is clamped to "now".
 */
async function clockPast(iso: string): Promise<void> {
  while (Date.now() <= Date.parse(iso)) await sleep(2);
}

describe('GET /messages (polling delta)', () => {
  it('without after returns the whole history ascending', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'a');
    await pp.sendMessage(sessionId, { content: 'b' });
    await sendVisitor(pp, sessionId, 'c');
    const res = await pp.handleGetMessages({ sessionId });
    expect(res.messages.map((m) => m.content)).toEqual(['a', 'b', 'c']);
    expectNoNulls(res);
  });

  it('reads after as an ISO timestamp and returns only what came after it', async () => {
    const { pp } = await harness({ afterSlackMs: 0 }, []);
    const sessionId = await newSession(pp);
    const first = await sendVisitor(pp, sessionId, 'old');
    await pp.sendMessage(sessionId, { content: 'new 1' });
    await sendVisitor(pp, sessionId, 'new 2');
    await clockPast(first.timestamp);
    const res = await pp.handleGetMessages({ sessionId, after: first.timestamp });
    expect(res.messages.map((m) => m.content)).toEqual(['new 1', 'new 2']);
  });

  it('does not read after as a message id', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const { messageId } = await sendVisitor(pp, sessionId, 'x');
    await expectCode(pp.handleGetMessages({ sessionId, after: messageId }), 'VALIDATION_FAILED');
  });

  it('rejects an invalid after with VALIDATION_FAILED and a message naming after', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const err = await expectCode(pp.handleGetMessages({ sessionId, after: 'yesterday-ish' }), 'VALIDATION_FAILED');
    expect(err.message).toContain('after');
  });

  it('answers SESSION_NOT_FOUND for an unknown session', async () => {
    const { pp } = await harness();
    await expectCode(pp.handleGetMessages({ sessionId: 'ses_unknown' }), 'SESSION_NOT_FOUND');
  });

  it('still returns new messages to a client whose clock runs ahead of the server', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const clientAhead = new Date(Date.now() + 3_600_000).toISOString();
    await pp.sendMessage(sessionId, { content: 'reply while you wait' });
    const res = await pp.handleGetMessages({ sessionId, after: clientAhead });
    expect(res.messages.map((m) => m.content)).toEqual(['reply while you wait']);
  });

  it('tolerates a client clock a little behind: messages just before after are included again', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const { timestamp } = await sendVisitor(pp, sessionId, 'edge');
    // The widget's cursor may equal the newest timestamp it has; the slack returns it again (merged by id).
    const res = await pp.handleGetMessages({ sessionId, after: timestamp });
    expect(res.messages.map((m) => m.content)).toEqual(['edge']);
  });

  it('includes a message edited after the cursor, with its new content and editedAt', async () => {
    const { pp } = await harness({ afterSlackMs: 0 }, []);
    const sessionId = await newSession(pp);
    const { messageId } = await sendVisitor(pp, sessionId, 'typo');
    const { timestamp: cursor } = await sendVisitor(pp, sessionId, 'later');
    await clockPast(cursor);
    await pp.handleEditMessage(messageId, { sessionId, content: 'fixed' });
    const res = await pp.handleGetMessages({ sessionId, after: cursor });
    expect(res.messages).toHaveLength(1);
    expect(res.messages[0]).toMatchObject({ id: messageId, content: 'fixed', editedAt: expect.any(String) });
  });

  it('includes a deleted message with deletedAt, never leaves it out', async () => {
    const { pp } = await harness({ afterSlackMs: 0 }, []);
    const sessionId = await newSession(pp);
    const { messageId } = await sendVisitor(pp, sessionId, 'oops');
    const { timestamp: cursor } = await sendVisitor(pp, sessionId, 'later');
    await clockPast(cursor);
    await pp.handleDeleteMessage(messageId, { sessionId });
    const res = await pp.handleGetMessages({ sessionId, after: cursor });
    expect(res.messages).toHaveLength(1);
    expect(res.messages[0]).toMatchObject({ id: messageId, content: '', deletedAt: expect.any(String) });
    // Without a cursor too.
    const all = await pp.handleGetMessages({ sessionId });
    expect(all.messages.find((m) => m.id === messageId)?.deletedAt).toBeTruthy();
  });

  it('includes a visitor message delivered to a bridge after the cursor', async () => {
    const { pp } = await harness({ afterSlackMs: 0 });
    const sessionId = await newSession(pp);
    const { messageId, timestamp } = await sendVisitor(pp, sessionId, 'hello');
    await pp.flushDeliveries();
    const res = await pp.handleGetMessages({ sessionId, after: timestamp });
    expect(res.messages).toEqual([
      expect.objectContaining({ id: messageId, status: 'delivered', deliveredAt: expect.any(String) }),
    ]);
  });

  it('includes operator messages read after the cursor', async () => {
    const { pp } = await harness({ afterSlackMs: 0 }, []);
    const sessionId = await newSession(pp);
    const m = await pp.sendMessage(sessionId, { content: 'hi' });
    await pp.handleRead({ sessionId, messageIds: [m.id], status: 'read' });
    const res = await pp.handleGetMessages({ sessionId, after: m.timestamp.toISOString() });
    expect(res.messages).toEqual([expect.objectContaining({ id: m.id, status: 'read', readAt: expect.any(String) })]);
  });

  it('includes visitor messages the operator read after the cursor', async () => {
    const { pp } = await harness({ afterSlackMs: 0 }, []);
    const sessionId = await newSession(pp);
    const { messageId, timestamp } = await sendVisitor(pp, sessionId, 'hello');
    await pp.markVisitorMessagesRead(sessionId);
    const res = await pp.handleGetMessages({ sessionId, after: timestamp });
    expect(res.messages).toEqual([expect.objectContaining({ id: messageId, status: 'read' })]);
  });

  it('returns changes ascending by timestamp', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const first = await sendVisitor(pp, sessionId, 'first');
    await sendVisitor(pp, sessionId, 'second');
    await pp.handleEditMessage(first.messageId, { sessionId, content: 'first, edited' });
    const res = await pp.handleGetMessages({ sessionId, after: new Date(Date.now() - 1000).toISOString() });
    expect(res.messages.map((m) => m.content)).toEqual(['first, edited', 'second']);
  });

  it('keeps the newest messages when the delta is capped', async () => {
    const { pp } = await harness({ historyLimit: 2 });
    const sessionId = await newSession(pp);
    for (const c of ['1', '2', '3', '4']) await sendVisitor(pp, sessionId, c);
    const res = await pp.handleGetMessages({ sessionId });
    expect(res.messages.map((m) => m.content)).toEqual(['3', '4']);
    expect(res.hasMore).toBe(true);
  });
});
