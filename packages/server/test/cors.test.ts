import { afterEach, describe, expect, it } from 'vitest';
import { connect, JSON_HEADERS, ORIGIN, startServer, type TestServer } from './helpers.js';

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const EXPOSED = [
  'X-PocketPing-Version-Status',
  'X-PocketPing-Min-Version',
  'X-PocketPing-Latest-Version',
  'X-PocketPing-Version-Message',
];

describe('CORS', () => {
  it('preflights for every widget method answer 204 with the headers the widget needs', async () => {
    s = await startServer({ listen: false });
    for (const [method, url] of [
      ['GET', '/messages?sessionId=x'],
      ['POST', '/message'],
      ['PATCH', '/message/abc'],
      ['DELETE', '/message/abc?sessionId=x'],
      ['PUT', '/upload/att_x'],
      ['POST', '/disconnect'],
    ]) {
      const res = await s.app.inject({
        method: 'OPTIONS',
        url: `/pocketping${url}`,
        headers: {
          origin: ORIGIN,
          'access-control-request-method': method!,
          'access-control-request-headers': 'content-type,x-pocketping-version',
        },
      });
      expect(res.statusCode, `${method} ${url}`).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expect(String(res.headers['access-control-allow-methods'])).toContain(method);
      expect(String(res.headers['access-control-allow-headers']).toLowerCase()).toContain('x-pocketping-version');
      expect(String(res.headers['access-control-allow-headers']).toLowerCase()).toContain('content-type');
      expect(Number(res.headers['access-control-max-age'])).toBeGreaterThanOrEqual(3600);
      expect(String(res.headers.vary)).toContain('Origin');
    }
  });

  it('responses echo the origin and expose the version headers', async () => {
    s = await startServer({ listen: false });
    const res = await s.app.inject({
      method: 'POST',
      url: '/pocketping/connect',
      headers: JSON_HEADERS,
      payload: { visitorId: 'v', sessionId: null, metadata: {} },
    });
    expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
    for (const h of EXPOSED) expect(String(res.headers['access-control-expose-headers'])).toContain(h);
  });

  it('an allowlist lets listed origins in and gives others no CORS headers', async () => {
    s = await startServer({ listen: false, plugin: { cors: { origins: ['https://allowed.example'] } } });
    const ok = await s.app.inject({
      method: 'OPTIONS',
      url: '/pocketping/message',
      headers: { origin: 'https://allowed.example', 'access-control-request-method': 'POST' },
    });
    expect(ok.headers['access-control-allow-origin']).toBe('https://allowed.example');
    const denied = await s.app.inject({
      method: 'OPTIONS',
      url: '/pocketping/message',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(denied.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('the SSE stream carries Access-Control-Allow-Origin', async () => {
    s = await startServer();
    const sessionId = await connect(s);
    const res = await fetch(`${s.base}/stream?sessionId=${sessionId}`, {
      headers: { origin: ORIGIN, accept: 'text/event-stream' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    await res.body?.cancel();
  });
});
