import { BridgeError, MemoryStorage, PocketPing, silentLogger } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { SlackBridge } from '../src/index.js';
import { onCleanup, startFake } from './helpers.js';

async function webhookSetup(options: { username?: string; iconEmoji?: string } = {}) {
  const fake = await startFake();
  const bridge = SlackBridge.webhook(fake.webhookUrl, { logger: silentLogger, ...options });
  const storage = new MemoryStorage();
  const pp = new PocketPing({ storage, bridges: [bridge], logger: silentLogger });
  await pp.init();
  onCleanup(() => pp.close());
  const sessionId = (
    await pp.handleConnect({
      visitorId: 'v-webhook-1',
      sessionId: null,
      metadata: { url: 'https://shop.example.com/cart' },
    })
  ).sessionId;
  return { fake, bridge, storage, pp, sessionId };
}

describe('SlackBridge webhook mode', () => {
  it('posts the session card once, then each message headed by the session title', async () => {
    const { fake, bridge, pp, sessionId } = await webhookSetup({ username: 'Website chat' });
    expect(bridge.mode).toBe('webhook');
    expect(bridge.webhook).toBeUndefined();
    await pp.handleMessage({ sessionId, content: 'Hi <!here>', sender: 'visitor', attachmentIds: [] });
    await pp.handleMessage({ sessionId, content: 'anyone?', sender: 'visitor', attachmentIds: [] });
    await pp.sendMessage(sessionId, { content: 'Yes!', operatorName: 'Ana', sourceBridge: 'telegram' });
    await pp.flushDeliveries();
    const [card, ...rest] = fake.webhookPosts;
    expect(card!.blocks?.[0]).toMatchObject({ type: 'header' });
    expect(JSON.stringify(card!.blocks)).toContain(sessionId);
    expect(rest.map((p) => p.text)).toEqual([
      '*Visitor bhook1 · shop.example.com/cart*\nHi &lt;!here&gt;',
      '*Visitor bhook1 · shop.example.com/cart*\nanyone?',
      '*Visitor bhook1 · shop.example.com/cart*\n*Ana via Telegram*: Yes!',
    ]);
    expect(fake.webhookPosts.every((p) => p.username === 'Website chat')).toBe(true);
    expect(fake.calls).toEqual([]);
  });

  it('edits and deletes are not attempted (a webhook post has no id)', async () => {
    const { fake, pp, storage, sessionId } = await webhookSetup();
    const sent = await pp.handleMessage({ sessionId, content: 'typo', sender: 'visitor', attachmentIds: [] });
    await pp.flushDeliveries();
    expect((await storage.getMessages(sessionId))[0]).toMatchObject({ status: 'delivered' });
    await pp.handleEditMessage(sent.messageId, { sessionId, content: 'fixed' });
    await pp.handleDeleteMessage(sent.messageId, { sessionId });
    await pp.flushDeliveries();
    expect(fake.webhookPosts).toHaveLength(2);
    expect(await pp.deadLetters()).toEqual([]);
  });

  it('a 429 from the webhook becomes a BridgeError with retryAfterMs, and the queue delivers later', async () => {
    const { fake, bridge, pp, storage, sessionId } = await webhookSetup();
    await pp.handleMessage({ sessionId, content: 'first', sender: 'visitor', attachmentIds: [] });
    await pp.flushDeliveries();
    fake.failNext('webhook', { status: 429, retryAfter: 3 });
    const session = (await storage.getSession(sessionId))!;
    const [message] = await storage.getMessages(sessionId);
    const err = await bridge.onVisitorMessage(message!, session, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BridgeError);
    expect(err).toMatchObject({ code: 'BRIDGE_RATE_LIMITED', retryAfterMs: 3000 });

    fake.failNext('webhook', { status: 429, retryAfter: 1 });
    await pp.handleMessage({ sessionId, content: 'second', sender: 'visitor', attachmentIds: [] });
    await pp.handleMessage({ sessionId, content: 'third', sender: 'visitor', attachmentIds: [] });
    await pp.flushDeliveries();
    expect(fake.webhookPosts.map((p) => p.text.split('\n')[1])).toEqual([undefined, 'first', 'second', 'third']);
  });

  it('a removed webhook (404 no_service) fails for good', async () => {
    const { fake, bridge, storage, pp, sessionId } = await webhookSetup();
    await pp.handleMessage({ sessionId, content: 'first', sender: 'visitor', attachmentIds: [] });
    await pp.flushDeliveries();
    fake.failNext('webhook', { status: 404, error: 'no_service' });
    const err = await bridge
      .onVisitorMessage((await storage.getMessages(sessionId))[0]!, (await storage.getSession(sessionId))!, {})
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BRIDGE_REJECTED', retryable: false });
    expect((err as Error).message).toContain('no_service');
  });
});
