import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MemoryStorage } from '@pocketping/core';
import { CLOSE_RESTART, CLOSE_UNKNOWN_SESSION } from '../src/index.js';
import { connect, JSON_HEADERS, openSse, openWs, startServer, type TestServer, until } from './helpers.js';

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

async function send(server: TestServer, sessionId: string, content: string) {
  const res = await fetch(`${server.base}/message`, {
    method: 'POST',
    headers: JSON_HEADERS,
    body: JSON.stringify({ sessionId, content, sender: 'visitor', attachmentIds: [] }),
  });
  return (await res.json()) as { messageId: string; timestamp: string };
}

/** Produces every server event type core emits, in a fixed order. */
async function produceAllEvents(server: TestServer, sessionId: string) {
  const pp = server.pp;
  const { messageId } = await send(server, sessionId, 'hello');
  await fetch(`${server.base}/message/${messageId}`, {
    method: 'PATCH',
    headers: JSON_HEADERS,
    body: JSON.stringify({ sessionId, content: 'hello!' }),
  });
  const op = await pp.sendMessage(sessionId, { content: 'Hi, Ana here', operatorName: 'Ana' });
  await fetch(`${server.base}/read`, {
    method: 'POST',
    headers: JSON_HEADERS,
    body: JSON.stringify({ sessionId, messageIds: [op.id], status: 'read' }),
  });
  await fetch(`${server.base}/message/${messageId}?sessionId=${sessionId}`, {
    method: 'DELETE',
    headers: JSON_HEADERS,
  });
  pp.setOperatorTyping(sessionId, true);
  pp.setOperatorOnline(true);
  pp.emitEvent(sessionId, 'coupon', { code: 'SPRING' });
  pp.setTrackedElements([{ selector: '#buy', name: 'clicked_buy' }]);
  await pp.requestScreenshot(sessionId, { requestedBy: 'Ana' });
  await pp.requestCsat(sessionId);
  pp.sendVersionWarning(sessionId, { status: 'outdated', canContinue: true, message: 'update soon' }, '2.0.0');
}

const ALL_TYPES = [
  'message',
  'message_edited',
  'read',
  'message_deleted',
  'typing',
  'presence',
  'event',
  'config_update',
  'screenshot_request',
  'csat_request',
  'version_warning',
];

