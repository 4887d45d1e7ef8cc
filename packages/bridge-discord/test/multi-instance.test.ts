import {
  InProcessEventBus,
  MemoryAttachmentStore,
  MemoryStorage,
  type OutgoingFrame,
  PocketPing,
  type Storage,
} from '@pocketping/core';
import { describe, expect, it, onTestFinished } from 'vitest';
import { DiscordBridge } from '../src/index.js';
import { FakeDiscord } from './fake-discord.js';
import { recordingLogger, waitFor } from './helpers.js';

/** Short lease, so a takeover happens within a test; production uses 15 s. */
const LEASE_MS = 300;

interface Instance {
  /** Path segment of this instance's `apiUrl`, so the fake tells its requests apart. */
  label: string;
  bridge: DiscordBridge;
  pp: PocketPing;
  logger: ReturnType<typeof recordingLogger>;
}

/**
 * Two PocketPing instances sharing one storage, one event bus and one bot, like two server
 * processes on one database. Instance `a` starts first and holds the Gateway lease. `a` may see
 * the storage through `storageOfA` (to take the lease away from it).
 */
async function twoInstances(options: { storageOfA?: (shared: Storage) => Storage } = {}) {
  const discord = await FakeDiscord.start();
  const storage = new MemoryStorage();
  const eventBus = new InProcessEventBus();
  const attachmentStore = new MemoryAttachmentStore();
  const make = (label: string, view: Storage): Instance => {
    const logger = recordingLogger();
    const bridge = new DiscordBridge({
      botToken: discord.token,
      channelId: discord.channelId,
      apiUrl: discord.apiUrl.replace(/\/api$/, `/${label}/api`),
      gatewayLeaseMs: LEASE_MS,
    });
    const pp = new PocketPing({
      storage: view,
      eventBus,
      bridges: [bridge],
      logger,
      attachmentStore,
      // Only used to build file URLs; nothing is fetched from it here.
      publicUrl: 'http://127.0.0.1:9/pp',
    });
    return { label, bridge, pp, logger };
  };
  const a = make('a', options.storageOfA?.(storage) ?? storage);
  const b = make('b', storage);
  onTestFinished(async () => {
    await a.pp.close();
    await b.pp.close();
    await discord.close();
  });
  await a.pp.init();
  await waitFor(() => a.bridge.gatewayConnected);
  await b.pp.init();

  /** A visitor on `via` whose first message opened a thread; `replies` is what their widget showed. */
  const visitor = async (via: Instance) => {
    const { sessionId } = await via.pp.handleConnect({ visitorId: `v-${via.label}`, sessionId: null, metadata: {} });
    const frames: OutgoingFrame[] = [];
    onTestFinished(via.pp.subscribe(sessionId, (f) => frames.push(f)));
    await via.pp.handleMessage({ sessionId, content: 'Hello?', sender: 'visitor', attachmentIds: [] });
    await via.pp.flushDeliveries();
    const threadId = (await storage.getSession(sessionId))?.bridgeThreads?.discord;
    if (!threadId) throw new Error('no thread was opened');
    const replies = () =>
      frames.flatMap((f) =>
        f.event.type === 'message' && f.event.data.sender === 'operator' ? [f.event.data.content] : [],
      );
    return { sessionId, threadId, frames, replies };
  };
  const operatorMessages = async (sessionId: string) =>
    (await storage.getMessages(sessionId)).filter((m) => m.sender === 'operator');
  return { discord, storage, a, b, visitor, operatorMessages };
}

