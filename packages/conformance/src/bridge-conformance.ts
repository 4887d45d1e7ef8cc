import { type Bridge, MemoryStorage, type OutgoingFrame, PocketPing, silentLogger } from '@pocketping/core';
import { afterEach, describe, expect, it } from 'vitest';

/** A post as the fake platform shows it. */
export interface FakePost {
  id: string;
  text: string;
  deleted?: boolean;
}

/** A local fake of the operators' platform, driven by the bridge conformance suite. */
export interface BridgeFake {
  /** Posts in one thread, oldest first (the session card may be among them). */
  posts(threadId: string): Promise<FakePost[]>;
  /** An operator writes in a thread; the fake delivers it the way the platform would. */
  operatorSays?(threadId: string, text: string): Promise<void>;
  /** Stops the fake. */
  close?(): Promise<void>;
}

/** Options of `bridgeConformance`. */
export interface BridgeConformanceOptions {
  /** Shown in the test names. */
  name: string;
  /** Starts the fake platform (a local server on 127.0.0.1, or an in-memory one). */
  fake: () => BridgeFake | Promise<BridgeFake>;
  /** Builds the bridge pointed at the fake. */
  create: (fake: BridgeFake) => Bridge | Promise<Bridge>;
  /** What the bridge can do; flows it cannot do are skipped. @default all true */
  supports?: { edit?: boolean; delete?: boolean; inbound?: boolean; mirror?: boolean };
  /** Skip the whole suite, with the reason printed. */
  skip?: string | false;
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

/**
 * Registers the bridge conformance suite (vitest): the bridge's lifecycle and every flow a
 * chat relay needs, run through a real PocketPing against the given fake platform.
 *
 * @example
 * ```ts
 * bridgeConformance({
 *   name: 'ConsoleBridge',
 *   fake: () => startFakeConsole(),
 *   create: (fake) => new ConsoleBridge({ output: fake.stream }),
 * });
 * ```
 */
export function bridgeConformance(options: BridgeConformanceOptions): void {
  const supports = { edit: true, delete: true, inbound: true, mirror: true, ...options.supports };
  const suite = options.skip ? describe.skip : describe;
  if (options.skip) console.warn(`[conformance] ${options.name} skipped: ${options.skip}`);

  suite(`${options.name} bridge conformance`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      while (cleanups.length > 0) await cleanups.pop()!();
    });

    async function setup() {
      const fake = await options.fake();
      const bridge = await options.create(fake);
      const storage = new MemoryStorage();
      const pp = new PocketPing({ storage, bridges: [bridge], logger: silentLogger });
      await pp.init();
      cleanups.push(async () => {
        await pp.close();
        await fake.close?.();
      });
      const connect = async (visitorId = `v-${Math.random().toString(36).slice(2)}`) => {
        const c = await pp.handleConnect({
          visitorId,
          sessionId: null,
          metadata: { url: 'https://shop.example.com/cart', language: 'en' },
        });
        return c.sessionId;
      };
      const send = (sessionId: string, content: string) =>
        pp.handleMessage({ sessionId, content, sender: 'visitor', attachmentIds: [] });
      const threadOf = async (sessionId: string) => (await storage.getSession(sessionId))?.bridgeThreads?.[bridge.name];
      const texts = async (threadId: string) =>
        (await fake.posts(threadId)).filter((p) => !p.deleted).map((p) => p.text);
      return { fake, bridge, storage, pp, connect, send, threadOf, texts };
    }

    it('a visitor who only connects opens no thread', async () => {
      const { pp, connect, threadOf } = await setup();
      const sessionId = await connect();
      await pp.flushDeliveries();
      expect(await threadOf(sessionId)).toBeUndefined();
    });

    it('the first visitor message opens a thread and is posted there', async () => {
      const { pp, storage, bridge, connect, send, threadOf, texts } = await setup();
      const sessionId = await connect();
      const sent = await send(sessionId, 'Do you ship to Canada?');
      await pp.flushDeliveries();
      const threadId = await threadOf(sessionId);
      expect(threadId).toBeTruthy();
      expect((await texts(threadId!)).some((t) => t.includes('Do you ship to Canada?'))).toBe(true);
      const [stored] = await storage.getMessages(sessionId);
      expect(stored!.id).toBe(sent.messageId);
      expect(stored!.bridgeMessageIds?.[bridge.name]).toBeTruthy();
      expect(stored!.status).toBe('delivered');
    });

