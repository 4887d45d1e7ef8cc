import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningExample, start } from '../src/app.js';
import { connect, openStream, PAGE_ORIGIN, preflight, sendMessage, type WidgetStream } from './widget.js';

const API_KEY = 'example-admin-key-0123456789';
let server: RunningExample | undefined;
let stream: WidgetStream | undefined;

afterEach(async () => {
  stream?.close();
  await server?.close();
  stream = undefined;
  server = undefined;
});

async function startExample(): Promise<{ server: RunningExample; base: string }> {
  server = await start({ host: '127.0.0.1', port: 0, apiKey: API_KEY });
  return { server, base: `${server.url}/pocketping` };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('hono example (fetch handler)', () => {
  it('answers the CORS preflight the browser sends before the widget connects', async () => {
    const { base } = await startExample();
    const res = await preflight(base);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(PAGE_ORIGIN);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-pocketping-version');
  });

  it('a visitor connects, sends a message, sees the echo and the operator reply over SSE', async () => {
    const { server, base } = await startExample();
    const { sessionId, welcomeMessage } = await connect(base);
    expect(welcomeMessage).toBe('Hi! Ask us anything.');
    stream = await openStream(base, sessionId);
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(stream.response.headers.get('access-control-allow-origin')).toBe(PAGE_ORIGIN);

    const { messageId } = await sendMessage(base, sessionId, 'Do you ship to Canada?');
    const echo = await stream.next((e) => e.type === 'message' && e.data.id === messageId);
    expect(echo.data).toMatchObject({ sender: 'visitor', content: 'Do you ship to Canada?', sessionId });

    const reply = await server.pocketping.sendMessage(sessionId, { content: 'Yes, in 5 days.', operatorName: 'Ana' });
    const pushed = await stream.next((e) => e.type === 'message' && e.data.id === reply.id);
    expect(pushed.data).toMatchObject({ sender: 'operator', content: 'Yes, in 5 days.' });
  });

  it('refuses the WebSocket upgrade at once so the widget moves on to SSE', async () => {
    const { base } = await startExample();
    const { sessionId } = await connect(base);
    // fetch() cannot send an Upgrade header; a raw request shows what the browser's handshake gets.
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(`${base}/stream?sessionId=${sessionId}`, {
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          origin: PAGE_ORIGIN,
        },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('upgrade', (_res, socket) => {
        socket.destroy();
        reject(new Error('the server accepted a WebSocket upgrade'));
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(426);
  });

  it('an operator reply through the admin API reaches the widget', async () => {
    const { base } = await startExample();
    const { sessionId } = await connect(base);
    stream = await openStream(base, sessionId);
    const res = await fetch(`${base}/admin/sessions/${sessionId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'Hello from the operator' }),
    });
    expect(res.status).toBe(201);
    const pushed = await stream.next((e) => e.type === 'message' && e.data.sender === 'operator');
    expect(pushed.data.content).toBe('Hello from the operator');
  });

  it('a visitor who leaves the page releases its stream on the server', async () => {
    const { server, base } = await startExample();
    const { sessionId } = await connect(base);
    stream = await openStream(base, sessionId);
    await until(() => server.pocketping.openStreamCount === 1, 'the stream is tracked');
    stream.close();
    await until(() => server.pocketping.openStreamCount === 0, 'the stream is released');
  });

  it("keeps the app's own routes next to PocketPing's", async () => {
    const { server } = await startExample();
    const res = await fetch(`${server.url}/`);
    expect(await res.json()).toEqual({ ok: true, widgetEndpoint: '/pocketping' });
  });
});
