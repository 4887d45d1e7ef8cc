import { MemoryBridge } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { connect, expectCode, harness, newSession, sendVisitor, tab, until, visitorId } from './helpers.js';

describe('PATCH /message/{id} (visitor edit)', () => {
  it('answers { message: { id, content, editedAt } } exactly', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const { messageId } = await sendVisitor(pp, sessionId, 'helo');
    const res = await pp.handleEditMessage(messageId, { sessionId, content: 'hello' });
    expect(res).toEqual({ message: { id: messageId, content: 'hello', editedAt: expect.any(String) } });
    expect(new Date(res.message.editedAt).toISOString()).toBe(res.message.editedAt);
  });

  it('stores the content trimmed with editedAt', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    const { messageId } = await sendVisitor(pp, sessionId, 'before');
    const res = await pp.handleEditMessage(messageId, { sessionId, content: '  after \n' });
    expect(res.message.content).toBe('after');
    const [stored] = await storage.getMessages(sessionId);
    expect(stored).toMatchObject({ content: 'after', editedAt: new Date(res.message.editedAt) });
  });

  it('broadcasts message_edited to the session', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const { messageId } = await sendVisitor(pp, sessionId, 'before');
    const t = tab(pp, sessionId);
    const res = await pp.handleEditMessage(messageId, { sessionId, content: 'after' });
    expect(t.of('message_edited')).toEqual([
      { type: 'message_edited', data: { messageId, content: 'after', editedAt: res.message.editedAt }, seq: 2 },
    ]);
  });

  it('syncs the edit to the bridge message with the platform id', async () => {
    const { pp, bridge } = await harness();
    const sessionId = await newSession(pp);
    const { messageId } = await sendVisitor(pp, sessionId, 'before');
    await pp.flushDeliveries();
    await pp.handleEditMessage(messageId, { sessionId, content: 'after' });
    await pp.flushDeliveries();
    const [posted] = bridge.thread(bridge.threadOf(sessionId)!);
    expect(posted).toMatchObject({ text: 'after', edited: true });
  });

  it("answers MESSAGE_NOT_FOUND for another session's message and changes nothing", async () => {
    const { pp, storage } = await harness();
    const a = await newSession(pp);
    const b = await newSession(pp);
    const { messageId } = await sendVisitor(pp, a, 'mine');
    await expectCode(pp.handleEditMessage(messageId, { sessionId: b, content: 'hijacked' }), 'MESSAGE_NOT_FOUND');
    expect((await storage.getMessages(a))[0]!.content).toBe('mine');
  });

  it('answers MESSAGE_FORBIDDEN for an operator message', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const m = await pp.sendMessage(sessionId, { content: 'operator text' });
    await expectCode(pp.handleEditMessage(m.id, { sessionId, content: 'changed' }), 'MESSAGE_FORBIDDEN');
  });

  it('answers MESSAGE_DELETED for a deleted message', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const { messageId } = await sendVisitor(pp, sessionId, 'gone');
    await pp.handleDeleteMessage(messageId, { sessionId });
    await expectCode(pp.handleEditMessage(messageId, { sessionId, content: 'back' }), 'MESSAGE_DELETED');
  });

  it('answers a leaked temp- id with a clean MESSAGE_NOT_FOUND', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const err = await expectCode(
      pp.handleEditMessage('temp-lx2abc-k3j4h5g6f', { sessionId, content: 'x' }),
      'MESSAGE_NOT_FOUND',
    );
    expect(err.message).not.toMatch(/undefined|null|TypeError/);
  });

  it('rejects empty and too long content', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const { messageId } = await sendVisitor(pp, sessionId, 'x');
    await expectCode(pp.handleEditMessage(messageId, { sessionId, content: '   ' }), 'MESSAGE_EMPTY');
    await expectCode(pp.handleEditMessage(messageId, { sessionId, content: 'z'.repeat(4001) }), 'MESSAGE_TOO_LONG');
  });

  it('answers SESSION_NOT_FOUND for an unknown session', async () => {
    const { pp } = await harness();
    await expectCode(pp.handleEditMessage('msg_x', { sessionId: 'ses_nope', content: 'x' }), 'SESSION_NOT_FOUND');
  });

  it('shows the edit in the history of the next connect', async () => {
    const { pp } = await harness();
    const vid = visitorId();
    const { sessionId } = await connect(pp, { visitorId: vid });
    const { messageId } = await sendVisitor(pp, sessionId, 'before');
    await pp.handleEditMessage(messageId, { sessionId, content: 'after' });
    const [m] = (await connect(pp, { visitorId: vid, sessionId })).messages;
    expect(m).toMatchObject({ id: messageId, content: 'after', editedAt: expect.any(String) });
  });
});

