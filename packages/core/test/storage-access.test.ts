import { type Message, type Session, type Storage, StorageError } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { CTX, connect, expectCode, harness, sendVisitor, tab, visitorId } from './helpers.js';

/** The four methods a user writes first, as upserts over Maps; nothing optional. */
class FourMethodStorage implements Storage {
  sessions = new Map<string, Session>();
  messages = new Map<string, Map<string, Message>>();

  async createSession(session: Session): Promise<void> {
    this.sessions.set(session.id, structuredClone(session));
  }

  async getSession(sessionId: string): Promise<Session | undefined> {
    const s = this.sessions.get(sessionId);
    return s && structuredClone(s);
  }

  async saveMessage(message: Message): Promise<void> {
    const list = this.messages.get(message.sessionId) ?? new Map<string, Message>();
    list.set(message.id, structuredClone(message));
    this.messages.set(message.sessionId, list);
  }

  // Deliberately unsorted and unfiltered: core must sort, filter and cap.
  async getMessages(sessionId: string): Promise<Message[]> {
    return [...(this.messages.get(sessionId)?.values() ?? [])].reverse().map((m) => structuredClone(m));
  }
}

async function fourMethodHarness() {
  const storage = new FourMethodStorage();
  const h = await harness({ storage: storage as unknown as Storage, historyLimit: 3 });
  return { ...h, four: storage };
}

describe('a storage with only the four required methods', () => {
  it('creates and resumes sessions by sessionId', async () => {
    const { pp } = await fourMethodHarness();
    const vid = visitorId();
    const first = await connect(pp, { visitorId: vid });
    const again = await connect(pp, { visitorId: vid, sessionId: first.sessionId });
    expect(again.sessionId).toBe(first.sessionId);
  });

  it('returns history ascending and capped to the newest even when the storage ignores the query', async () => {
    const { pp } = await fourMethodHarness();
    const vid = visitorId();
    const { sessionId } = await connect(pp, { visitorId: vid });
    for (const c of ['1', '2', '3', '4', '5']) await sendVisitor(pp, sessionId, c);
    const res = await connect(pp, { visitorId: vid, sessionId });
    expect(res.messages.map((m) => m.content)).toEqual(['3', '4', '5']);
  });

  it('updates read receipts in place through saveMessage (no duplicates)', async () => {
    const { pp, four } = await fourMethodHarness();
    const { sessionId } = await connect(pp);
    const m = await pp.sendMessage(sessionId, { content: 'hi' });
    await pp.handleRead({ sessionId, messageIds: [m.id], status: 'read' });
    expect(four.messages.get(sessionId)!.size).toBe(1);
    expect(four.messages.get(sessionId)!.get(m.id)!.status).toBe('read');
  });

  it('edits, deletes and the polling delta work', async () => {
    const { pp } = await fourMethodHarness();
    const { sessionId } = await connect(pp);
    const { messageId } = await sendVisitor(pp, sessionId, 'typo');
    await pp.handleEditMessage(messageId, { sessionId, content: 'fixed' });
    const delta = await pp.handleGetMessages({ sessionId, after: new Date(Date.now() - 60_000).toISOString() });
    expect(delta.messages.map((m) => m.content)).toEqual(['fixed']);
    await pp.handleDeleteMessage(messageId, { sessionId });
    await expectCode(pp.handleEditMessage(messageId, { sessionId, content: 'x' }), 'MESSAGE_DELETED');
  });

  it('keeps bridge threads and platform ids so operator replies and edits find their session', async () => {
    const { pp, bridge } = await fourMethodHarness();
    const { sessionId } = await connect(pp);
    await sendVisitor(pp, sessionId, 'hi');
    await pp.flushDeliveries();
    const t = tab(pp, sessionId);
    const reply = await bridge.reply(bridge.threadOf(sessionId)!, 'Hellp');
    await bridge.editReply(reply.bridgeMessageIds!.memory!, 'Hello');
    expect(t.frames.map((f) => f.type)).toEqual(['message', 'message_edited']);
  });

  it('tracks pending uploads in process memory', async () => {
    const { pp } = await fourMethodHarness();
    const { sessionId } = await connect(pp);
    const bytes = new Uint8Array([1, 2, 3]);
    const { attachmentId } = await pp.handleUploadRequest(
      { sessionId, filename: 'a.bin', mimeType: 'application/octet-stream', size: 3 },
      CTX,
    );
    await pp.handleUploadData(attachmentId, bytes);
    const att = await pp.handleUploadComplete({ sessionId, attachmentId }, CTX);
    const res = await pp.handleMessage({ sessionId, content: '', attachmentIds: [att.id] }, CTX);
    expect(res.attachments?.[0]).toMatchObject({ id: att.id, status: 'ready' });
  });

  it('answers STORAGE_NOT_SUPPORTED for listing sessions', async () => {
    const { pp } = await fourMethodHarness();
    const err = await expectCode(pp.getSessions(), 'STORAGE_NOT_SUPPORTED');
    expect(err.message).toContain('listSessions');
  });
});

describe('driver errors', () => {
  it('are wrapped in a StorageError that keeps the cause', async () => {
    const storage = new FourMethodStorage();
    const boom = new Error('connection reset by peer');
    storage.getSession = async () => {
      throw boom;
    };
    const { pp } = await harness({ storage: storage as unknown as Storage });
    const err = await pp.handleMessage({ sessionId: 'ses_x', content: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).code).toBe('STORAGE_UNAVAILABLE');
    expect((err as StorageError).cause).toBe(boom);
  });

  it('make isReady false instead of throwing', async () => {
    const storage = new FourMethodStorage();
    const { pp } = await harness({ storage: storage as unknown as Storage });
    expect(await pp.isReady()).toBe(true);
    storage.getSession = async () => {
      throw new Error('down');
    };
    expect(await pp.isReady()).toBe(false);
  });
});
