import {
  attachWidgetSocket,
  MemoryStorage,
  type Message,
  openSseStream,
  type PocketPing,
  type Storage,
  type WidgetSocket,
} from '@pocketping/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Envelope, harness, newSession, sendVisitor, until } from './helpers.js';

/** A widget WebSocket as attachWidgetSocket sees it; the test plays the browser's pongs. */
class FakeSocket implements WidgetSocket {
  readyState = 1;
  bufferedAmount = 0;
  received: Envelope[] = [];
  pings = 0;
  send(data: string | Uint8Array): void {
    const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
    this.received.push(JSON.parse(text) as Envelope);
  }
  close(): void {
    this.readyState = 3;
  }
  ping(): void {
    this.pings++;
  }
  /** Contents of the `message` frames received, in order. */
  contents(): string[] {
    return this.received.filter((e) => e.type === 'message').map((e) => e.data.content as string);
  }
}

/** Opens a widget socket and waits for its catch-up (it pings right after). */
async function openSocket(pp: PocketPing, sessionId: string) {
  const socket = new FakeSocket();
  const handle = attachWidgetSocket(pp, socket, sessionId);
  await until(() => socket.pings > 0, 2000, 'the catch-up ping');
  return { socket, handle };
}

async function records(storage: Storage, sessionId: string) {
  return (await storage.getSession(sessionId))?.streamResume ?? [];
}

describe('gap-free resume of widget WebSockets', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('every event envelope about a message carries the seq the storage gave it', async () => {
    const { pp, storage } = await harness({}, []);
    const sessionId = await newSession(pp);
    const { socket } = await openSocket(pp, sessionId);
    const sent = await pp.sendMessage(sessionId, { content: 'hi' });
    await sendVisitor(pp, sessionId, 'hello');
    await pp.markVisitorMessagesRead(sessionId);
    const stored = await storage.getMessages(sessionId);
    expect(socket.received.map((e) => [e.type, (e as { seq?: number }).seq])).toEqual([
      ['message', sent.seq],
      ['message', 2],
      ['read', 3],
    ]);
    expect(stored.map((m) => m.seq)).toEqual([1, 3]);
    // Events that do not stand for a stored change carry none.
    pp.setOperatorTyping(sessionId, true);
    expect(socket.received.at(-1)).toEqual({
      type: 'typing',
      data: { sessionId, sender: 'operator', isTyping: true },
    });
  });

  it('a socket that reopens after a long gap gets exactly what its widget missed', async () => {
    const { pp, storage } = await harness({}, []);
    const sessionId = await newSession(pp);
    const hello = await sendVisitor(pp, sessionId, 'hello');
    const a = await openSocket(pp, sessionId);
    a.handle.onPong(); // the browser answers the catch-up ping
    await pp.sendMessage(sessionId, { content: 'r1' });
    a.handle.ping();
    a.handle.onPong(); // r1 confirmed
    a.socket.close();
    a.handle.onClose(1006);
    await until(async () => (await records(storage, sessionId)).length === 1, 2000, 'the resume record');
    expect(await records(storage, sessionId)).toEqual([{ seq: 2, at: expect.any(Date) }]);

    // While the widget is away: two replies and an edit of the visitor's own message.
    await pp.sendMessage(sessionId, { content: 'r2' });
    await pp.sendMessage(sessionId, { content: 'r3' });
    await pp.handleEditMessage(hello.messageId, { sessionId, content: 'hello (edited)' });
    // Ten minutes pass (a laptop asleep): a replay of "the last two minutes" would find nothing.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 10 * 60_000 });

    const b = await openSocket(pp, sessionId);
    expect(b.socket.contents()).toEqual(['hello (edited)', 'r2', 'r3']);
    // The reopened socket used the record up.
    expect(await records(storage, sessionId)).toEqual([]);
  });

  it('frames the widget never confirmed with a pong are sent again', async () => {
    const { pp, storage } = await harness({}, []);
    const sessionId = await newSession(pp);
    const a = await openSocket(pp, sessionId);
    a.handle.onPong();
    await pp.sendMessage(sessionId, { content: 'maybe lost' });
    a.handle.ping(); // no pong: the peer is gone
    expect(a.socket.contents()).toEqual(['maybe lost']);
    a.socket.close();
    a.handle.onClose(1006);
    await until(async () => (await records(storage, sessionId)).length === 1, 2000, 'the resume record');
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 10 * 60_000 });
    const b = await openSocket(pp, sessionId);
    expect(b.socket.contents()).toEqual(['maybe lost']);
  });

  it('two tabs of one session that dropped at different points each get what they missed', async () => {
    const { pp, storage } = await harness({}, []);
    const sessionId = await newSession(pp);
    const a = await openSocket(pp, sessionId);
    a.handle.onPong();
    await pp.sendMessage(sessionId, { content: 'r1' });
    a.handle.ping();
    a.handle.onPong();
    a.socket.close();
    a.handle.onClose(1006); // tab A stopped after r1
    await until(async () => (await records(storage, sessionId)).length === 1, 2000, 'A record');
    await pp.sendMessage(sessionId, { content: 'r2' });
    // Tab B loads now (/connect with the stored session, then its socket): it must not use up
    // A's record, and replays from it (a few repeats are harmless), then confirms and drops too.
    const session = (await storage.getSession(sessionId))!;
    await pp.handleConnect({ sessionId, visitorId: session.visitorId, metadata: {} });
    const b = await openSocket(pp, sessionId);
    b.handle.onPong();
    expect(b.socket.contents()).toEqual(['r2']);
    expect(await records(storage, sessionId)).toHaveLength(1);
    await pp.sendMessage(sessionId, { content: 'r3' });
    b.socket.close();
    b.handle.onClose(1006);
    await until(async () => (await records(storage, sessionId)).length === 2, 2000, 'B record');
    await pp.sendMessage(sessionId, { content: 'r4' });
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 10 * 60_000 });

    // Whichever reconnects first, neither misses anything after its own point.
    const first = await openSocket(pp, sessionId);
    const second = await openSocket(pp, sessionId);
    for (const s of [first, second]) expect(s.socket.contents()).toEqual(expect.arrayContaining(['r2', 'r3', 'r4']));
    expect(await records(storage, sessionId)).toEqual([]);
  });

  it('two tabs dropping at the same instant both keep their resume point', async () => {
    const { pp, storage } = await harness({}, []);
    const sessionId = await newSession(pp);
    const a = await openSocket(pp, sessionId);
    const b = await openSocket(pp, sessionId);
    a.handle.onPong();
    b.handle.onPong();
    a.handle.onClose(1006);
    b.handle.onClose(1006);
    await until(async () => (await records(storage, sessionId)).length === 2, 2000, 'both records');
  });

  it('a widget that leaves cleanly (page unload, disconnect) records nothing', async () => {
    const { pp, storage } = await harness({}, []);
    const sessionId = await newSession(pp);
    for (const code of [1000, 1001, 1005]) {
      const s = await openSocket(pp, sessionId);
      s.handle.onPong();
      s.handle.onClose(code);
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(await records(storage, sessionId)).toEqual([]);
    const dropped = await openSocket(pp, sessionId);
    dropped.handle.onPong();
    dropped.handle.onClose(1006);
    await until(async () => (await records(storage, sessionId)).length === 1, 2000, 'the record of the dropped socket');
  });

  it('with no record (the first socket after /connect), the last two minutes are replayed', async () => {
    const { pp } = await harness({}, []);
    const sessionId = await newSession(pp);
    await pp.sendMessage(sessionId, { content: 'just now' });
    const s = await openSocket(pp, sessionId);
    expect(s.socket.contents()).toEqual(['just now']);
  });

  it('keeps at most 16 resume records per session and drops those older than a day', async () => {
    const { pp, storage } = await harness({}, []);
    const sessionId = await newSession(pp);
    await pp.sendMessage(sessionId, { content: 'x' });
    await storage.updateSession(sessionId, { streamResume: [{ seq: 0, at: new Date(Date.now() - 25 * 3600_000) }] });
    for (let i = 1; i <= 20; i++) await pp.recordResumePoint(sessionId, i);
    const kept = await records(storage, sessionId);
    expect(kept).toHaveLength(16);
    // The day-old record went; over the cap the highest ones go, so the lowest points stay.
    expect(kept.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  });

  it('a storage without sequence numbers falls back to replaying the last two minutes', async () => {
    const inner = new MemoryStorage();
    const plain: Storage = {
      createSession: (s) => inner.createSession(s),
      getSession: async (id) => {
        const s = await inner.getSession(id);
        if (s) delete s.seq;
        return s;
      },
      saveMessage: async (m) => {
        await inner.saveMessage(m);
      },
      getMessages: async (id, q) =>
        (await inner.getMessages(id, q)).map((m) => {
          const { seq: _hidden, ...rest } = m;
          return rest as Message;
        }),
    };
    const { pp } = await harness({ storage: plain as never }, []);
    const sessionId = await newSession(pp);
    const a = await openSocket(pp, sessionId);
    a.handle.onPong();
    await pp.sendMessage(sessionId, { content: 'r1' });
    expect(a.socket.received.at(-1)).not.toHaveProperty('seq');
    a.handle.onClose(1006);
    const b = await openSocket(pp, sessionId);
    expect(b.socket.contents()).toEqual(['r1']);
  });
});

