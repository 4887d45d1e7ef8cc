import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  collectBytes,
  type Logger,
  MemoryAttachmentStore,
  MemoryStorage,
  type OutgoingFrame,
  PocketPing,
  type PocketPingEvent,
} from '@pocketping/core';
import { DiscordBridge, type DiscordBridgeOptions } from '../src/index.js';
import { FakeDiscord, type FakeDiscordOptions } from './fake-discord.js';

/** Polls until `check` holds (Gateway events arrive asynchronously). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

/** A logger that keeps what was logged, for assertions. */
export function recordingLogger(): Logger & { lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = [];
  const at = (level: string) => (_obj: unknown, msg?: string) => {
    lines.push({ level, msg: msg ?? '' });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Serves PocketPing's attachment bytes the way the server's file route does. */
async function startFileServer(pp: () => PocketPing): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const id = /^\/files\/([^/]+)\//.exec(req.url ?? '')?.[1];
    void (async () => {
      const file = id ? await pp().readAttachment(id) : null;
      if (!file) {
        res.writeHead(404).end();
        return;
      }
      const data = await collectBytes(file.data);
      res.writeHead(200, { 'content-type': file.attachment.mimeType, 'content-length': String(data.byteLength) });
      res.end(data);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Everything a test needs: the fake Discord, the bridge and a PocketPing using it. */
export interface Harness {
  discord: FakeDiscord;
  bridge: DiscordBridge;
  pp: PocketPing;
  storage: MemoryStorage;
  logger: ReturnType<typeof recordingLogger>;
  events: PocketPingEvent[];
  connect(visitorId?: string): Promise<string>;
  send(sessionId: string, content: string, extra?: { attachmentIds?: string[]; replyTo?: string }): Promise<string>;
  threadOf(sessionId: string): Promise<string | undefined>;
  frames(sessionId: string): OutgoingFrame[];
  close(): Promise<void>;
}

/** Starts a fake Discord and a PocketPing with one DiscordBridge pointed at it. */
export async function startHarness(
  options: {
    fake?: FakeDiscordOptions;
    bridge?: (discord: FakeDiscord) => DiscordBridgeOptions;
    /** PocketPing's upload limit, in bytes. */
    maxAttachmentSize?: number;
    /**
     * Wait until the Gateway session is ready (it connects right after `init`, on the lease
     * holder). Off for setups that do not connect.
     * @default true in bot mode
     */
    waitForGateway?: boolean;
  } = {},
): Promise<Harness> {
  const discord = await FakeDiscord.start(options.fake);
  const logger = recordingLogger();
  const storage = new MemoryStorage();
  let ppRef: PocketPing | undefined;
  const files = await startFileServer(() => ppRef!);
  const bridge = new DiscordBridge(
    options.bridge?.(discord) ?? { botToken: discord.token, channelId: discord.channelId, apiUrl: discord.apiUrl },
  );
  const pp = new PocketPing({
    storage,
    bridges: [bridge],
    logger,
    attachmentStore: new MemoryAttachmentStore(),
    publicUrl: files.url,
    delivery: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 100 },
    ...(options.maxAttachmentSize ? { maxAttachmentSize: options.maxAttachmentSize } : {}),
  });
  ppRef = pp;
  const events: PocketPingEvent[] = [];
  pp.on('*', (e) => {
    events.push(e as PocketPingEvent);
  });
  const subscriptions = new Map<string, OutgoingFrame[]>();
  const unsubscribes: (() => void)[] = [];
  try {
    await pp.init();
    if (bridge.mode === 'bot' && options.waitForGateway !== false) await waitFor(() => bridge.gatewayConnected);
  } catch (err) {
    await pp.close();
    await files.close();
    await discord.close();
    throw err;
  }
  return {
    discord,
    bridge,
    pp,
    storage,
    logger,
    events,
    async connect(visitorId = `v-${Math.random().toString(36).slice(2)}`) {
      const c = await pp.handleConnect({
        visitorId,
        sessionId: null,
        metadata: { url: 'https://shop.example.com/cart', language: 'en' },
      });
      const list: OutgoingFrame[] = [];
      subscriptions.set(c.sessionId, list);
      unsubscribes.push(pp.subscribe(c.sessionId, (f) => list.push(f)));
      return c.sessionId;
    },
    async send(sessionId, content, extra = {}) {
      const r = await pp.handleMessage({
        sessionId,
        content,
        sender: 'visitor',
        attachmentIds: extra.attachmentIds ?? [],
        ...(extra.replyTo ? { replyTo: extra.replyTo } : {}),
      });
      return r.messageId;
    },
    async threadOf(sessionId) {
      return (await storage.getSession(sessionId))?.bridgeThreads?.[bridge.name];
    },
    frames(sessionId) {
      return subscriptions.get(sessionId) ?? [];
    },
    async close() {
      for (const u of unsubscribes) u();
      await pp.close();
      await files.close();
      await discord.close();
    },
  };
}
