import { CLOSE_RESTART } from '@pocketping/core';
import { createRequire } from 'node:module';
import express4 from 'express4';
import { afterEach, describe, expect, it } from 'vitest';
import { type ExampleOptions, type RunningExample, start } from '../src/app.js';
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

// The example builds an Express 5 app; the same adapter must serve an Express 4 app identically.
const versions: { name: string; app: () => ExampleOptions['app'] }[] = [
  { name: 'Express 5', app: () => undefined },
  { name: 'Express 4', app: () => express4() },
];

it('the Express 4 app under test really is Express 4', () => {
  const require = createRequire(import.meta.url);
  expect((require('express4/package.json') as { version: string }).version).toMatch(/^4\./);
  expect((require('express/package.json') as { version: string }).version).toMatch(/^5\./);
});

describe.each(versions)('express example on $name', ({ app }) => {
  async function startExample(): Promise<{ server: RunningExample; base: string }> {
    const custom = app();
    server = await start({ host: '127.0.0.1', port: 0, apiKey: API_KEY, ...(custom ? { app: custom } : {}) });
    return { server, base: `${server.url}/pocketping` };
  }

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

  it('an operator reply through the admin API reaches the widget', async () => {
    const { base } = await startExample();
    const { sessionId } = await connect(base);
    socket = await openSocket(base, sessionId);
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

  it('closing the server tells open widget sockets to reconnect', async () => {
    const { base, server } = await startExample();
    const { sessionId } = await connect(base);
    const ws = await openSocket(base, sessionId);
    const closed = ws.closed;
    await server.close();
    expect((await closed).code).toBe(CLOSE_RESTART);
  });
});
