import { afterEach, describe, expect, it } from 'vitest';
import { DiscordBridge } from '../src/index.js';
import { type Harness, startHarness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const webhookHarness = (extra: { username?: string } = {}) =>
  startHarness({ bridge: (d) => ({ webhookUrl: d.webhookUrl, apiUrl: d.apiUrl, ...extra }) });

describe('webhook mode', () => {
  it('posts each session card once, then visitor messages under a username per visitor', async () => {
    h = await webhookHarness({ username: 'Website chat' });
    expect(h.bridge.mode).toBe('webhook');
    const a = await h.connect('visitor-aaaaaa');
    const b = await h.connect('visitor-bbbbbb');
    await h.send(a, 'hello from A');
    await h.send(a, 'again from A');
    await h.pp.flushDeliveries(); // sessions are delivered in parallel; keep this listing simple
    await h.send(b, 'hello from B');
    await h.pp.flushDeliveries();

    const posted = h.discord.channelMessages(h.discord.channelId);
    expect(posted.map((m) => [m.author.username, m.content || m.embeds[0]?.title])).toEqual([
      ['Website chat', 'Visitor aaaaaa · shop.example.com/cart'],
      ['Visitor aaaaaa · shop.example.com/cart', 'hello from A'],
      ['Visitor aaaaaa · shop.example.com/cart', 'again from A'],
      ['Website chat', 'Visitor bbbbbb · shop.example.com/cart'],
      ['Visitor bbbbbb · shop.example.com/cart', 'hello from B'],
    ]);
    expect(posted.every((m) => m.webhook_id === h!.discord.webhookId)).toBe(true);
    // wait=true gave us ids: they are stored for edits and deletes.
    const [stored] = await h.storage.getMessages(a);
    expect(stored!.bridgeMessageIds?.discord).toBe(posted[1]!.id);
    expect(await h.threadOf(a)).toBe(posted[0]!.id);
    expect(h.discord.requests.filter((r) => r.path.startsWith('/webhooks/') && r.method === 'POST')).toHaveLength(5);
  });

  it('visitor edits and deletes change the webhook messages', async () => {
    h = await webhookHarness();
    const sessionId = await h.connect();
    const first = await h.send(sessionId, 'helo');
    const second = await h.send(sessionId, 'wrong chat');
    await h.pp.flushDeliveries();
    await h.pp.handleEditMessage(first, { sessionId, content: 'hello' });
    await h.pp.handleDeleteMessage(second, { sessionId });
    await h.pp.flushDeliveries();
    const live = h.discord
      .channelMessages(h.discord.channelId)
      .filter((m) => !m.deleted && m.content)
      .map((m) => m.content);
    expect(live).toEqual(['hello']);
  });

  it('operator replies from elsewhere are posted under the operator and platform name', async () => {
    h = await webhookHarness();
    const sessionId = await h.connect();
    await h.send(sessionId, 'question');
    await h.pp.flushDeliveries();
    await h.pp.sendMessage(sessionId, { content: 'answer', operatorName: 'Ana', sourceBridge: 'slack' });
    await h.pp.flushDeliveries();
    const last = h.discord.channelMessages(h.discord.channelId).at(-1)!;
    expect([last.author.username, last.content]).toEqual(['Ana via Slack', 'answer']);
  });

  it('files are uploaded through the webhook and replies carry a quote of the message they answer', async () => {
    h = await webhookHarness();
    const sessionId = await h.connect();
    const first = await h.send(sessionId, 'Where is my order #1234?');
    const att = await h.pp.storeFile(
      sessionId,
      { filename: 'receipt.txt', mimeType: 'text/plain', data: Buffer.from('paid') },
      'visitor',
    );
    await h.send(sessionId, 'here is the receipt', { attachmentIds: [att.id], replyTo: first });
    await h.pp.flushDeliveries();
    const last = h.discord.channelMessages(h.discord.channelId).at(-1)!;
    expect(last.content).toBe('> ↪ Where is my order #1234?\nhere is the receipt');
    expect(last.attachments.map((a) => a.filename)).toEqual(['receipt.txt']);
    expect(Object.values(last.files)[0]!.toString()).toBe('paid');
  });

  it('opens no Gateway connection and needs no bot token', async () => {
    h = await webhookHarness();
    expect(h.discord.gatewayConnections).toBe(0);
    expect(h.discord.requests.some((r) => r.path === '/gateway/bot')).toBe(false);
  });

  it('the static factory builds the same bridge', () => {
    const bridge = DiscordBridge.webhook(`https://discord.com/api/webhooks/123456789012345678/${'a'.repeat(68)}`, {
      name: 'discord-alerts',
    });
    expect([bridge.mode, bridge.name, bridge.webhook]).toEqual(['webhook', 'discord-alerts', undefined]);
  });
});
