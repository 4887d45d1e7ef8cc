import { request as httpRequest } from 'node:http';
import type { PocketPing } from '@pocketping/core';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

/** A running adapter: Fastify, Express or the fetch handler, all on real sockets. */
export interface RunningAdapter {
  pp: PocketPing;
  /** Absolute endpoint base, e.g. http://127.0.0.1:PORT/pocketping */
  base: string;
  /** Whether this runtime serves WebSockets (the fetch handler does not). */
  websocket: boolean;
  close(): Promise<void>;
}

export const CONTRACT_API_KEY = 'contract-admin-key-0123456789';
const ORIGIN = 'https://shop.example.com';
const H = { 'content-type': 'application/json', 'x-pocketping-version': '2.6.0', origin: ORIGIN };

async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = H) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = { raw: text };
  }
  return { status: res.status, headers: res.headers, json };
}

function sse(
  base: string,
  path: string,
): Promise<{
  events: Record<string, unknown>[];
  wait(pred: (e: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  close(): void;
  headers: Record<string, string | string[] | undefined>;
}> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { headers: { accept: 'text/event-stream', origin: ORIGIN } }, (res) => {
      const events: Record<string, unknown>[] = [];
      let buffer = '';
      const listeners = new Set<() => void>();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let i: number;
        while ((i = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trim())
            .join('');
          if (data) events.push(JSON.parse(data));
        }
        for (const l of listeners) l();
      });
      resolve({
        events,
        headers: res.headers,
        close: () => req.destroy(),
        wait(pred) {
          return new Promise((ok, fail) => {
            const check = () => {
              const found = events.find(pred);
              if (found) {
                clearTimeout(timer);
                listeners.delete(check);
                ok(found);
              }
            };
            const timer = setTimeout(
              () => fail(new Error(`no SSE event matched; got ${JSON.stringify(events)}`)),
              4000,
            );
            listeners.add(check);
            check();
          });
        },
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * The widget protocol as the widget uses it, run against one adapter. Every adapter (Fastify,
 * Express, the fetch handler) must pass the same suite: a behaviour is written once.
 */
export function protocolContract(name: string, start: () => Promise<RunningAdapter>): void {
  describe(`${name}: widget protocol contract`, () => {
    let running: RunningAdapter | undefined;
    afterEach(async () => {
      await running?.close();
      running = undefined;
    });
    const boot = async () => {
      running = await start();
      return running;
    };
    const connect = async (base: string) => {
      const r = await call(base, 'POST', '/connect', {
        visitorId: `v-${Math.random()}`,
        sessionId: null,
        metadata: { url: 'https://shop.example.com/' },
      });
      expect(r.status).toBe(200);
      return r.json.sessionId as string;
    };

    it('connect, send, poll the delta, edit and delete as the widget does', async () => {
      const { base } = await boot();
      const c = await call(base, 'POST', '/connect', { visitorId: 'v-1', sessionId: null, metadata: {} });
      expect(c.status).toBe(200);
      expect(c.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      expect(c.json).toMatchObject({ visitorId: 'v-1', messages: [], operatorReachable: true });
      const sessionId = c.json.sessionId as string;
      const sent = await call(base, 'POST', '/message', {
        sessionId,
        content: ' hi \n',
        sender: 'visitor',
        attachmentIds: [],
      });
      expect(sent.status).toBe(200);
      const messageId = sent.json.messageId as string;
      const delta = await call(base, 'GET', `/messages?sessionId=${sessionId}`);
      expect(delta.json.messages).toEqual([
        expect.objectContaining({ id: messageId, content: ' hi \n', status: 'sent' }),
      ]);
      const edit = await call(base, 'PATCH', `/message/${messageId}`, { sessionId, content: 'hello' });
      expect(edit.json).toMatchObject({ message: { id: messageId, content: 'hello' } });
      const del = await call(base, 'DELETE', `/message/${messageId}?sessionId=${sessionId}`);
      expect(del.status).toBe(200);
      expect(del.json).toEqual({ deleted: true });
    });

    it('preflights allow every widget method with the echoed origin', async () => {
      const { base } = await boot();
      const res = await fetch(`${base}/message/abc`, {
        method: 'OPTIONS',
        headers: {
          origin: ORIGIN,
          'access-control-request-method': 'PATCH',
          'access-control-request-headers': 'content-type,x-pocketping-version',
        },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      expect(res.headers.get('access-control-allow-credentials')).toBe('true');
      expect(res.headers.get('access-control-allow-methods')).toMatch(/PATCH/);
      expect(res.headers.get('access-control-allow-methods')).toMatch(/DELETE/);
      expect(res.headers.get('access-control-allow-methods')).toMatch(/PUT/);
    });

    it('bad input gets a 4xx JSON error, never a 5xx', async () => {
      const { base } = await boot();
      const sessionId = await connect(base);
      const badJson = await call(base, 'POST', '/message', '{"sessionId":');
      expect(badJson.status).toBe(400);
      expect(badJson.json.error).toBe('REQUEST_INVALID_JSON');
      const wrong = await call(base, 'POST', '/message', { sessionId, content: 42 });
      expect(wrong.status).toBe(400);
      expect(String(wrong.json.message)).toMatch(/content/);
      const big = await call(base, 'POST', '/message', { sessionId, content: 'x'.repeat(200_000) });
      expect(big.status).toBe(413);
      const unknown = await call(base, 'GET', '/nope');
      expect(unknown.status).toBe(404);
      expect(unknown.json.error).toBe('NOT_FOUND');
      const noSession = await call(base, 'POST', '/typing', {
        sessionId: 'ses_unknown000000000000000',
        isTyping: true,
      });
      expect(noSession.status).toBe(404);
    });

    it('uploads a file in three steps and serves it back', async () => {
      const { base } = await boot();
      const sessionId = await connect(base);
      const bytes = Buffer.from('hello file');
      const start = await call(base, 'POST', '/upload', {
        sessionId,
        filename: 'a.txt',
        mimeType: 'text/plain',
        size: bytes.length,
      });
      expect(start.status).toBe(200);
      const put = await fetch(start.json.uploadUrl as string, {
        method: 'PUT',
        headers: { 'content-type': 'text/plain', origin: ORIGIN },
        body: bytes,
      });
      expect(put.status).toBe(200);
      const done = await call(base, 'POST', '/upload/complete', { sessionId, attachmentId: start.json.attachmentId });
      expect(done.json).toMatchObject({ status: 'ready', size: bytes.length });
      const file = await fetch(done.json.url as string);
      expect(Buffer.from(await file.arrayBuffer()).toString()).toBe('hello file');
    });

    it('streams events over SSE: the echo and an operator reply', async () => {
      const { base, pp } = await boot();
      const sessionId = await connect(base);
      const stream = await sse(base, `/stream?sessionId=${sessionId}`);
      try {
        expect(String(stream.headers['content-type'])).toMatch(/text\/event-stream/);
        expect(stream.headers['access-control-allow-origin']).toBe(ORIGIN);
        await call(base, 'POST', '/message', { sessionId, content: 'over sse', attachmentIds: [] });
        await stream.wait((e) => e.type === 'message' && (e.data as { content: string }).content === 'over sse');
        await pp.sendMessage(sessionId, { content: 'reply over sse', operatorName: 'Ana' });
        await stream.wait((e) => e.type === 'message' && (e.data as { sender: string }).sender === 'operator');
      } finally {
        stream.close();
      }
    });

    it('serves the WebSocket, or refuses the upgrade fast where it cannot', async () => {
      const { base, pp, websocket } = await boot();
      const sessionId = await connect(base);
      const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/stream?sessionId=${sessionId}`);
      const started = Date.now();
      if (!websocket) {
        const status = await new Promise<number>((resolve) => {
          ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
          ws.on('error', () => resolve(-1));
        });
        expect(status).toBeGreaterThanOrEqual(400);
        expect(Date.now() - started).toBeLessThan(2000);
        return;
      }
      await new Promise((r, j) => {
        ws.once('open', r);
        ws.once('error', j);
      });
      const got = new Promise<Record<string, unknown>>((resolve) =>
        ws.on('message', (d) => {
          const f = JSON.parse(d.toString());
          if (f.type === 'message' && f.data.sender === 'operator') resolve(f.data);
        }),
      );
      await pp.sendMessage(sessionId, { content: 'over ws' });
      expect(await got).toMatchObject({ content: 'over ws' });
      ws.close();
    });

    it('protects the admin API with the bearer key', async () => {
      const { base } = await boot();
      await connect(base);
      const no = await call(base, 'GET', '/admin/sessions');
      expect(no.status).toBe(401);
      const yes = await call(base, 'GET', '/admin/sessions', undefined, {
        authorization: `Bearer ${CONTRACT_API_KEY}`,
      });
      expect(yes.status).toBe(200);
      expect((yes.json.sessions as unknown[]).length).toBe(1);
    });
  });
}
