import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PocketPing, silentLogger } from '../src/index.js';
import { until } from './helpers.js';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server | undefined;
let pp: PocketPing | undefined;
afterEach(async () => {
  await pp?.close();
  pp = undefined;
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

async function receiver(statuses: number[] = []): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  server = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    received.push({ headers: req.headers, body });
    res.writeHead(statuses.shift() ?? 200, { 'content-type': 'application/json' });
    res.end('{}');
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

describe('outgoing webhooks', () => {
  it('posts signed session and message events the receiver can verify', async () => {
    const { url, received } = await receiver();
    pp = new PocketPing({ logger: silentLogger, webhooks: [{ url, secret: 'shh-secret-1' }] });
    await pp.init();
    const c = await pp.handleConnect({ visitorId: 'v', sessionId: null, metadata: { url: 'https://x.example/' } });
    await pp.handleMessage({ sessionId: c.sessionId, content: 'hello', attachmentIds: [] });
    await until(() => received.length >= 2, 4000);
    const types = received.map((r) => JSON.parse(r.body).type);
    expect(types).toEqual(['session.started', 'message.created']);
    for (const r of received) {
      const expected = createHmac('sha256', 'shh-secret-1').update(r.body).digest('hex');
      expect(r.headers['x-pocketping-signature']).toBe(`sha256=${expected}`);
    }
    const msg = JSON.parse(received[1]!.body);
    expect(msg.data.message).toMatchObject({ content: 'hello', sender: 'visitor', sessionId: c.sessionId });
    expect(msg.session).toMatchObject({ id: c.sessionId, visitorId: 'v' });
  });

  it('sends only the events a target asked for', async () => {
    const { url, received } = await receiver();
    pp = new PocketPing({ logger: silentLogger, webhooks: [{ url, events: ['custom_event'] }] });
    await pp.init();
    const c = await pp.handleConnect({ visitorId: 'v', sessionId: null, metadata: {} });
    await pp.handleMessage({ sessionId: c.sessionId, content: 'ignored', attachmentIds: [] });
    await pp.triggerEvent(c.sessionId, 'clicked_pricing', { plan: 'pro' });
    await until(() => received.length >= 1, 4000);
    await new Promise((r) => setTimeout(r, 50));
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0]!.body)).toMatchObject({
      type: 'custom_event',
      event: { name: 'clicked_pricing', data: { plan: 'pro' }, sessionId: c.sessionId },
      session: { id: c.sessionId },
    });
  });

  it('retries a failing receiver with backoff and delivers in order', async () => {
    const { url, received } = await receiver([500, 503]);
    pp = new PocketPing({ logger: silentLogger, webhookUrl: url, webhookSecret: 'another-secret' });
    await pp.init();
    const c = await pp.handleConnect({ visitorId: 'v', sessionId: null, metadata: {} });
    await pp.handleMessage({ sessionId: c.sessionId, content: 'first', attachmentIds: [] });
    await until(() => received.filter((r) => JSON.parse(r.body).type === 'message.created').length >= 1, 6000);
    const types = received.map((r) => JSON.parse(r.body).type);
    // session.started failed twice, then arrived; message.created came only after it.
    expect(types).toEqual(['session.started', 'session.started', 'session.started', 'message.created']);
  });

  it('does not retry a receiver that refuses the payload with a 4xx', async () => {
    const { url, received } = await receiver([400]);
    pp = new PocketPing({ logger: silentLogger, webhooks: [{ url, events: ['session.started'] }] });
    await pp.init();
    await pp.handleConnect({ visitorId: 'v', sessionId: null, metadata: {} });
    await until(() => received.length >= 1, 4000);
    await new Promise((r) => setTimeout(r, 700));
    expect(received).toHaveLength(1);
  });
});