describe('DELETE /message/{id}?sessionId= (visitor delete)', () => {
  it('answers { deleted: true } and soft-deletes with deletedAt', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    const { messageId } = await sendVisitor(pp, sessionId, 'oops');
    expect(await pp.handleDeleteMessage(messageId, { sessionId })).toEqual({ deleted: true });
    const [stored] = await storage.getMessages(sessionId);
    expect(stored!.id).toBe(messageId);
    expect(stored!.deletedAt).toBeInstanceOf(Date);
  });

  it('broadcasts message_deleted to the session', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const { messageId } = await sendVisitor(pp, sessionId, 'oops');
    const t = tab(pp, sessionId);
    await pp.handleDeleteMessage(messageId, { sessionId });
    expect(t.of('message_deleted')).toEqual([
      { type: 'message_deleted', data: { messageId, deletedAt: expect.any(String) }, seq: 2 },
    ]);
  });

  it('syncs the delete to the bridge message with the platform id', async () => {
    const { pp, bridge } = await harness();
    const sessionId = await newSession(pp);
    const { messageId } = await sendVisitor(pp, sessionId, 'oops');
    await pp.flushDeliveries();
    await pp.handleDeleteMessage(messageId, { sessionId });
    await pp.flushDeliveries();
    expect(bridge.thread(bridge.threadOf(sessionId)!)[0]).toMatchObject({ deleted: true });
  });

  it('a message deleted while its delivery waits for a retry is never posted there', async () => {
    let failNext = false;
    class StallingBridge extends MemoryBridge {
      override async onVisitorMessage(...args: Parameters<MemoryBridge['onVisitorMessage']>) {
        if (failNext) {
          failNext = false;
          throw new Error('platform hiccup');
        }
        return super.onVisitorMessage(...args);
      }
    }
    const bridge = new StallingBridge();
    const { pp } = await harness({ delivery: { baseDelayMs: 30, maxDelayMs: 30 } }, [bridge]);
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'first');
    await pp.flushDeliveries();
    failNext = true;
    const { messageId } = await sendVisitor(pp, sessionId, 'second');
    await until(() => !failNext);
    await pp.handleDeleteMessage(messageId, { sessionId });
    await pp.flushDeliveries();
    expect(bridge.thread(bridge.threadOf(sessionId)!).map((m) => m.text)).toEqual(['first']);
  });

  it('shows a deleted message with deletedAt and no content in the next connect', async () => {
    const { pp } = await harness();
    const vid = visitorId();
    const { sessionId } = await connect(pp, { visitorId: vid });
    const { messageId } = await sendVisitor(pp, sessionId, 'secret');
    await pp.handleDeleteMessage(messageId, { sessionId });
    const [m] = (await connect(pp, { visitorId: vid, sessionId })).messages;
    expect(m).toMatchObject({ id: messageId, content: '', deletedAt: expect.any(String) });
  });

  it("answers MESSAGE_NOT_FOUND for another session's message", async () => {
    const { pp, storage } = await harness();
    const a = await newSession(pp);
    const b = await newSession(pp);
    const { messageId } = await sendVisitor(pp, a, 'mine');
    await expectCode(pp.handleDeleteMessage(messageId, { sessionId: b }), 'MESSAGE_NOT_FOUND');
    expect((await storage.getMessages(a))[0]!.deletedAt).toBeUndefined();
  });

  it('answers MESSAGE_FORBIDDEN for an operator message', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const m = await pp.sendMessage(sessionId, { content: 'operator text' });
    await expectCode(pp.handleDeleteMessage(m.id, { sessionId }), 'MESSAGE_FORBIDDEN');
  });

  it('answers MESSAGE_DELETED when deleting twice', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const { messageId } = await sendVisitor(pp, sessionId, 'x');
    await pp.handleDeleteMessage(messageId, { sessionId });
    await expectCode(pp.handleDeleteMessage(messageId, { sessionId }), 'MESSAGE_DELETED');
  });

  it('answers a leaked temp- id with a clean MESSAGE_NOT_FOUND', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    await expectCode(pp.handleDeleteMessage('temp-lx2abc-k3j4h5g6f', { sessionId }), 'MESSAGE_NOT_FOUND');
  });

  it('requires the sessionId (from the query string)', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const { messageId } = await sendVisitor(pp, sessionId, 'x');
    await expectCode(pp.handleDeleteMessage(messageId, {}), 'VALIDATION_FAILED');
  });
});

describe('operator edits and deletes from a bridge', () => {
  it('an operator edit on the platform reaches the widget and the history', async () => {
    const { pp, bridge, storage } = await harness();
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'hi');
    await pp.flushDeliveries();
    const reply = await bridge.reply(bridge.threadOf(sessionId)!, 'Hellp');
    const t = tab(pp, sessionId);
    const pid = reply.bridgeMessageIds!.memory!;
    await bridge.editReply(pid, 'Hello');
    expect(t.of('message_edited')[0]!.data).toMatchObject({ messageId: reply.id, content: 'Hello' });
    expect((await storage.getMessages(sessionId)).find((m) => m.id === reply.id)!.content).toBe('Hello');
  });

  it('an operator delete on the platform reaches the widget', async () => {
    const { pp, bridge } = await harness();
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'hi');
    await pp.flushDeliveries();
    const reply = await bridge.reply(bridge.threadOf(sessionId)!, 'wrong chat');
    const t = tab(pp, sessionId);
    await bridge.deleteReply(reply.bridgeMessageIds!.memory!);
    expect(t.of('message_deleted')[0]!.data).toMatchObject({ messageId: reply.id });
  });
});
