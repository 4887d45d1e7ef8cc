import { MemoryStorage, PocketPing } from '@pocketping/core';
import { Client, Events } from 'discord.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DISCORD_INTENTS, DiscordBridge } from '../src/index.js';
import { FakeDiscord } from './fake-discord.js';
import { type Harness, recordingLogger, startHarness, waitFor } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  vi.unstubAllEnvs();
  await h?.close();
  h = undefined;
});

describe('Gateway connection', () => {
  it('gateway: false posts without connecting and logs that replies need a long-running process', async () => {
    h = await startHarness({
      bridge: (d) => ({ botToken: d.token, channelId: d.channelId, apiUrl: d.apiUrl, gateway: false }),
      waitForGateway: false,
    });
    expect(h.logger.lines.some((l) => l.level === 'warn' && /long-running process/.test(l.msg))).toBe(true);
    const sessionId = await h.connect();
    await h.send(sessionId, 'still posted');
    await h.pp.flushDeliveries();
    expect(h.discord.channelMessages((await h.threadOf(sessionId))!)[0]!.content).toBe('still posted');
    expect(h.discord.gatewayConnections).toBe(0);
    expect(h.discord.requests.some((r) => r.path === '/gateway/bot')).toBe(false);
  });

  it('on Vercel the Gateway is skipped by default, with the same explanation', async () => {
    vi.stubEnv('VERCEL', '1');
    h = await startHarness({ waitForGateway: false });
    expect(h.logger.lines.some((l) => /running on Vercel/.test(l.msg) && /pocketping-server/.test(l.msg))).toBe(true);
    const sessionId = await h.connect();
    await h.send(sessionId, 'posted from a function');
    await h.pp.flushDeliveries();
    expect(h.discord.gatewayConnections).toBe(0);
    expect(h.discord.requests.some((r) => r.path === '/gateway/bot')).toBe(false);
  });

  it('close() disconnects from the Gateway', async () => {
    h = await startHarness();
    expect(h.discord.gatewayConnections).toBe(1);
    await h.bridge.close();
    await waitFor(() => h!.discord.gatewayConnections === 0);
  });

  it('a ready-made client is used as it is and left connected on close', async () => {
    const discord = await FakeDiscord.start();
    const client = new Client({ intents: [...DISCORD_INTENTS], rest: { api: discord.apiUrl } });
    const ready = new Promise((resolve) => client.once(Events.ClientReady, resolve));
    await client.login(discord.token);
    await ready;
    const bridge = new DiscordBridge({ botToken: discord.token, channelId: discord.channelId, client });
    const storage = new MemoryStorage();
    const pp = new PocketPing({ storage, bridges: [bridge], logger: recordingLogger() });
    try {
      await pp.init();
      const { sessionId } = await pp.handleConnect({ visitorId: 'v-1', sessionId: null, metadata: {} });
      await pp.handleMessage({ sessionId, content: 'hi', sender: 'visitor', attachmentIds: [] });
      await pp.flushDeliveries();
      const threadId = (await storage.getSession(sessionId))!.bridgeThreads!.discord!;
      discord.say(threadId, 'reply through your client');
      await waitFor(async () => (await storage.getMessages(sessionId)).some((m) => m.sender === 'operator'));
      await pp.close();
      expect(client.isReady()).toBe(true);
      expect(discord.gatewayConnections).toBe(1);
    } finally {
      await pp.close();
      await client.destroy();
      await discord.close();
    }
  });
});
