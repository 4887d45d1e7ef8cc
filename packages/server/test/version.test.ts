import { afterEach, describe, expect, it } from 'vitest';
import { connect, ORIGIN, startServer, type TestServer } from './helpers.js';

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const connectWith = (server: TestServer, version: string | undefined) =>
  server.app.inject({
    method: 'POST',
    url: '/pocketping/connect',
    headers: {
      'content-type': 'application/json',
      origin: ORIGIN,
      ...(version ? { 'x-pocketping-version': version } : {}),
    },
    payload: { visitorId: 'v1', sessionId: null, metadata: {} },
  });

describe('widget version policy', () => {
  it('a widget below the minimum gets 426 with the unsupported headers', async () => {
    s = await startServer({ listen: false, pp: { minWidgetVersion: '2.5.0', latestWidgetVersion: '2.6.0' } });
    const res = await connectWith(s, '2.4.9');
    expect(res.statusCode).toBe(426);
    expect(res.headers['x-pocketping-version-status']).toBe('unsupported');
    expect(res.headers['x-pocketping-min-version']).toBe('2.5.0');
    expect(res.json().error).toBe('WIDGET_VERSION_UNSUPPORTED');
  });

  it('an outdated widget is told so on /connect only, and keeps working', async () => {
    s = await startServer({ listen: false, pp: { latestWidgetVersion: '2.7.0' } });
    const res = await connectWith(s, '2.6.0');
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-pocketping-version-status']).toBe('outdated');
    expect(res.headers['x-pocketping-latest-version']).toBe('2.7.0');
    const sessionId = res.json().sessionId;
    const typing = await s.app.inject({
      method: 'POST',
      url: '/pocketping/typing',
      headers: { 'content-type': 'application/json', 'x-pocketping-version': '2.6.0' },
      payload: { sessionId, isTyping: true },
    });
    expect(typing.statusCode).toBe(200);
    expect(typing.headers['x-pocketping-version-status']).toBeUndefined();
  });

  it('a missing version header is treated as ok', async () => {
    s = await startServer({ listen: false, pp: { minWidgetVersion: '9.0.0' } });
    const res = await connectWith(s, undefined);
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-pocketping-version-status']).toBeUndefined();
    await expect(connect(s)).rejects.toThrow(/426/);
  });
});
