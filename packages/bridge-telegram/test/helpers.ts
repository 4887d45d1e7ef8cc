import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type Bridge,
  type Logger,
  MemoryAttachmentStore,
  MemoryStorage,
  type OutgoingFrame,
  PocketPing,
  type PocketPingOptions,
} from '@pocketping/core';
import { onTestFinished } from 'vitest';
import { type TelegramBridgeOptions, TelegramBridge } from '../src/index.js';
import { FakeTelegram, type FakeTelegramOptions } from './fake-telegram.js';

/** Waits until `check` holds (polling every 10 ms); fails with `what` after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what = 'condition',
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${what} not met within ${timeoutMs} ms`);
}

/** A logger that keeps what was logged. */
export function recordingLogger(): Logger & { lines: { level: string; obj: unknown; msg: string }[] } {
  const lines: { level: string; obj: unknown; msg: string }[] = [];
  const log = (level: string) => (obj: unknown, msg?: string) => lines.push({ level, obj, msg: msg ?? '' });
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/**
 * The PocketPing HTTP surface a bridge needs in tests, like the server package mounts it:
 * `{prefix}/files/{id}/{name}` (attachment bytes) and `{prefix}/webhooks/{path}`.
 */
export async function startAppServer(): Promise<{
  url: string;
  attach(pp: PocketPing): void;
  close(): Promise<void>;
}> {
  let pp: PocketPing | undefined;
  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      res.writeHead(500).end(String(err));
    });
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://app');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const file = /^\/pp\/files\/([^/]+)\//.exec(url.pathname);
    if (file && pp) {
      const found = await pp.readAttachment(file[1]!);
      if (!found) {
        res.writeHead(404).end();
        return;
      }
      const data = found.data instanceof Uint8Array ? found.data : new Uint8Array();
      res.writeHead(200, { 'content-type': found.attachment.mimeType, 'content-length': String(data.byteLength) });
      res.end(data);
      return;
    }
    const hook = /^\/pp\/webhooks\/([^/]+)$/.exec(url.pathname);
    const bridge = hook && pp?.bridges.find((b) => b.webhook?.path === hook[1]);
    if (bridge?.webhook) {
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = undefined;
      }
      const answer = await bridge.webhook.handle({
        method: req.method ?? 'GET',
        headers,
        rawBody: raw,
        body,
        query: Object.fromEntries(url.searchParams),
      });
      res.writeHead(answer.status, { 'content-type': 'application/json', ...(answer.headers ?? {}) });
      res.end(JSON.stringify(answer.body ?? { ok: answer.status < 300 }));
      return;
    }
    res.writeHead(404).end();
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/pp`;
  return {
    url,
    attach(instance) {
      pp = instance;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface SetupOptions {
  updates?: 'webhook' | 'polling';
  bridge?: Partial<TelegramBridgeOptions>;
  fake?: FakeTelegramOptions;
  pocketping?: Partial<PocketPingOptions>;
  /** Bridges registered after the Telegram bridge (a MemoryBridge playing Slack, ...). */
  extraBridges?: Bridge[];
  /** Give PocketPing no public URL (webhook mode then cannot register). */
  noPublicUrl?: boolean;
}

/** A fake Telegram, an app server, a TelegramBridge and a started PocketPing; closed after the test. */
export async function setup(options: SetupOptions = {}) {
  const fake = await FakeTelegram.start(options.fake);
  const app = await startAppServer();
  const logger = recordingLogger();
  const bridge = new TelegramBridge({
    token: fake.token,
    chatId: fake.chat.id,
    apiRoot: fake.apiRoot,
    updates: options.updates ?? 'webhook',
    ...options.bridge,
  });
  const storage = new MemoryStorage();
  const pp = new PocketPing({
    storage,
    bridges: [bridge, ...(options.extraBridges ?? [])],
    logger,
    attachmentStore: new MemoryAttachmentStore(),
    ...(options.noPublicUrl ? {} : { publicUrl: app.url }),
    ...options.pocketping,
  });
  app.attach(pp);
  onTestFinished(async () => {
    await pp.close();
    await app.close();
    await fake.close();
  });
  await pp.init();

  const connect = async (metadata: Record<string, unknown> = {}) => {
    const c = await pp.handleConnect({
      visitorId: `v-${Math.random().toString(36).slice(2)}`,
      sessionId: null,
      metadata: {
        url: 'https://shop.example.com/cart',
        referrer: 'https://www.google.com/',
        language: 'fr-FR',
        timezone: 'Europe/Paris',
        ...metadata,
      },
    });
    return c.sessionId;
  };
  const send = (sessionId: string, content: string, extra: { replyTo?: string; attachmentIds?: string[] } = {}) =>
    pp.handleMessage({
      sessionId,
      content,
      sender: 'visitor',
      attachmentIds: extra.attachmentIds ?? [],
      ...(extra.replyTo ? { replyTo: extra.replyTo } : {}),
    });
  const threadOf = async (sessionId: string) => (await storage.getSession(sessionId))?.bridgeThreads?.[bridge.name];
  const upload = async (sessionId: string, file: { filename: string; mimeType: string; bytes: Uint8Array }) => {
    const up = await pp.handleUploadRequest({
      sessionId,
      filename: file.filename,
      mimeType: file.mimeType,
      size: file.bytes.byteLength,
    });
    await pp.handleUploadData(up.attachmentId, file.bytes);
    await pp.handleUploadComplete({ sessionId, attachmentId: up.attachmentId });
    return up.attachmentId;
  };
  const frames = (sessionId: string) => {
    const list: OutgoingFrame[] = [];
    const stop = pp.subscribe(sessionId, (f) => list.push(f));
    onTestFinished(stop);
    return list;
  };
  /** Opens a session whose topic exists (one visitor message delivered). */
  const openTopic = async (first = 'Hello, I need help') => {
    const sessionId = await connect();
    const sent = await send(sessionId, first);
    await pp.flushDeliveries();
    const threadId = await threadOf(sessionId);
    if (!threadId) throw new Error('no topic was opened');
    return { sessionId, threadId, firstMessageId: sent.messageId };
  };
  return { fake, app, bridge, storage, pp, logger, connect, send, threadOf, upload, frames, openTopic };
}
