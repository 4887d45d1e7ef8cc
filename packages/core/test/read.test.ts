import type { Bridge } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { connect, expectCode, harness, newSession, sendVisitor, tab, visitorId } from './helpers.js';

describe('POST /read (visitor read operator messages)', () => {
  it('updates the message in place: no duplicate in the history of the next connect', async () => {
    const { pp } = await harness();
    const vid = visitorId();
    const { sessionId } = await connect(pp, { visitorId: vid });
    const m = await pp.sendMessage(sessionId, { content: 'Hello from support' });
    await pp.handleRead({ sessionId, messageIds: [m.id], status: 'read' });
    const history = (await connect(pp, { visitorId: vid, sessionId })).messages;
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ id: m.id, content: 'Hello from support', status: 'read' });
  });

  it('sets readAt, and deliveredAt when it was empty', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    const m = await pp.sendMessage(sessionId, { content: 'hi' });
    await pp.handleRead({ sessionId, messageIds: [m.id], status: 'read' });
    const [stored] = await storage.getMessages(sessionId);
    expect(stored!.readAt).toBeInstanceOf(Date);
    expect(stored!.deliveredAt).toBeInstanceOf(Date);
  });

  it('keeps an existing deliveredAt', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    const m = await pp.sendMessage(sessionId, { content: 'hi' });
    await pp.handleRead({ sessionId, messageIds: [m.id], status: 'delivered' });
    const delivered = (await storage.getMessages(sessionId))[0]!.deliveredAt!;
    await pp.handleRead({ sessionId, messageIds: [m.id], status: 'read' });
    expect((await storage.getMessages(sessionId))[0]!.deliveredAt).toEqual(delivered);
  });

  it('broadcasts a read event with a messageIds array to every tab', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const a = await pp.sendMessage(sessionId, { content: 'one' });
    const b = await pp.sendMessage(sessionId, { content: 'two', type: 'ai' });
    const tabs = [tab(pp, sessionId), tab(pp, sessionId)];
    const res = await pp.handleRead({ sessionId, messageIds: [a.id, b.id], status: 'read' });
    expect(res).toEqual({ updated: 2 });
    for (const t of tabs) {
      const [event] = t.of('read');
      expect(event!.data).toEqual({
        sessionId,
        messageIds: [a.id, b.id],
        status: 'read',
        readAt: expect.any(String),
        deliveredAt: expect.any(String),
      });
    }
  });

  it("marks only operator and AI messages, never the visitor's own", async () => {
    const { pp, storage } = await harness({}, []);
    const sessionId = await newSession(pp);
    const mine = await sendVisitor(pp, sessionId, 'mine');
    const theirs = await pp.sendMessage(sessionId, { content: 'theirs' });
    const res = await pp.handleRead({ sessionId, messageIds: [mine.messageId, theirs.id], status: 'read' });
    expect(res.updated).toBe(1);
    const byId = new Map((await storage.getMessages(sessionId)).map((m) => [m.id, m]));
    expect(byId.get(mine.messageId)!.status).toBe('sent');
    expect(byId.get(theirs.id)!.status).toBe('read');
  });

  it('a repeated read changes nothing and sends no event', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    const m = await pp.sendMessage(sessionId, { content: 'hi' });
    await pp.handleRead({ sessionId, messageIds: [m.id], status: 'read' });
    const before = (await storage.getMessages(sessionId))[0]!;
    const t = tab(pp, sessionId);
    expect(await pp.handleRead({ sessionId, messageIds: [m.id], status: 'read' })).toEqual({ updated: 0 });
    expect(t.frames).toEqual([]);
    expect((await storage.getMessages(sessionId))[0]).toEqual(before);
  });

  it("ignores unknown ids and another session's messages", async () => {
    const { pp, storage } = await harness();
    const a = await newSession(pp);
    const b = await newSession(pp);
    const other = await pp.sendMessage(b, { content: 'for B' });
    const res = await pp.handleRead({ sessionId: a, messageIds: [other.id, 'temp-x', '../y'], status: 'read' });
    expect(res.updated).toBe(0);
    expect((await storage.getMessages(b))[0]!.status).toBe('sent');
  });

  it('rejects an empty messageIds list and an unknown session', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    await expectCode(pp.handleRead({ sessionId, messageIds: [], status: 'read' }), 'VALIDATION_FAILED');
    await expectCode(pp.handleRead({ sessionId: 'ses_nope', messageIds: ['x'], status: 'read' }), 'SESSION_NOT_FOUND');
  });

  it('tells the bridges which messages were read', async () => {
    const reads: [string[], string][] = [];
    const bridge: Bridge = {
      name: 'reader',
      onMessageRead: (_s, ids, status) => {
        reads.push([ids, status]);
      },
    };
    const { pp } = await harness({}, [bridge]);
    const sessionId = await newSession(pp);
    const m = await pp.sendMessage(sessionId, { content: 'hi' });
    await pp.handleRead({ sessionId, messageIds: [m.id], status: 'read' });
    expect(reads).toEqual([[[m.id], 'read']]);
  });
});

describe('markVisitorMessagesRead (operator read the visitor)', () => {
  it("turns the visitor's ticks to read and broadcasts a read event", async () => {
    const { pp, storage } = await harness({}, []);
    const sessionId = await newSession(pp);
    const one = await sendVisitor(pp, sessionId, 'one');
    const two = await sendVisitor(pp, sessionId, 'two');
    const t = tab(pp, sessionId);
    expect(await pp.markVisitorMessagesRead(sessionId)).toBe(2);
    for (const m of await storage.getMessages(sessionId)) {
      expect(m.status).toBe('read');
      expect(m.readAt).toBeInstanceOf(Date);
      expect(m.deliveredAt).toBeInstanceOf(Date);
    }
    expect(t.of('read')).toEqual([
      {
        type: 'read',
        data: {
          sessionId,
          messageIds: [one.messageId, two.messageId],
          status: 'read',
          readAt: expect.any(String),
          deliveredAt: expect.any(String),
        },
        // Two visitor messages (seq 1 and 2), then each read gets the next number.
        seq: 4,
      },
    ]);
  });

  it('marks only the listed messages, and nothing twice', async () => {
    const { pp, storage } = await harness({}, []);
    const sessionId = await newSession(pp);
    const one = await sendVisitor(pp, sessionId, 'one');
    await sendVisitor(pp, sessionId, 'two');
    expect(await pp.markVisitorMessagesRead(sessionId, [one.messageId])).toBe(1);
    expect(await pp.markVisitorMessagesRead(sessionId, [one.messageId])).toBe(0);
    expect((await storage.getMessages(sessionId)).map((m) => m.status)).toEqual(['read', 'sent']);
  });

  it('leaves operator messages alone', async () => {
    const { pp } = await harness({}, []);
    const sessionId = await newSession(pp);
    const m = await pp.sendMessage(sessionId, { content: 'op' });
    expect(await pp.markVisitorMessagesRead(sessionId, [m.id])).toBe(0);
  });
});