describe('afterSeq for clients that keep the envelope seq', () => {
  it('GET /messages?afterSeq= returns what was created or changed after that point', async () => {
    const { pp } = await harness({}, []);
    const sessionId = await newSession(pp);
    const one = await sendVisitor(pp, sessionId, 'one');
    const two = await pp.sendMessage(sessionId, { content: 'two' });
    await pp.handleEditMessage(one.messageId, { sessionId, content: 'one!' });
    const res = await pp.handleGetMessages({ sessionId, afterSeq: String(two.seq) });
    expect(res.messages.map((m) => m.content)).toEqual(['one!']);
    await expect(pp.handleGetMessages({ sessionId, afterSeq: '-1' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });

  it('an SSE stream opened with afterSeq replays from there', async () => {
    const { pp } = await harness({}, []);
    const sessionId = await newSession(pp);
    const one = await pp.sendMessage(sessionId, { content: 'one' });
    await pp.sendMessage(sessionId, { content: 'two' });
    const chunks: string[] = [];
    const stop = await openSseStream(pp, {
      sessionId,
      afterSeq: one.seq!,
      write: (c) => {
        chunks.push(c);
      },
      end() {},
    });
    stop();
    const events = chunks.filter((c) => c.startsWith('data: ')).map((c) => JSON.parse(c.slice(6)) as Envelope);
    expect(events.map((e) => e.data.content)).toEqual(['two']);
    expect((events[0] as { seq?: number }).seq).toBe(2);
  });
});
