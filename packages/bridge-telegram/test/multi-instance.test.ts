import {
  InProcessEventBus,
  MemoryAttachmentStore,
  MemoryStorage,
  type OutgoingFrame,
  PocketPing,
  type Storage,
} from '@pocketping/core';
import { describe, expect, it, onTestFinished } from 'vitest';
import { TelegramBridge } from '../src/index.js';
import { FakeTelegram } from './fake-telegram.js';
import { recordingLogger, waitFor } from './helpers.js';

/** Short lease, so a takeover happens within a test; production uses 15 s. */
const LEASE_MS = 300;

interface Instance {
  /** Path segment of this instance's `apiRoot`, so the fake tells its calls apart. */
  label: string;
  bridge: TelegramBridge;
  pp: PocketPing;
  logger: ReturnType<typeof recordingLogger>;
}

/**
 * Two PocketPing instances sharing one storage, one event bus and one bot in polling mode, like
 * two server processes on one database. Instance `a` starts first and holds the polling lease.
 * `a` may see the storage through `storageOfA` (to cut it off from the leases).
 */
async function twoInstances(options: { storageOfA?: (shared: Storage) => Storage } = {}) {
  const fake = await FakeTelegram.start();
  const storage = new MemoryStorage();
  const eventBus = new InProcessEventBus();
  const attachmentStore = new MemoryAttachmentStore();
  const make = (label: string, view: Storage): Instance => {
    const logger = recordingLogger();
    const bridge = new TelegramBridge({
      token: fake.token,
      chatId: fake.chat.id,
      apiRoot: `${fake.apiRoot}/${label}`,
      updates: 'polling',
      pollingLeaseMs: LEASE_MS,
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
    await fake.close();
  });
  await a.pp.init();
  await waitFor(() => longPolls(fake, 'a').length > 0, 'a polls');
  await b.pp.init();

  /** A visitor on `via` whose first message opened a topic; `frames` is what their widget got. */
  const visitor = async (via: Instance) => {
    const { sessionId } = await via.pp.handleConnect({ visitorId: `v-${via.label}`, sessionId: null, metadata: {} });
    const frames: OutgoingFrame[] = [];
    onTestFinished(via.pp.subscribe(sessionId, (f) => frames.push(f)));
    await via.pp.handleMessage({ sessionId, content: 'Hello?', sender: 'visitor', attachmentIds: [] });
    await via.pp.flushDeliveries();
    const threadId = (await storage.getSession(sessionId))?.bridgeThreads?.telegram;
    if (!threadId) throw new Error('no topic was opened');
    const replies = () =>
      frames.flatMap((f) =>
        f.event.type === 'message' && f.event.data.sender === 'operator' ? [f.event.data.content] : [],
      );
    return { sessionId, threadId, frames, replies };
  };
  const operatorMessages = async (sessionId: string) =>
    (await storage.getMessages(sessionId)).filter((m) => m.sender === 'operator');
  return { fake, storage, a, b, visitor, operatorMessages };
}

/** Long polls (`getUpdates` with a timeout) made through one instance's `apiRoot`. */
function longPolls(fake: FakeTelegram, via: string) {
  return fake.callsOf('getUpdates').filter((c) => c.via === via && Number(c.params.timeout ?? 0) > 0);
}

describe('several instances sharing one storage (polling mode)', () => {
  it('only the lease holder polls, and a reply reaches the widget connected to the other instance', async () => {
    const { fake, b, visitor } = await twoInstances();
    const widget = await visitor(b);
    await fake.userWrites(widget.threadId, { text: 'Hi from Ana' });
    await waitFor(() => widget.replies().includes('Hi from Ana'), 'reply on the widget');
    // One full lease period more, in which `b` tried to take the lease at least twice.
    await new Promise((r) => setTimeout(r, LEASE_MS));
    expect(fake.callsOf('getUpdates').filter((c) => c.via === 'b')).toEqual([]);
    expect(fake.callsOf('deleteWebhook').filter((c) => c.via === 'b')).toEqual([]);
    expect(longPolls(fake, 'a').length).toBeGreaterThan(0);
    expect(fake.conflicts).toEqual([]);
  });

  it('closing the polling instance hands polling over, and replies keep arriving', async () => {
    const { fake, a, b, visitor, operatorMessages } = await twoInstances();
    const widget = await visitor(b);
    await fake.userWrites(widget.threadId, { text: 'before the handover' });
    await waitFor(() => widget.replies().includes('before the handover'), 'first reply');

    await a.pp.close();
    const closedAt = fake.calls.length;
    await fake.userWrites(widget.threadId, { text: 'after the handover' });
    await waitFor(() => widget.replies().includes('after the handover'), 'reply after the handover');

    const later = fake.calls.slice(closedAt);
    expect(later.filter((c) => c.via === 'a')).toEqual([]);
    expect(later.some((c) => c.method === 'getUpdates' && c.via === 'b')).toBe(true);
    expect(fake.conflicts.filter((c) => c.ended !== c.by)).toEqual([]);
    expect((await operatorMessages(widget.sessionId)).map((m) => m.content)).toEqual([
      'before the handover',
      'after the handover',
    ]);
  });

  it('an instance that loses the lease ends its long poll at once, and polls again only once it holds the lease', async () => {
    let cutOff = false;
    // From now on `a` finds the lease taken whenever it tries to renew it (as when `a` stalled
    // for longer than the lease and another instance took it meanwhile).
    const storageOfA = (shared: Storage): Storage =>
      new Proxy(shared, {
        get(target, prop) {
          if (prop === 'leaseAcquire' && cutOff) return async () => false;
          const value = Reflect.get(target, prop, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    const { fake, a, b, visitor, operatorMessages } = await twoInstances({ storageOfA });
    const widget = await visitor(b);
    await waitFor(() => fake.openLongPolls('a') === 1, 'a waits in a long poll');

    cutOff = true;
    await waitFor(() => a.logger.lines.some((l) => l.msg.includes('stopped polling Telegram')), 'a stops');
    // Far sooner than the 30 s Telegram would hold the call: it was aborted, not left to expire.
    await waitFor(() => fake.openLongPolls('a') === 0, 'the long poll of a ends', 2000);
    const stoppedAt = fake.calls.length;

    await fake.userWrites(widget.threadId, { text: 'answered by b' });
    await waitFor(() => widget.replies().includes('answered by b'), 'reply through b');
    expect(longPolls(fake, 'b').length).toBeGreaterThan(0);
    expect(fake.calls.slice(stoppedAt).filter((c) => c.via === 'a')).toEqual([]);
    expect(b.logger.lines.some((l) => l.msg.includes('now polls Telegram'))).toBe(true);

    // `a` reaches the lease again and `b` goes away: `a` polls a second time.
    cutOff = false;
    await b.pp.close();
    const handedBack = fake.calls.length;
    await fake.userWrites(widget.threadId, { text: 'answered by a again' });
    await waitFor(async () => (await operatorMessages(widget.sessionId)).length === 2, 'reply through a');
    expect(fake.calls.slice(handedBack).some((c) => c.method === 'getUpdates' && c.via === 'a')).toBe(true);
    expect(fake.conflicts.filter((c) => c.ended !== c.by)).toEqual([]);
  });

  it('updates Telegram hands out again after a takeover change nothing', async () => {
    const { fake, a, b, visitor, operatorMessages } = await twoInstances();
    const widget = await visitor(b);
    const text = await fake.userWrites(widget.threadId, { text: 'We open at 9' });
    const file = await fake.userWrites(widget.threadId, {
      document: { bytes: new TextEncoder().encode('a,b\n'), filename: 'prices.csv', mimeType: 'text/csv' },
    });
    await fake.userEdits(text.message_id, 'We open at 10');
    await waitFor(async () => (await operatorMessages(widget.sessionId)).some((m) => m.content === 'We open at 10'));
    const applied = fake.delivered.slice();
    const downloads = fake.callsOf('getFile').length;
    const frames = widget.frames.length;

    await a.pp.close();
    // As if `a` had died before confirming them: Telegram gives the same updates to `b`.
    await fake.deliverAll(applied);
    await fake.userWrites(widget.threadId, { text: 'sentinel' });
    await waitFor(() => widget.replies().includes('sentinel'), 'sentinel through b');

    const stored = await operatorMessages(widget.sessionId);
    expect(stored.map((m) => m.content)).toEqual(['We open at 10', '', 'sentinel']);
    expect(stored[1]!.attachments?.map((x) => x.filename)).toEqual(['prices.csv']);
    expect(stored[0]!.bridgeMessageIds?.telegram).toBe(String(text.message_id));
    expect(stored[1]!.bridgeMessageIds?.telegram).toBe(String(file.message_id));
    expect(fake.callsOf('getFile')).toHaveLength(downloads);
    const newFrames = widget.frames.slice(frames).map((f) => f.event.type);
    expect(newFrames.filter((t) => t === 'message' || t === 'message_edited')).toEqual(['message']);
  });

  it('/delete and /close handed out again after a takeover add no note and keep the session closed', async () => {
    const { fake, a, b, storage, visitor, operatorMessages } = await twoInstances();
    const widget = await visitor(b);
    const answer = await fake.userWrites(widget.threadId, { text: 'wrong customer' });
    await waitFor(async () => (await operatorMessages(widget.sessionId)).length === 1);
    await fake.userWrites(widget.threadId, { text: '/delete', replyTo: answer.message_id });
    await waitFor(async () => (await operatorMessages(widget.sessionId))[0]!.deletedAt !== undefined, 'deleted');
    await fake.userWrites(widget.threadId, { text: '/close' });
    await waitFor(async () => (await storage.getSession(widget.sessionId))!.status === 'closed', 'closed');
    await b.pp.flushDeliveries();
    const applied = fake.delivered.slice();
    const botPosts = () => fake.topicMessages(widget.threadId).filter((m) => m.from.is_bot);
    const before = botPosts().length;

    await a.pp.close();
    await fake.deliverAll(applied);
    // `/info` after them shows when `b` has gone through the redelivered updates.
    await fake.userWrites(widget.threadId, { text: '/info' });
    await waitFor(() => botPosts().length > before, 'the card posted by b');

    expect(
      botPosts()
        .slice(before)
        .map((m) => m.visible),
    ).toEqual([expect.stringContaining('Session:')]);
    expect(await operatorMessages(widget.sessionId)).toHaveLength(1);
    expect((await storage.getSession(widget.sessionId))!.status).toBe('closed');
    expect(fake.topics.get(Number(widget.threadId))!.closed).toBe(true);
  });
});
