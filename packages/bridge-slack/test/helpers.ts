import { MemoryAttachmentStore, MemoryStorage, PocketPing, silentLogger } from '@pocketping/core';
import { afterEach } from 'vitest';
import { SlackBridge, type SlackBridgeOptions } from '../src/index.js';
import { FakeSlack } from './fake-slack.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** Runs `fn` after the current test (servers, PocketPing instances). */
export function onCleanup(fn: () => Promise<void>): void {
  cleanups.push(fn);
}

/** A started fake Slack, closed after the test. */
export async function startFake(): Promise<FakeSlack> {
  const fake = await FakeSlack.start();
  onCleanup(() => fake.close());
  return fake;
}

/** Bot-mode options pointed at the fake. */
export function botOptions(fake: FakeSlack, extra: Partial<SlackBridgeOptions> = {}): SlackBridgeOptions {
  return {
    botToken: fake.token,
    channelId: fake.channelId,
    signingSecret: fake.signingSecret,
    apiUrl: fake.apiUrl,
    logger: silentLogger,
    ...extra,
  };
}

/** A fake Slack, a bot-mode bridge on it, and a started PocketPing with an attachment store. */
export async function setup(
  extra: Partial<SlackBridgeOptions> | ((fake: FakeSlack) => Partial<SlackBridgeOptions>) = {},
) {
  const fake = await startFake();
  const bridge = new SlackBridge(botOptions(fake, typeof extra === 'function' ? extra(fake) : extra));
  fake.bridge = bridge;
  const storage = new MemoryStorage();
  const pp = new PocketPing({
    storage,
    bridges: [bridge],
    logger: silentLogger,
    attachmentStore: new MemoryAttachmentStore(),
    publicUrl: 'https://chat.example.com/pocketping',
  });
  await pp.init();
  onCleanup(() => pp.close());
  const connect = async () =>
    (
      await pp.handleConnect({
        visitorId: `v-${Math.random().toString(36).slice(2)}`,
        sessionId: null,
        metadata: { url: 'https://shop.example.com/cart', language: 'en' },
      })
    ).sessionId;
  const send = (sessionId: string, content: string, more: { replyTo?: string; attachmentIds?: string[] } = {}) =>
    pp.handleMessage({
      sessionId,
      content,
      sender: 'visitor',
      attachmentIds: more.attachmentIds ?? [],
      ...(more.replyTo ? { replyTo: more.replyTo } : {}),
    });
  const threadOf = async (sessionId: string) => (await storage.getSession(sessionId))?.bridgeThreads?.[bridge.name];
  /** A session with one delivered visitor message; returns its thread. */
  const conversation = async (first = 'Hello, I need help') => {
    const sessionId = await connect();
    const sent = await send(sessionId, first);
    await pp.flushDeliveries();
    const thread = await threadOf(sessionId);
    if (!thread) throw new Error('no thread was opened');
    return { sessionId, thread, firstMessageId: sent.messageId };
  };
  return { fake, bridge, storage, pp, connect, send, threadOf, conversation };
}
