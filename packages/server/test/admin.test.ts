import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { API_KEY, connect, JSON_HEADERS, openWs, startServer, type TestServer } from './helpers.js';

let s: TestServer;
beforeEach(async () => {
  s = await startServer();
});
afterEach(async () => {
  await s.close();
});

const auth = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
const admin = (
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  payload?: unknown,
  headers: Record<string, string> = auth,
) =>
  s.app.inject({
    method,
    url: `/pocketping/admin${url}`,
    headers,
    ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}),
  });

describe('admin API', () => {
  it('refuses requests without the key or with a wrong one', async () => {
    const none = await admin('GET', '/sessions', undefined, {});
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({ error: 'AUTH_REQUIRED' });
    const wrong = await admin('GET', '/sessions', undefined, { authorization: 'Bearer not-the-key-at-all' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ error: 'AUTH_INVALID' });
  });

  it('lists sessions newest first and reads one session with its messages', async () => {
    const a = await connect(s);
    await new Promise((r) => setTimeout(r, 5));
    const b = await connect(s);
    await s.app.inject({
      method: 'POST',
      url: '/pocketping/message',
      headers: JSON_HEADERS,
      payload: { sessionId: a, content: 'hello from a', attachmentIds: [] },
    });
    const list = await admin('GET', '/sessions');
    expect(list.statusCode).toBe(200);
    const ids = list.json().sessions.map((x: { id: string }) => x.id);
    expect(ids).toEqual([a, b]);
    const one = await admin('GET', `/sessions/${a}`);
    expect(one.json().session).toMatchObject({ id: a, status: 'open', hasVisitorMessage: true });
    const msgs = await admin('GET', `/sessions/${a}/messages`);
    expect(msgs.json().messages.map((m: { content: string }) => m.content)).toEqual(['hello from a']);
    const missing = await admin('GET', '/sessions/ses_nope00000000000000000000');
    expect(missing.statusCode).toBe(404);
  });

  it('an operator reply reaches the widget socket in real time', async () => {
    const sessionId = await connect(s);
    const ws = await openWs(s, sessionId);
    const res = await admin('POST', `/sessions/${sessionId}/messages`, {
      content: 'Hello, I am Ana',
      operatorName: 'Ana',
    });
    expect(res.statusCode).toBe(201);
    const frame = await ws.waitFor((f) => f.type === 'message' && f.data.sender === 'operator');
    expect(frame.data).toMatchObject({ content: 'Hello, I am Ana', status: 'sent', operatorName: 'Ana' });
    ws.close();
  });

  it('closes a session and sends custom events to its widget', async () => {
    const sessionId = await connect(s);
    const ws = await openWs(s, sessionId);
    const ev = await admin('POST', `/sessions/${sessionId}/events`, { name: 'show_offer', data: { percent: 10 } });
    expect(ev.json()).toEqual({ ok: true });
    const frame = await ws.waitFor((f) => f.type === 'event');
    expect(frame.data).toMatchObject({ name: 'show_offer', data: { percent: 10 } });
    const closed = await admin('POST', `/sessions/${sessionId}/close`, {});
    expect(closed.json().session.status).toBe('closed');
    ws.close();
  });

  it('rejects bad admin input with a 400 that names the field', async () => {
    const sessionId = await connect(s);
    const res = await admin('POST', `/sessions/${sessionId}/messages`, { content: '' });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/content/);
    const ev = await admin('POST', `/sessions/${sessionId}/events`, { data: {} });
    expect(ev.statusCode).toBe(400);
    expect(ev.json().message).toMatch(/name/);
  });

  it('operator edits and deletes reach the widget', async () => {
    const sessionId = await connect(s);
    const ws = await openWs(s, sessionId);
    const { message } = (await admin('POST', `/sessions/${sessionId}/messages`, { content: 'typo' })).json();
    await admin('PATCH', `/sessions/${sessionId}/messages/${message.id}`, { content: 'fixed' });
    await ws.waitFor((f) => f.type === 'message_edited' && f.data.content === 'fixed');
    await admin('DELETE', `/sessions/${sessionId}/messages/${message.id}`);
    await ws.waitFor((f) => f.type === 'message_deleted' && f.data.messageId === message.id);
    ws.close();
  });

  it('a storage without listSessions answers 501 with a clear message', async () => {
    await s.close();
    const { MemoryStorage } = await import('@pocketping/core');
    const base = new MemoryStorage();
    const minimal = {
      createSession: base.createSession.bind(base),
      getSession: base.getSession.bind(base),
      saveMessage: base.saveMessage.bind(base),
      getMessages: base.getMessages.bind(base),
    };
    s = await startServer({ listen: false, pp: { storage: minimal } });
    const res = await admin('GET', '/sessions');
    expect(res.statusCode).toBe(501);
    expect(res.json()).toMatchObject({ error: 'STORAGE_NOT_SUPPORTED' });
    expect(res.json().message).toMatch(/listSessions/);
  });
});