describe('WebSocket /stream', () => {
  it('delivers every server event type as a {type, data} envelope', async () => {
    s = await startServer();
    const sessionId = await connect(s);
    const ws = await openWs(s, sessionId);
    await produceAllEvents(s, sessionId);
    for (const type of ALL_TYPES) await ws.waitFor((f) => f.type === type);
    const echo = ws.frames.find((f) => f.type === 'message' && f.data.sender === 'visitor')!;
    expect(echo.data).toMatchObject({ content: 'hello', status: 'sent', sessionId });
    const typing = ws.frames.find((f) => f.type === 'typing')!;
    expect(typing.data).toMatchObject({ sender: 'operator', isTyping: true });
    const warning = ws.frames.find((f) => f.type === 'version_warning')!;
    expect(warning.data.canContinue).toBe(true);
    ws.close();
  });

  it('every tab of a session gets the echo, other sessions get nothing', async () => {
    s = await startServer();
    const a = await connect(s);
    const b = await connect(s);
    const tab1 = await openWs(s, a);
    const tab2 = await openWs(s, a);
    const other = await openWs(s, b);
    const { messageId } = await send(s, a, 'two tabs');
    await tab1.waitFor((f) => f.type === 'message' && f.data.id === messageId);
    await tab2.waitFor((f) => f.type === 'message' && f.data.id === messageId);
    await new Promise((r) => setTimeout(r, 50));
    expect(other.frames.filter((f) => f.type === 'message')).toHaveLength(0);
    for (const c of [tab1, tab2, other]) c.close();
  });

  it('an unknown session is closed quickly so the widget moves on to SSE', async () => {
    s = await startServer();
    const started = Date.now();
    const ws = new WebSocket(`${s.base.replace(/^http/, 'ws')}/stream?sessionId=ses_nope00000000000000000000`);
    const { code } = await new Promise<{ code: number }>((resolve) => ws.on('close', (c) => resolve({ code: c })));
    expect(code).toBe(CLOSE_UNKNOWN_SESSION);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('garbage frames are ignored and a custom event frame reaches onEvent handlers', async () => {
    s = await startServer();
    const sessionId = await connect(s);
    const got: { name: string; sessionId?: string; data?: unknown }[] = [];
    s.pp.onEvent('clicked_pricing', (event) => {
      got.push(event);
    });
    const ws = await openWs(s, sessionId);
    ws.ws.send('not json at all');
    ws.ws.send(JSON.stringify({ type: 'mystery', data: 1 }));
    ws.ws.send(Buffer.from([0, 1, 2]));
    ws.ws.send(
      JSON.stringify({
        type: 'event',
        data: { name: 'clicked_pricing', data: { plan: 'pro' }, timestamp: new Date().toISOString() },
      }),
    );
    await until(() => got.length === 1);
    expect(got[0]).toMatchObject({ name: 'clicked_pricing', data: { plan: 'pro' }, sessionId });
    expect(ws.ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  });

  it('an oversized frame closes the socket with 1009 and the server keeps running', async () => {
    s = await startServer({ plugin: { websocket: { maxPayload: 1024 } } });
    const sessionId = await connect(s);
    const ws = await openWs(s, sessionId);
    ws.ws.send(JSON.stringify({ type: 'event', data: { name: 'x', data: { blob: 'y'.repeat(5000) } } }));
    const { code } = await ws.closed;
    expect(code).toBe(1009);
    const again = await openWs(s, sessionId);
    expect(again.ws.readyState).toBe(WebSocket.OPEN);
    again.close();
  });

  it('a socket that reopens gets exactly what its widget missed, from the point its pongs confirmed', async () => {
    const storage = new MemoryStorage();
    s = await startServer({ pp: { storage }, plugin: { websocket: { pingIntervalMs: 100 } } });
    const sessionId = await connect(s);
    const first = await openWs(s, sessionId);
    let pings = 0;
    first.ws.on('ping', () => pings++);
    const r1 = await s.pp.sendMessage(sessionId, { content: 'r1' });
    const frame = await first.waitFor((f) => f.type === 'message');
    expect(frame).toMatchObject({ data: { content: 'r1' }, seq: r1.seq });
    // Two pings after r1: the second one's pong proves the widget read r1 (`ws` answers pings).
    const seen = pings;
    await until(() => pings >= seen + 2);
    first.ws.terminate(); // the network drops: no close frame, the server sees 1006
    await first.closed;
    await until(async () => ((await storage.getSession(sessionId))?.streamResume?.length ?? 0) === 1);
    expect((await storage.getSession(sessionId))?.streamResume?.[0]?.seq).toBe(r1.seq);

    await s.pp.sendMessage(sessionId, { content: 'r2' });
    await s.pp.sendMessage(sessionId, { content: 'r3' });
    const second = await openWs(s, sessionId);
    await second.waitFor((f) => f.type === 'message' && f.data.content === 'r3');
    // r1 is not sent again: the resume point, not a time window, decided what to replay.
    expect(second.frames.filter((f) => f.type === 'message').map((f) => f.data.content)).toEqual(['r2', 'r3']);
    second.close();
  });

  it('a pending CSAT request is sent again when a socket opens', async () => {
    s = await startServer();
    const sessionId = await connect(s);
    await s.pp.requestCsat(sessionId);
    const ws = await openWs(s, sessionId);
    await ws.waitFor((f) => f.type === 'csat_request');
    ws.close();
  });

  it('dead sockets are dropped by the ping loop and per-session state is released', async () => {
    s = await startServer({ plugin: { websocket: { pingIntervalMs: 50 } } });
    const sessionId = await connect(s);
    const ws = await openWs(s, sessionId);
    await until(() => s!.pp.hub.connectionCount === 1);
    // Stop answering pings: the server must give up on this socket.
    (ws.ws as unknown as { _receiver: { removeAllListeners(e: string): void } })._receiver.removeAllListeners('ping');
    ws.ws.pong = () => {};
    (ws.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await until(() => s!.pp.hub.connectionCount === 0, 3000);
    expect(s.pp.hub.sessionCount).toBe(0);
  });

  it('shutdown closes sockets with a reconnectable code', async () => {
    s = await startServer();
    const sessionId = await connect(s);
    const ws = await openWs(s, sessionId);
    const closing = s.close();
    const { code } = await ws.closed;
    await closing;
    s = undefined;
    expect(code).toBe(CLOSE_RESTART);
  });
});

describe('SSE /stream', () => {
  it('answers fast with the event-stream headers and no compression', async () => {
    s = await startServer();
    const sessionId = await connect(s);
    const sse = await openSse(s, `/stream?sessionId=${sessionId}`, { 'accept-encoding': 'gzip' });
    expect(sse.response.statusCode).toBe(200);
    expect(sse.response.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(sse.response.headers['cache-control']).toBe('no-cache, no-transform');
    expect(sse.response.headers['x-accel-buffering']).toBe('no');
    expect(sse.response.headers['content-encoding']).toBeUndefined();
    sse.close();
  });

  it('delivers every server event type as the whole envelope on the default event', async () => {
    s = await startServer();
    const sessionId = await connect(s);
    const sse = await openSse(s, `/stream?sessionId=${sessionId}`);
    await produceAllEvents(s, sessionId);
    for (const type of ALL_TYPES) await sse.waitFor((e) => e.type === type);
    expect(sse.events.every((e) => e.event === undefined)).toBe(true);
    sse.close();
  });

  it('replays messages created or changed after `after`', async () => {
    s = await startServer({ pp: { afterSlackMs: 0 } });
    const sessionId = await connect(s);
    const first = await send(s, sessionId, 'before the cursor');
    await new Promise((r) => setTimeout(r, 10));
    const cursor = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 10));
    const second = await send(s, sessionId, 'after the cursor');
    await fetch(`${s.base}/message/${first.messageId}`, {
      method: 'PATCH',
      headers: JSON_HEADERS,
      body: JSON.stringify({ sessionId, content: 'edited later' }),
    });
    const sse = await openSse(s, `/stream?sessionId=${sessionId}&after=${encodeURIComponent(cursor)}`);
    await sse.waitFor((e) => e.type === 'message' && e.data.id === second.messageId);
    await sse.waitFor(
      (e) => e.type === 'message' && e.data.id === first.messageId && e.data.content === 'edited later',
    );
    sse.close();
  });

  it('sends keep-alive comments so the stream never goes silent', async () => {
    s = await startServer({ plugin: { sse: { keepAliveMs: 30 } } });
    const sessionId = await connect(s);
    const sse = await openSse(s, `/stream?sessionId=${sessionId}`);
    await until(() => sse.raw.join('').includes(': ping'));
    sse.close();
  });

  it('an unknown session is a JSON 404, not a stream', async () => {
    s = await startServer();
    const res = await fetch(`${s.base}/stream?sessionId=ses_nope00000000000000000000`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toBe('SESSION_NOT_FOUND');
  });

  it('closing the stream releases the subscription', async () => {
    s = await startServer();
    const sessionId = await connect(s);
    const sse = await openSse(s, `/stream?sessionId=${sessionId}`);
    await until(() => s!.pp.hub.connectionCount === 1);
    sse.close();
    await until(() => s!.pp.hub.connectionCount === 0);
  });
});

describe('polling', () => {
  it('GET /messages with after returns new, edited, deleted and read messages', async () => {
    s = await startServer({ pp: { afterSlackMs: 0 } });
    const sessionId = await connect(s);
    const a = await send(s, sessionId, 'a');
    const b = await send(s, sessionId, 'b');
    const op = await s.pp.sendMessage(sessionId, { content: 'op' });
    await new Promise((r) => setTimeout(r, 10));
    const cursor = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 10));
    await fetch(`${s.base}/message/${a.messageId}`, {
      method: 'PATCH',
      headers: JSON_HEADERS,
      body: JSON.stringify({ sessionId, content: 'a2' }),
    });
    await fetch(`${s.base}/message/${b.messageId}?sessionId=${sessionId}`, { method: 'DELETE', headers: JSON_HEADERS });
    await fetch(`${s.base}/read`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify({ sessionId, messageIds: [op.id] }),
    });
    const c = await send(s, sessionId, 'c');
    const res = await fetch(`${s.base}/messages?sessionId=${sessionId}&after=${encodeURIComponent(cursor)}`, {
      headers: JSON_HEADERS,
    });
    const { messages } = (await res.json()) as {
      messages: { id: string; content: string; deletedAt?: string; status: string }[];
    };
    const byId = new Map(messages.map((m) => [m.id, m]));
    expect(byId.get(a.messageId)?.content).toBe('a2');
    expect(byId.get(b.messageId)?.deletedAt).toBeTruthy();
    expect(byId.get(op.id)?.status).toBe('read');
    expect(byId.get(c.messageId)?.content).toBe('c');
    expect(messages.map((m) => m.id)).toEqual([a.messageId, b.messageId, op.id, c.messageId]);
  });

  it('a client clock ahead of the server still gets new messages', async () => {
    s = await startServer();
    const sessionId = await connect(s);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const m = await send(s, sessionId, 'sent while the client clock runs ahead');
    const res = await fetch(`${s.base}/messages?sessionId=${sessionId}&after=${encodeURIComponent(future)}`, {
      headers: JSON_HEADERS,
    });
    const { messages } = (await res.json()) as { messages: { id: string }[] };
    expect(messages.map((x) => x.id)).toContain(m.messageId);
  });
});

describe('WebSocket reconnect', () => {
  it('a socket that reconnects gets the messages it missed in between', async () => {
    s = await startServer();
    const sessionId = await connect(s);
    const first = await openWs(s, sessionId);
    first.close();
    await first.closed;
    const missed = await s.pp.sendMessage(sessionId, { content: 'sent while you were away' });
    const again = await openWs(s, sessionId);
    const frame = await again.waitFor((f) => f.type === 'message' && f.data.id === missed.id);
    expect(frame.data.content).toBe('sent while you were away');
    again.close();
  });
});