describe('several instances sharing one storage (bot mode)', () => {
  it('only the lease holder connects to the Gateway; the other posts through REST and its widget gets replies', async () => {
    const { discord, storage, b, visitor, operatorMessages } = await twoInstances();
    const widget = await visitor(b);

    // `b` has no Gateway connection and still posts into the thread.
    await b.bridge.onNotice((await storage.getSession(widget.sessionId))!, 'Visitor is on the pricing page');
    const notice = discord.channelMessages(widget.threadId).at(-1)!;
    expect(notice.content).toContain('Visitor is on the pricing page');
    expect(discord.requests.some((r) => r.via === 'b' && r.method === 'POST' && r.path.endsWith('/messages'))).toBe(
      true,
    );

    discord.say(widget.threadId, 'Hi from Ana');
    await waitFor(() => widget.replies().includes('Hi from Ana'));
    // One full lease period more, in which `b` tried to take the lease at least twice.
    await new Promise((r) => setTimeout(r, LEASE_MS));
    expect(discord.identified).toEqual(['a']);
    expect(discord.requests.filter((r) => r.via === 'b' && r.path === '/gateway/bot')).toEqual([]);
    expect(b.bridge.gatewayConnected).toBe(false);
    expect((await operatorMessages(widget.sessionId)).map((m) => m.content)).toEqual(['Hi from Ana']);
  });

  it('closing the connected instance hands the Gateway over, and replies keep arriving', async () => {
    const { discord, a, b, visitor, operatorMessages } = await twoInstances();
    const widget = await visitor(b);
    discord.say(widget.threadId, 'before the handover');
    await waitFor(() => widget.replies().includes('before the handover'));

    await a.pp.close();
    expect(discord.readyConnections('a')).toBe(0);
    // Discord does not replay Gateway events to a new session: replies count from the takeover.
    await waitFor(() => b.bridge.gatewayConnected);
    discord.say(widget.threadId, 'after the handover');
    await waitFor(() => widget.replies().includes('after the handover'));

    expect(discord.identified).toEqual(['a', 'b']);
    expect((await operatorMessages(widget.sessionId)).map((m) => m.content)).toEqual([
      'before the handover',
      'after the handover',
    ]);
  });

  it('an instance that loses the lease disconnects, the other connects, and the first can take over again', async () => {
    let leaseTaken = false;
    // From now on `a` finds the lease taken whenever it tries to renew it (as when `a` stalled
    // for longer than the lease and another instance took it meanwhile).
    const storageOfA = (shared: Storage): Storage =>
      new Proxy(shared, {
        get(target, prop) {
          if (prop === 'leaseAcquire' && leaseTaken) return async () => false;
          const value = Reflect.get(target, prop, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    const { discord, a, b, visitor, operatorMessages } = await twoInstances({ storageOfA });
    const widget = await visitor(b);

    leaseTaken = true;
    await waitFor(() => discord.readyConnections('a') === 0);
    await waitFor(() => b.bridge.gatewayConnected);
    expect(a.bridge.gatewayConnected).toBe(false);
    discord.say(widget.threadId, 'answered through b');
    await waitFor(() => widget.replies().includes('answered through b'));
    expect(discord.readyConnections()).toBe(1);

    // `a` reaches the lease again and `b` goes away: `a` connects a second time.
    leaseTaken = false;
    await b.pp.close();
    await waitFor(() => a.bridge.gatewayConnected);
    discord.say(widget.threadId, 'answered through a again');
    await waitFor(async () => (await operatorMessages(widget.sessionId)).length === 2);
    expect(discord.identified).toEqual(['a', 'b', 'a']);
    expect((await operatorMessages(widget.sessionId)).map((m) => m.content)).toEqual([
      'answered through b',
      'answered through a again',
    ]);
  });

  it('a message dispatched again after a takeover creates no second message and no second download', async () => {
    const { discord, a, b, visitor, operatorMessages } = await twoInstances();
    const widget = await visitor(b);
    const said = discord.say(widget.threadId, 'the invoice', {
      files: [{ filename: 'invoice.txt', data: Buffer.from('total: 20'), contentType: 'text/plain' }],
    });
    await waitFor(() => widget.replies().includes('the invoice'));
    const frames = widget.frames.length;

    await a.pp.close();
    await waitFor(() => b.bridge.gatewayConnected);
    discord.redeliver(said.id);
    discord.say(widget.threadId, 'sentinel');
    await waitFor(() => widget.replies().includes('sentinel'));

    const stored = await operatorMessages(widget.sessionId);
    expect(stored.map((m) => m.content)).toEqual(['the invoice', 'sentinel']);
    expect(stored[0]!.attachments?.map((x) => x.filename)).toEqual(['invoice.txt']);
    expect(discord.downloads).toHaveLength(1);
    expect(widget.frames.slice(frames).filter((f) => f.event.type === 'message')).toHaveLength(1);
  });
});
