import { afterEach, describe, expect, it } from 'vitest';
import { type RunningExample, start } from '../src/app.js';
import { connect, openSocket, PAGE_ORIGIN, preflight, sendMessage, type WidgetSocket } from './widget.js';

const API_KEY = 'example-admin-key-0123456789';
let server: RunningExample | undefined;
let socket: WidgetSocket | undefined;

afterEach(async () => {
  await socket?.close();
  await server?.close();
  socket = undefined;
  server = undefined;
});

async function startExample(): Promise<{ server: RunningExample; base: string }> {
  server = await start({ host: '127.0.0.1', port: 0, logger: false, apiKey: API_KEY });
  return { server, base: `${server.url}/pocketping` };
}

describe('fastify example', () => {
  it('answers the CORS preflight the browser sends before the widget connects', async () => {
    const { base } = await startExample();
    const res = await preflight(base);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(PAGE_ORIGIN);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-pocketping-version');
  });

  it('a visitor connects, sends a message, sees the echo and the operator reply over the WebSocket', async () => {
    const { server, base } = await startExample();
    const { sessionId, welcomeMessage } = await connect(base);
    expect(welcomeMessage).toBe('Hi! Ask us anything.');
    socket = await openSocket(base, sessionId);

    const { messageId } = await sendMessage(base, sessionId, 'Do you ship to Canada?');
    const echo = await socket.next((e) => e.type === 'message' && e.data.id === messageId);
    expect(echo.data).toMatchObject({ sender: 'visitor', content: 'Do you ship to Canada?', sessionId });

    const reply = await server.pocketping.sendMessage(sessionId, { content: 'Yes, in 5 days.', operatorName: 'Ana' });
    const pushed = await socket.next((e) => e.type === 'message' && e.data.id === reply.id);
    expect(pushed.data).toMatchObject({ sender: 'operator', content: 'Yes, in 5 days.' });
  });

  it('an operator reply through the admin API (the curl the example prints) reaches the widget', async () => {
    const { base } = await startExample();
    const { sessionId } = await connect(base);
    socket = await openSocket(base, sessionId);
    await sendMessage(base, sessionId, 'Hello?');
    const res = await fetch(`${base}/admin/sessions/${sessionId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'Hello from the operator' }),
    });
    expect(res.status).toBe(201);
    const pushed = await socket.next((e) => e.type === 'message' && e.data.sender === 'operator');
    expect(pushed.data.content).toBe('Hello from the operator');
  });

  it("keeps the app's own routes next to PocketPing's", async () => {
    const { server } = await startExample();
    const res = await fetch(`${server.url}/`);
    expect(await res.json()).toEqual({ ok: true, widgetEndpoint: '/pocketping' });
  });
});
