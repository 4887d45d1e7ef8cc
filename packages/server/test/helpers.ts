import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Bridge, MemoryStorage, PocketPing, type PocketPingOptions, silentLogger } from '@pocketping/core';
import Fastify, { type FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import { pocketpingPlugin, type PocketPingPluginOptions } from '../src/index.js';

export const API_KEY = 'test-admin-key-0123456789';
export const ORIGIN = 'https://shop.example.com';
export const JSON_HEADERS = { 'content-type': 'application/json', 'x-pocketping-version': '2.6.0', origin: ORIGIN };

export interface TestServer {
  app: FastifyInstance;
  pp: PocketPing;
  /** http://127.0.0.1:PORT */
  origin: string;
  /** origin + prefix */
  base: string;
  uploadDir: string;
  close(): Promise<void>;
}

/** Starts a Fastify app with the plugin on 127.0.0.1 and a random port. */
export async function startServer(
  options: {
    pp?: Partial<PocketPingOptions>;
    plugin?: Partial<Omit<PocketPingPluginOptions, 'pocketping'>>;
    bridges?: Bridge[];
    listen?: boolean;
  } = {},
): Promise<TestServer> {
  const uploadDir = await mkdtemp(join(tmpdir(), 'pp-uploads-'));
  const pp = new PocketPing({
    storage: new MemoryStorage(),
    logger: silentLogger,
    welcomeMessage: 'Hi! How can we help?',
    bridges: options.bridges ?? [],
    ...options.pp,
  });
  await pp.init();
  const app = Fastify({ logger: false, forceCloseConnections: true });
  await app.register(pocketpingPlugin, {
    pocketping: pp,
    prefix: '/pocketping',
    apiKey: API_KEY,
    uploadDir,
    ...options.plugin,
  });
  let origin = 'http://127.0.0.1';
  if (options.listen !== false) {
    origin = await app.listen({ host: '127.0.0.1', port: 0 });
  } else {
    await app.ready();
  }
  const prefix = (options.plugin?.prefix ?? '/pocketping').replace(/\/+$/, '');
  return {
    app,
    pp,
    origin,
    base: origin + prefix,
    uploadDir,
    async close() {
      await app.close();
      await pp.close();
      await rm(uploadDir, { recursive: true, force: true });
    },
  };
}

/** POST /connect through inject, returning the session id. */
export async function connect(s: TestServer, visitorId = `v-${Math.random().toString(36).slice(2)}`): Promise<string> {
  const res = await s.app.inject({
    method: 'POST',
    url: '/pocketping/connect',
    headers: JSON_HEADERS,
    payload: { visitorId, sessionId: null, metadata: { url: 'https://shop.example.com/cart', language: 'en' } },
  });
  if (res.statusCode !== 200) throw new Error(`connect failed: ${res.statusCode} ${res.body}`);
  return res.json().sessionId;
}

/** A WebSocket client that records every envelope it receives. */
export interface WsClient {
  ws: WebSocket;
  frames: { type: string; data: Record<string, unknown> }[];
  waitFor(
    pred: (f: { type: string; data: Record<string, unknown> }) => boolean,
    timeoutMs?: number,
  ): Promise<{ type: string; data: Record<string, unknown> }>;
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

export async function openWs(s: TestServer, sessionId: string): Promise<WsClient> {
  const url = `${s.base.replace(/^http/, 'ws')}/stream?sessionId=${sessionId}`;
  const ws = new WebSocket(url);
  const frames: WsClient['frames'] = [];
  const waiters: {
    pred: (f: WsClient['frames'][number]) => boolean;
    resolve: (f: WsClient['frames'][number]) => void;
  }[] = [];
  ws.on('message', (data) => {
    const f = JSON.parse(data.toString());
    frames.push(f);
    for (const w of [...waiters]) {
      if (w.pred(f)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(f);
      }
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('close', () => resolve());
  });
  return {
    ws,
    frames,
    closed,
    waitFor(pred, timeoutMs = 3000) {
      const found = frames.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(frames.map((f) => f.type))}`),
            ),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (f) => {
            clearTimeout(timer);
            resolve(f);
          },
        });
      });
    },
    close: () => ws.close(),
  };
}

/** An SSE client over a raw HTTP request, parsing `data:` lines. */
export interface SseClient {
  response: IncomingMessage;
  raw: string[];
  events: { event?: string; data: string }[];
  waitFor(
    pred: (e: { type: string; data: Record<string, unknown> }) => boolean,
    timeoutMs?: number,
  ): Promise<{ type: string; data: Record<string, unknown> }>;
  close(): void;
}

export function openSse(s: TestServer, path: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${s.base}${path}`,
      { headers: { accept: 'text/event-stream', ...headers } },
      (response) => {
        const raw: string[] = [];
        const events: SseClient['events'] = [];
        let buffer = '';
        const listeners = new Set<() => void>();
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          raw.push(chunk);
          buffer += chunk;
          let idx: number;
          while ((idx = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, idx);
            buffer = buffer.slice(idx + 2);
            const ev: { event?: string; data: string } = { data: '' };
            let hasData = false;
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) ev.event = line.slice(6).trim();
              if (line.startsWith('data:')) {
                ev.data += line.slice(5).trim();
                hasData = true;
              }
            }
            if (hasData) events.push(ev);
          }
          for (const l of listeners) l();
        });
        const parsed = () => events.filter((e) => !e.event).map((e) => JSON.parse(e.data));
        resolve({
          response,
          raw,
          events,
          waitFor(pred, timeoutMs = 3000) {
            return new Promise((res, rej) => {
              const check = () => {
                const found = parsed().find(pred);
                if (found) {
                  listeners.delete(check);
                  clearTimeout(timer);
                  res(found);
                }
              };
              const timer = setTimeout(() => {
                listeners.delete(check);
                rej(new Error(`no matching SSE event within ${timeoutMs} ms; got ${raw.join('')}`));
              }, timeoutMs);
              listeners.add(check);
              check();
            });
          },
          close: () => req.destroy(),
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 15));
  }
  throw new Error('condition not met in time');
}
