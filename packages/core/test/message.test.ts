import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../src/index.js';
import {
  BASE_URL,
  CTX,
  connect,
  expectCode,
  expectNoNulls,
  harness,
  newSession,
  sendVisitor,
  tab,
  visitorId,
} from './helpers.js';

describe('POST /message', () => {
  it("stores the visitor's message with status sent", async () => {
    const { pp, storage } = await harness({}, []);
    const sessionId = await newSession(pp);
    const { messageId } = await sendVisitor(pp, sessionId, 'Hello');
    const [stored] = await storage.getMessages(sessionId);
    expect(stored).toMatchObject({ id: messageId, content: 'Hello', sender: 'visitor', status: 'sent' });
  });

  it('answers { messageId, timestamp } with an ISO timestamp and no nulls', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const res = await sendVisitor(pp, sessionId, 'Hello');
    expect(Object.keys(res).sort()).toEqual(['messageId', 'timestamp']);
    expect(res.messageId).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(new Date(res.timestamp).toISOString()).toBe(res.timestamp);
    expectNoNulls(res);
  });

  it('keeps the content byte-identical: surrounding spaces and newlines are not trimmed', async () => {
    const { pp, storage } = await harness();
    const vid = visitorId();
    const sessionId = (await connect(pp, { visitorId: vid })).sessionId;
    const t = tab(pp, sessionId);
    const content = '  Hello\n\n  second line\t \n';
    await sendVisitor(pp, sessionId, content);
    expect((await storage.getMessages(sessionId))[0]!.content).toBe(content);
    expect(t.of('message')[0]!.data.content).toBe(content);
    expect((await connect(pp, { visitorId: vid, sessionId })).messages[0]!.content).toBe(content);
  });

  it("forces sender visitor even when the body claims 'operator'", async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    const t = tab(pp, sessionId);
    await pp.handleMessage({ sessionId, content: 'I am the operator', sender: 'operator', attachmentIds: [] });
    expect((await storage.getMessages(sessionId))[0]!.sender).toBe('visitor');
    expect(t.of('message')[0]!.data.sender).toBe('visitor');
  });

  it('rejects content over 4000 characters with MESSAGE_TOO_LONG and stores nothing', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    await expectCode(sendVisitor(pp, sessionId, 'x'.repeat(4001)), 'MESSAGE_TOO_LONG');
    expect(await storage.getMessages(sessionId)).toEqual([]);
  });

  it('accepts exactly 4000 characters without truncating', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    const content = 'y'.repeat(4000);
    await sendVisitor(pp, sessionId, content);
    expect((await storage.getMessages(sessionId))[0]!.content).toBe(content);
  });

  it('counts an emoji as one character', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    // 4000 emoji are 8000 UTF-16 code units but 4000 characters.
    const content = '😀'.repeat(4000);
    await sendVisitor(pp, sessionId, content);
    expect((await storage.getMessages(sessionId))[0]!.content).toBe(content);
    await expectCode(sendVisitor(pp, sessionId, '😀'.repeat(4001)), 'MESSAGE_TOO_LONG');
  });

  it('rejects empty content without attachments', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    await expectCode(sendVisitor(pp, sessionId, ''), 'MESSAGE_EMPTY');
    await expectCode(sendVisitor(pp, sessionId, '   \n'), 'MESSAGE_EMPTY');
    expect(await storage.getMessages(sessionId)).toEqual([]);
  });

  it('rejects a message for an unknown session with SESSION_NOT_FOUND', async () => {
    const { pp } = await harness();
    await expectCode(sendVisitor(pp, 'ses_nope', 'hi'), 'SESSION_NOT_FOUND');
    await expectCode(sendVisitor(pp, '../x', 'hi'), 'SESSION_NOT_FOUND');
  });

  it('stores a plain message in one storage call, without reading the session first', async () => {
    const { pp, storage } = await harness({}, []);
    const sessionId = await newSession(pp);
    // Calls PocketPing makes (MemoryStorage's own calls to itself inside one are not counted).
    const calls: string[] = [];
    let inside = false;
    for (const name of ['getSession', 'saveMessage', 'updateSession', 'saveMessageWithSession'] as const) {
      const original = storage[name].bind(storage) as (...args: unknown[]) => Promise<unknown>;
      (storage as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
        if (inside) return original(...args);
        calls.push(name);
        inside = true;
        try {
          return await original(...args);
        } finally {
          inside = false;
        }
      };
    }
    await sendVisitor(pp, sessionId, 'one trip');
    expect(calls).toEqual(['saveMessageWithSession']);
  });

  it('stores nothing for an unknown session, with or without the combined storage write', async () => {
    for (const combined of [true, false]) {
      const storage = new MemoryStorage();
      if (!combined) (storage as { saveMessageWithSession?: unknown }).saveMessageWithSession = undefined;
      const { pp } = await harness({ storage }, []);
      await expectCode(sendVisitor(pp, 'ses_nosuchsession0000000000', 'hi'), 'SESSION_NOT_FOUND');
      expect(await storage.getMessages('ses_nosuchsession0000000000')).toEqual([]);
      // And a known session works on both paths, reopening it when closed.
      const sessionId = await newSession(pp);
      await pp.closeSession(sessionId);
      await sendVisitor(pp, sessionId, `combined=${combined}`);
      expect(await storage.getSession(sessionId)).toMatchObject({ status: 'open', hasVisitorMessage: true });
      expect((await storage.getMessages(sessionId)).map((m) => m.content)).toEqual([`combined=${combined}`]);
    }
  });

  it('rejects a body without content as a validation error', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    await expectCode(pp.handleMessage({ sessionId, attachmentIds: [] }), 'VALIDATION_FAILED');
  });

  it('accepts the widget body with attachmentIds present and replyTo absent', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const res = await pp.handleMessage({ sessionId, content: 'x', sender: 'visitor', attachmentIds: [] });
    expect(res.messageId).toBeTruthy();
  });

  it('resolves replyTo into the object form in the echo and in history', async () => {
    const { pp } = await harness();
    const vid = visitorId();
    const sessionId = (await connect(pp, { visitorId: vid })).sessionId;
    const operator = await pp.sendMessage(sessionId, { content: 'Which plan are you on?' });
    const t = tab(pp, sessionId);
    const { messageId } = await sendVisitor(pp, sessionId, 'Pro', { replyTo: operator.id });
    const expected = { id: operator.id, content: 'Which plan are you on?', sender: 'operator' };
    expect(t.of('message')[0]!.data.replyTo).toEqual(expected);
    const history = (await connect(pp, { visitorId: vid, sessionId })).messages;
    expect(history.find((m) => m.id === messageId)!.replyTo).toEqual(expected);
  });

  it('drops an unknown replyTo (a leaked temp- id) without failing', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    const t = tab(pp, sessionId);
    const res = await sendVisitor(pp, sessionId, 'hi', { replyTo: 'temp-lx2abc-k3j4h5g6f' });
    expect(res.messageId).toBeTruthy();
    expect((await storage.getMessages(sessionId))[0]).not.toHaveProperty('replyTo');
    expect(t.of('message')[0]!.data).not.toHaveProperty('replyTo');
  });

  it("drops a replyTo that names another session's message", async () => {
    const { pp, storage } = await harness();
    const a = await newSession(pp);
    const b = await newSession(pp);
    const other = await pp.sendMessage(a, { content: 'secret of A' });
    await sendVisitor(pp, b, 'hi', { replyTo: other.id });
    expect((await storage.getMessages(b))[0]).not.toHaveProperty('replyTo');
  });

  it('echoes the message to every tab of the session with status sent and identical content', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const tabs = [tab(pp, sessionId), tab(pp, sessionId), tab(pp, sessionId)];
    const content = ' multi\ntab ';
    const { messageId, timestamp } = await sendVisitor(pp, sessionId, content);
    for (const t of tabs) {
      const echoes = t.of('message');
      expect(echoes).toHaveLength(1);
      expect(echoes[0]!.data).toMatchObject({
        id: messageId,
        sessionId,
        content,
        sender: 'visitor',
        status: 'sent',
        timestamp,
      });
      expectNoNulls(echoes[0]);
    }
  });

  it('does not echo the message to other sessions', async () => {
    const { pp } = await harness();
    const a = await newSession(pp);
    const b = await newSession(pp);
    const other = tab(pp, b);
    await sendVisitor(pp, a, 'only for A');
    expect(other.frames).toEqual([]);
  });

  it('forwards the message to the bridge and marks it delivered with a read event', async () => {
    const { pp, bridge, storage } = await harness();
    const sessionId = await newSession(pp);
    const t = tab(pp, sessionId);
    const { messageId } = await sendVisitor(pp, sessionId, 'Need help');
    await pp.flushDeliveries();
    const threadId = bridge.threadOf(sessionId)!;
    expect(bridge.thread(threadId).map((m) => m.text)).toEqual(['Need help']);
    const stored = (await storage.getMessages(sessionId))[0]!;
    expect(stored.status).toBe('delivered');
    expect(stored.deliveredAt).toBeInstanceOf(Date);
    const [receipt] = t.of('read');
    expect(receipt!.data).toEqual({
      sessionId,
      messageIds: [messageId],
      status: 'delivered',
      deliveredAt: stored.deliveredAt!.toISOString(),
    });
  });

  it('keeps the platform message id and the thread for later edits and replies', async () => {
    const { pp, bridge, storage } = await harness();
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'first');
    await pp.flushDeliveries();
    const stored = (await storage.getMessages(sessionId))[0]!;
    const threadId = bridge.threadOf(sessionId)!;
    expect((await storage.getSession(sessionId))!.bridgeThreads).toEqual({ memory: threadId });
    expect(stored.bridgeMessageIds?.memory).toBe(bridge.thread(threadId)[0]!.platformMessageId);
  });

  it('runs the onMessage hook and emits message.created', async () => {
    const seen: string[] = [];
    const { pp } = await harness({
      onMessage: (m) => {
        seen.push(`hook:${m.content}`);
      },
    });
    pp.on('message.created', (e) => {
      seen.push(`event:${e.message.content}`);
    });
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'hi');
    expect(seen).toEqual(['hook:hi', 'event:hi']);
  });

  it('reopens a closed session when the visitor writes again', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'hi');
    await pp.closeSession(sessionId);
    expect((await storage.getSession(sessionId))!.status).toBe('closed');
    await sendVisitor(pp, sessionId, 'me again');
    expect((await storage.getSession(sessionId))!.status).toBe('open');
  });
});

