import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, JSON_HEADERS, ORIGIN, startServer, type TestServer } from './helpers.js';

let s: TestServer;
beforeEach(async () => {
  s = await startServer({ listen: false });
});
afterEach(async () => {
  await s.close();
});

const post = (url: string, payload: unknown, headers: Record<string, string> = JSON_HEADERS) =>
  s.app.inject({ method: 'POST', url: `/pocketping${url}`, headers, payload: payload as Record<string, unknown> });

describe('widget endpoints', () => {
  it('connect on a first visit accepts sessionId null and returns what the widget reads', async () => {
    const res = await post('/connect', {
      visitorId: 'lz3k-abc',
      sessionId: null,
      metadata: { url: 'https://shop.example.com/', userAgent: 'Mozilla/5.0', botSignals: { webdriver: false } },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.sessionId).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(body).toMatchObject({
      visitorId: 'lz3k-abc',
      operatorOnline: false,
      operatorReachable: true,
      messages: [],
      welcomeMessage: 'Hi! How can we help?',
    });
    expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(res.headers['x-pocketping-version-status']).toBeUndefined();
  });

  it('a sent message is echoed in history with identical content and status sent', async () => {
    const sessionId = await connect(s);
    const content = '  Hello\nthere  ';
    const res = await post('/message', { sessionId, content, sender: 'visitor', attachmentIds: [] });
    expect(res.statusCode).toBe(200);
    const { messageId, timestamp } = res.json();
    expect(typeof messageId).toBe('string');
    expect(new Date(timestamp).toISOString()).toBe(timestamp);
    const history = await s.app.inject({
      method: 'GET',
      url: `/pocketping/messages?sessionId=${sessionId}`,
      headers: JSON_HEADERS,
    });
    expect(history.statusCode).toBe(200);
    expect(history.json().messages).toEqual([
      expect.objectContaining({ id: messageId, content, sender: 'visitor', status: 'sent', timestamp }),
    ]);
  });

  it('the public message route never stores an operator message', async () => {
    const sessionId = await connect(s);
    await post('/message', { sessionId, content: 'I am the operator', sender: 'operator', attachmentIds: [] });
    const [m] = await s.pp.getMessages(sessionId);
    expect(m!.sender).toBe('visitor');
  });

  it('GET and DELETE with a JSON content type and an empty body are accepted', async () => {
    const sessionId = await connect(s);
    const { messageId } = (await post('/message', { sessionId, content: 'bye', attachmentIds: [] })).json();
    const get = await s.app.inject({
      method: 'GET',
      url: `/pocketping/messages?sessionId=${sessionId}`,
      headers: JSON_HEADERS,
    });
    expect(get.statusCode).toBe(200);
    const del = await s.app.inject({
      method: 'DELETE',
      url: `/pocketping/message/${messageId}?sessionId=${sessionId}`,
      headers: JSON_HEADERS,
    });
    expect(del.statusCode).toBe(200);
    expect(del.json()).toEqual({ deleted: true });
    const again = await s.app.inject({
      method: 'DELETE',
      url: `/pocketping/message/${messageId}?sessionId=${sessionId}`,
      headers: JSON_HEADERS,
    });
    expect(again.statusCode).toBe(409);
  });

  it('edit answers the nested message object and rejects other sessions', async () => {
    const a = await connect(s);
    const b = await connect(s);
    const { messageId } = (await post('/message', { sessionId: a, content: 'helo', attachmentIds: [] })).json();
    const res = await s.app.inject({
      method: 'PATCH',
      url: `/pocketping/message/${messageId}`,
      headers: JSON_HEADERS,
      payload: { sessionId: a, content: 'hello ' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().message).toMatchObject({ id: messageId, content: 'hello' });
    expect(typeof res.json().message.editedAt).toBe('string');
    const other = await s.app.inject({
      method: 'PATCH',
      url: `/pocketping/message/${messageId}`,
      headers: JSON_HEADERS,
      payload: { sessionId: b, content: 'hijack' },
    });
    expect(other.statusCode).toBe(404);
    expect(other.json().error).toBe('MESSAGE_NOT_FOUND');
  });

  it('an optimistic temp- id gets a clean 404', async () => {
    const sessionId = await connect(s);
    const res = await s.app.inject({
      method: 'PATCH',
      url: `/pocketping/message/temp-lz3k-abcdefghi`,
      headers: JSON_HEADERS,
      payload: { sessionId, content: 'x' },
    });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: 'MESSAGE_NOT_FOUND' });
  });

  it('every small endpoint answers JSON', async () => {
    const sessionId = await connect(s);
    const op = await s.pp.sendMessage(sessionId, { content: 'Hi from Ana', operatorName: 'Ana' });
    const calls: [string, unknown, number, unknown][] = [
      ['/typing', { sessionId, sender: 'visitor', isTyping: true }, 200, { ok: true }],
      ['/read', { sessionId, messageIds: [op.id], status: 'read' }, 200, { updated: 1 }],
      ['/identify', { sessionId, identity: { id: 'u-1', email: 'ana@example.com', plan: 'pro' } }, 200, { ok: true }],
      ['/prechat', { sessionId, email: 'ana@example.com' }, 200, { ok: true }],
      ['/csat', { sessionId, score: 5, comment: 'great' }, 200, { ok: true }],
      ['/csat', { sessionId, score: 4 }, 200, { ok: true, alreadyRated: true }],
      ['/visibility', { sessionId, state: 'visible', timestamp: Date.now() }, 200, { ok: true }],
      ['/disconnect', { sessionId, duration: 42, reason: 'page_unload' }, 200, { ok: true }],
    ];
    for (const [url, payload, status, body] of calls) {
      const res = await post(url, payload);
      expect(res.statusCode, url).toBe(status);
      expect(res.json(), url).toEqual(body);
    }
    const presence = await s.app.inject({ method: 'GET', url: '/pocketping/presence', headers: JSON_HEADERS });
    expect(presence.json()).toMatchObject({ online: false });
    const shots = await s.app.inject({
      method: 'GET',
      url: `/pocketping/screenshot/requests?sessionId=${sessionId}`,
      headers: JSON_HEADERS,
    });
    expect(shots.json()).toEqual({ requests: [] });
    const session = await s.pp.getSession(sessionId);
    expect(session!.identity).toEqual({ id: 'u-1', email: 'ana@example.com', plan: 'pro' });
    expect(session!.csat).toMatchObject({ score: 5, comment: 'great' });
  });

  it('beacons without a version header or with text/plain bodies are accepted', async () => {
    const sessionId = await connect(s);
    const res = await s.app.inject({
      method: 'POST',
      url: '/pocketping/disconnect',
      headers: { 'content-type': 'text/plain;charset=UTF-8', origin: ORIGIN },
      payload: JSON.stringify({ sessionId, duration: 3, reason: 'page_unload' }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(res.headers['access-control-allow-credentials']).toBe('true');
  });
});

describe('bad input', () => {
  it('malformed JSON is a 400 that says so', async () => {
    const res = await s.app.inject({
      method: 'POST',
      url: '/pocketping/message',
      headers: JSON_HEADERS,
      payload: '{"sessionId": ',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'REQUEST_INVALID_JSON' });
    expect(res.json().message).toMatch(/not valid JSON/);
  });

  it('wrong types name the field', async () => {
    const res = await post('/message', { sessionId: 42, content: ['x'] });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('VALIDATION_FAILED');
    expect(res.json().message).toMatch(/sessionId/);
    expect(res.json().message).toMatch(/content/);
  });

  it('unknown sessions are 404 on every session route', async () => {
    const sessionId = 'ses_doesnotexist000000000000';
    for (const [method, url, payload] of [
      ['POST', '/message', { sessionId, content: 'x', attachmentIds: [] }],
      ['GET', `/messages?sessionId=${sessionId}`, undefined],
      ['POST', '/typing', { sessionId, isTyping: true }],
      ['POST', '/read', { sessionId, messageIds: ['m'] }],
      ['POST', '/identify', { sessionId, identity: { id: 'u' } }],
      ['POST', '/upload', { sessionId, filename: 'a.png', mimeType: 'image/png', size: 10 }],
      ['GET', `/screenshot/requests?sessionId=${sessionId}`, undefined],
    ] as const) {
      const res = await s.app.inject({
        method,
        url: `/pocketping${url}`,
        headers: JSON_HEADERS,
        ...(payload ? { payload } : {}),
      });
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error, url).toBe('SESSION_NOT_FOUND');
    }
  });

  it('content over 4000 characters is rejected, not truncated', async () => {
    const sessionId = await connect(s);
    const res = await post('/message', { sessionId, content: 'x'.repeat(4001), attachmentIds: [] });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'MESSAGE_TOO_LONG' });
    expect(await s.pp.getMessages(sessionId)).toHaveLength(0);
  });

  it('an oversized body is a 413', async () => {
    const sessionId = await connect(s);
    const res = await post('/message', { sessionId, content: 'x'.repeat(100_000), attachmentIds: [] });
    expect(res.statusCode).toBe(413);
    expect(res.json().error).toBe('REQUEST_TOO_LARGE');
  });

  it('an unknown route is a JSON 404', async () => {
    const res = await s.app.inject({ method: 'GET', url: '/pocketping/nope', headers: JSON_HEADERS });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: 'NOT_FOUND' });
  });

  it('garbage never produces a 5xx', async () => {
    const sessionId = await connect(s);
    const payloads = [
      'null',
      '[]',
      '"str"',
      '123',
      'true',
      '{"__proto__":{"x":1}}',
      '{"sessionId":null}',
      `{"sessionId":"${sessionId}","content":null}`,
      '\u0000\u0001',
      '{}',
    ];
    for (const route of [
      '/connect',
      '/message',
      '/typing',
      '/read',
      '/identify',
      '/prechat',
      '/csat',
      '/upload',
      '/upload/complete',
      '/screenshot/upload',
      '/disconnect',
      '/visibility',
    ]) {
      for (const payload of payloads) {
        const res = await s.app.inject({ method: 'POST', url: `/pocketping${route}`, headers: JSON_HEADERS, payload });
        if (payload === 'null' || payload === '{}') expect(res.statusCode, `${route} ${payload}`).toBe(400);
        expect(res.statusCode, `${route} ${payload}`).toBeLessThan(500);
        const body = res.json();
        if (res.statusCode >= 400) expect(typeof body.message, `${route} ${payload}`).toBe('string');
        else expect(body, `${route} ${payload}`).toBeTypeOf('object');
      }
    }
  });
});