    it('later messages go into the same thread, in order', async () => {
      const { pp, connect, send, threadOf, texts } = await setup();
      const sessionId = await connect();
      await send(sessionId, 'one');
      await send(sessionId, 'two');
      await send(sessionId, 'three');
      await pp.flushDeliveries();
      const threadId = await threadOf(sessionId);
      const posted = (await texts(threadId!)).filter((t) => /\b(one|two|three)\b/.test(t));
      expect(posted.map((t) => t.match(/\b(one|two|three)\b/)![1])).toEqual(['one', 'two', 'three']);
    });

    it('each session gets its own thread', async () => {
      const { pp, connect, send, threadOf, texts } = await setup();
      const a = await connect();
      const b = await connect();
      await send(a, 'from session A');
      await send(b, 'from session B');
      await pp.flushDeliveries();
      const ta = await threadOf(a);
      const tb = await threadOf(b);
      expect(ta).toBeTruthy();
      expect(tb).toBeTruthy();
      expect(ta).not.toBe(tb);
      expect((await texts(ta!)).some((t) => t.includes('from session B'))).toBe(false);
    });

    it.skipIf(!supports.edit)('a visitor edit changes the posted message', async () => {
      const { pp, connect, send, threadOf, texts } = await setup();
      const sessionId = await connect();
      const sent = await send(sessionId, 'helo');
      await pp.flushDeliveries();
      await pp.handleEditMessage(sent.messageId, { sessionId, content: 'hello, fixed' });
      await pp.flushDeliveries();
      const posted = await texts((await threadOf(sessionId))!);
      expect(posted.some((t) => t.includes('hello, fixed'))).toBe(true);
      expect(posted.some((t) => /\bhelo\b/.test(t))).toBe(false);
    });

    it.skipIf(!supports.delete)('a visitor delete removes the posted message', async () => {
      const { pp, connect, send, threadOf, texts } = await setup();
      const sessionId = await connect();
      await send(sessionId, 'keep me');
      const sent = await send(sessionId, 'oops wrong chat');
      await pp.flushDeliveries();
      await pp.handleDeleteMessage(sent.messageId, { sessionId });
      await pp.flushDeliveries();
      const posted = await texts((await threadOf(sessionId))!);
      expect(posted.some((t) => t.includes('oops wrong chat'))).toBe(false);
      expect(posted.some((t) => t.includes('keep me'))).toBe(true);
    });

    it.skipIf(!supports.mirror)('an operator reply sent through the API is mirrored into the thread', async () => {
      const { pp, connect, send, threadOf, texts } = await setup();
      const sessionId = await connect();
      await send(sessionId, 'question');
      await pp.flushDeliveries();
      await pp.sendMessage(sessionId, { content: 'answer from the dashboard', operatorName: 'Ana' });
      await pp.flushDeliveries();
      expect((await texts((await threadOf(sessionId))!)).some((t) => t.includes('answer from the dashboard'))).toBe(
        true,
      );
    });

    it.skipIf(!supports.inbound)('an operator writing in the thread reaches the widget in real time', async () => {
      const { pp, fake, storage, connect, send, threadOf } = await setup();
      const sessionId = await connect();
      await send(sessionId, 'anyone there?');
      await pp.flushDeliveries();
      const frames: OutgoingFrame[] = [];
      const unsubscribe = pp.subscribe(sessionId, (f) => frames.push(f));
      try {
        await fake.operatorSays!((await threadOf(sessionId))!, 'Yes, how can I help?');
        await waitFor(() =>
          frames.some(
            (f) =>
              f.event.type === 'message' &&
              f.event.data.sender === 'operator' &&
              f.event.data.content === 'Yes, how can I help?',
          ),
        );
        const stored = await storage.getMessages(sessionId);
        expect(stored.filter((m) => m.sender === 'operator').map((m) => m.content)).toEqual(['Yes, how can I help?']);
      } finally {
        unsubscribe();
      }
    });

    it('close can be called twice', async () => {
      const { bridge } = await setup();
      await bridge.close?.();
      await bridge.close?.();
    });
  });
}