describe('POST /message with attachments', () => {
  async function upload(h: Awaited<ReturnType<typeof harness>>, sessionId: string, name = 'a.pdf') {
    const bytes = new TextEncoder().encode('%PDF-1.4 test');
    const { attachmentId } = await h.pp.handleUploadRequest(
      { sessionId, filename: name, mimeType: 'application/pdf', size: bytes.byteLength },
      CTX,
    );
    await h.pp.handleUploadData(attachmentId, bytes);
    return h.pp.handleUploadComplete({ sessionId, attachmentId }, CTX);
  }

  it('links ready attachments and returns them in the response and the echo', async () => {
    const h = await harness();
    const sessionId = await newSession(h.pp);
    const t = tab(h.pp, sessionId);
    const att = await upload(h, sessionId);
    const res = await h.pp.handleMessage({ sessionId, content: '', sender: 'visitor', attachmentIds: [att.id] }, CTX);
    const wire = {
      id: att.id,
      filename: 'a.pdf',
      mimeType: 'application/pdf',
      size: 13,
      url: att.url,
      status: 'ready',
    };
    expect(res.attachments).toEqual([wire]);
    expect(res.attachments![0]!.url.startsWith(`${BASE_URL}/`)).toBe(true);
    expect(t.of('message')[0]!.data).toMatchObject({ content: '', attachments: [wire] });
  });

  it("rejects another session's attachment", async () => {
    const h = await harness();
    const a = await newSession(h.pp);
    const b = await newSession(h.pp);
    const att = await upload(h, a);
    await expectCode(
      h.pp.handleMessage({ sessionId: b, content: 'look', attachmentIds: [att.id] }),
      'ATTACHMENT_NOT_FOUND',
    );
  });

  it('rejects an attachment that is not uploaded and completed', async () => {
    const h = await harness();
    const sessionId = await newSession(h.pp);
    const pending = await h.pp.handleUploadRequest(
      { sessionId, filename: 'x.png', mimeType: 'image/png', size: 3 },
      CTX,
    );
    await expectCode(
      h.pp.handleMessage({ sessionId, content: 'x', attachmentIds: [pending.attachmentId] }),
      'ATTACHMENT_NOT_READY',
    );
    await h.pp.handleUploadData(pending.attachmentId, new Uint8Array([1, 2, 3]));
    // Bytes arrived but /upload/complete was not called yet.
    await expectCode(
      h.pp.handleMessage({ sessionId, content: 'x', attachmentIds: [pending.attachmentId] }),
      'ATTACHMENT_NOT_READY',
    );
  });

  it('rejects an unknown attachment id', async () => {
    const h = await harness();
    const sessionId = await newSession(h.pp);
    await expectCode(
      h.pp.handleMessage({ sessionId, content: 'x', attachmentIds: ['att_nope'] }),
      'ATTACHMENT_NOT_FOUND',
    );
  });

  it('does not let one attachment be sent twice', async () => {
    const h = await harness();
    const sessionId = await newSession(h.pp);
    const att = await upload(h, sessionId);
    await h.pp.handleMessage({ sessionId, content: '', attachmentIds: [att.id] });
    await expectCode(h.pp.handleMessage({ sessionId, content: '', attachmentIds: [att.id] }), 'ATTACHMENT_NOT_FOUND');
  });

  it('shows the attachment in the reply quote of a later message', async () => {
    const h = await harness();
    const sessionId = await newSession(h.pp);
    const att = await upload(h, sessionId, 'photo.png');
    const { messageId } = await h.pp.handleMessage({ sessionId, content: '', attachmentIds: [att.id] });
    const t = tab(h.pp, sessionId);
    await h.pp.sendMessage(sessionId, { content: 'Thanks', replyTo: messageId });
    expect(t.of('message')[0]!.data.replyTo).toEqual({
      id: messageId,
      content: '',
      sender: 'visitor',
      hasAttachment: true,
      attachmentType: 'application/pdf',
    });
  });
});
