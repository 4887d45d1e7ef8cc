import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBridge, PocketPing, type PocketPingOptions, silentLogger } from '@pocketping/core';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { pocketpingPlugin } from '../src/index.js';
import { openWs, until } from './helpers.js';

const CENTRAL_KEY = 'central-admin-key-0123456789';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function serve(
  options: PocketPingOptions,
  apiKey?: string,
): Promise<{ pp: PocketPing; app: FastifyInstance; base: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'pp-remote-'));
  const pp = new PocketPing({ logger: silentLogger, ...options });
  const app = Fastify({ forceCloseConnections: true });
  await app.register(pocketpingPlugin, {
    pocketping: pp,
    prefix: '/pocketping',
    uploadDir: dir,
    ...(apiKey ? { apiKey } : {}),
  });
  const origin = await app.listen({ host: '127.0.0.1', port: 0 });
  cleanups.push(async () => {
    await app.close();
    await pp.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { pp, app, base: `${origin}/pocketping` };
}

async function central() {
  const telegram = new MemoryBridge({ name: 'telegram' });
  const c = await serve({ bridges: [telegram] }, CENTRAL_KEY);
  await c.pp.init();
  return { ...c, telegram };
}

describe('remote mode', () => {
  it('mirrors visitor messages to the central bridges and brings operator replies back to the widget', async () => {
    const c = await central();
    const local = await serve({ bridgeUrl: c.base, apiKey: CENTRAL_KEY });
    await local.pp.init();
    const conn = await local.pp.handleConnect({
      visitorId: 'v-remote',
      sessionId: null,
      metadata: { url: 'https://app.example/' },
    });
    const ws = await openWs({ base: local.base } as never, conn.sessionId);
    const sent = await local.pp.handleMessage({
      sessionId: conn.sessionId,
      content: 'Hello from the app',
      attachmentIds: [],
    });
    await local.pp.flushDeliveries();
    await c.pp.flushDeliveries();
    const thread = c.telegram.threadOf(conn.sessionId);
    expect(thread).toBeTruthy();
    expect(c.telegram.thread(thread!).map((m) => m.text)).toContain('Hello from the app');
    // The visitor message reached a bridge: its ticks turn delivered on the app's widget.
    await ws.waitFor((f) => f.type === 'read' && (f.data.messageIds as string[]).includes(sent.messageId));

    await c.telegram.reply(thread!, 'Hi! Ana from support.', { operatorName: 'Ana' });
    const frame = await ws.waitFor((f) => f.type === 'message' && f.data.sender === 'operator');
    expect(frame.data).toMatchObject({ content: 'Hi! Ana from support.', operatorName: 'Ana' });
    const local1 = await local.pp.getMessages(conn.sessionId);
    expect(local1.map((m) => [m.sender, m.content])).toEqual([
      ['visitor', 'Hello from the app'],
      ['operator', 'Hi! Ana from support.'],
    ]);

    const reply = c.telegram.thread(thread!).find((m) => m.kind === 'operator')!;
    await c.telegram.editReply(reply.platformMessageId, 'Hi! Ana from support (edited).');
    await ws.waitFor((f) => f.type === 'message_edited' && f.data.content === 'Hi! Ana from support (edited).');
    await c.telegram.deleteReply(reply.platformMessageId);
    await ws.waitFor((f) => f.type === 'message_deleted');
    ws.close();
  });

  it('visitor edits and deletes follow, and app replies reach the central bridges without echo', async () => {
    const c = await central();
    const local = await serve({ bridgeUrl: c.base, apiKey: CENTRAL_KEY });
    await local.pp.init();
    const conn = await local.pp.handleConnect({ visitorId: 'v2', sessionId: null, metadata: {} });
    const sent = await local.pp.handleMessage({ sessionId: conn.sessionId, content: 'helo', attachmentIds: [] });
    await local.pp.flushDeliveries();
    await local.pp.handleEditMessage(sent.messageId, { sessionId: conn.sessionId, content: 'hello' });
    await local.pp.flushDeliveries();
    await c.pp.flushDeliveries();
    const thread = c.telegram.threadOf(conn.sessionId)!;
    expect(c.telegram.thread(thread).find((m) => m.kind === 'visitor')?.text).toBe('hello');
    await local.pp.sendMessage(conn.sessionId, { content: 'From the app dashboard', operatorName: 'Bo' });
    await local.pp.flushDeliveries();
    await c.pp.flushDeliveries();
    expect(c.telegram.thread(thread).some((m) => m.text.includes('From the app dashboard'))).toBe(true);
    await new Promise((r) => setTimeout(r, 150));
    const ops = (await local.pp.getMessages(conn.sessionId)).filter((m) => m.sender === 'operator');
    expect(ops).toHaveLength(1);
    await local.pp.handleDeleteMessage(sent.messageId, { sessionId: conn.sessionId });
    await local.pp.flushDeliveries();
    await c.pp.flushDeliveries();
    expect(c.telegram.thread(thread).find((m) => m.kind === 'visitor')?.deleted).toBe(true);
  });

  it('receives replies by signed webhook, and refuses unsigned ones', async () => {
    const secret = 'remote-webhook-secret';
    const local = await serve({
      bridgeUrl: 'http://127.0.0.1:9/pocketping',
      apiKey: CENTRAL_KEY,
      bridgeReceive: 'webhook',
      bridgeWebhookSecret: secret,
    });
    const telegram = new MemoryBridge({ name: 'telegram' });
    const c = await serve(
      { bridges: [telegram], webhooks: [{ url: `${local.base}/webhooks/remote`, secret }] },
      CENTRAL_KEY,
    );
    await c.pp.init();
    // Point the app at the central server now that its port is known.
    (local.pp.bridges[0] as unknown as { options: { url: string } }).options.url = c.base;
    await local.pp.init();
    const conn = await local.pp.handleConnect({ visitorId: 'v3', sessionId: null, metadata: {} });
    await local.pp.handleMessage({ sessionId: conn.sessionId, content: 'ping', attachmentIds: [] });
    await local.pp.flushDeliveries();
    await c.pp.flushDeliveries();
    await telegram.reply(telegram.threadOf(conn.sessionId)!, 'pong', { operatorName: 'Ana' });
    await until(async () => (await local.pp.getMessages(conn.sessionId)).some((m) => m.content === 'pong'), 5000);
    const unsigned = await fetch(`${local.base}/webhooks/remote`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        type: 'message.created',
        data: { message: { id: 'x', sessionId: conn.sessionId, sender: 'operator', content: 'forged' } },
      }),
    });
    expect(unsigned.status).toBe(401);
  });

  it('a wrong central key fails at start with a guide', async () => {
    const c = await central();
    const pp = new PocketPing({ logger: silentLogger, bridgeUrl: c.base, apiKey: 'wrong-key-but-long-enough' });
    const err = await pp.init().catch((e) => e);
    expect(err?.formattedGuide?.()).toMatch(/refused the API key/);
    await pp.close();
  });
});
