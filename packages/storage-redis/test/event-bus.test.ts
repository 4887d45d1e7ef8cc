import type { BusMessage } from '@pocketping/core';
import { type OutgoingFrame, PocketPing, silentLogger } from '@pocketping/core';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RedisEventBus, RedisStorage } from '../src/index.js';
import { closeAdmin, deletePrefix, randomPrefix, redisService } from './helpers.js';

function nextFrame(pp: PocketPing, sessionId: string, type: string): Promise<OutgoingFrame> {
  return new Promise((resolve) => {
    const off = pp.subscribe(sessionId, (frame) => {
      if (frame.event.type !== type) return;
      off();
      resolve(frame);
    });
  });
}

function nextBusMessage(bus: RedisEventBus, match: (m: BusMessage) => boolean): Promise<BusMessage> {
  return new Promise((resolve) => {
    const off = bus.subscribe((m) => {
      if (!match(m)) return;
      off();
      resolve(m);
    });
  });
}

describe.skipIf(redisService.skip)('RedisEventBus', () => {
  const prefixes: string[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
    for (const p of prefixes.splice(0)) await deletePrefix(p);
  });
  afterAll(closeAdmin);

  /** Two PocketPing instances on one Redis, each with its own storage client and bus. */
  async function twoInstances() {
    const keyPrefix = randomPrefix();
    prefixes.push(keyPrefix);
    const make = async () => {
      const storage = new RedisStorage({ url: redisService.url!, keyPrefix });
      const eventBus = new RedisEventBus({ client: storage.client, keyPrefix });
      const pp = new PocketPing({ storage, eventBus, logger: silentLogger });
      await pp.init();
      cleanups.push(() => pp.close());
      return { pp, eventBus };
    };
    const a = await make();
    const b = await make();
    return { pp1: a.pp, pp2: b.pp, bus1: a.eventBus, bus2: b.eventBus };
  }

  it('a message sent on one instance reaches a widget subscribed on the other', async () => {
    const { pp1, pp2 } = await twoInstances();
    const { sessionId } = await pp1.handleConnect({ visitorId: 'v-bus', sessionId: null, metadata: {} });
    const received = nextFrame(pp2, sessionId, 'message');
    const sent = await pp1.sendMessage(sessionId, { content: 'Hello from instance 1', operatorName: 'Ana' });
    expect((await received).event).toMatchObject({
      type: 'message',
      data: { id: sent.id, content: 'Hello from instance 1' },
    });
  });

  it('the sequence number of a message travels with it: the other instance frames it with the stored seq', async () => {
    const { pp1, pp2, bus2 } = await twoInstances();
    const { sessionId } = await pp1.handleConnect({ visitorId: 'v-seq', sessionId: null, metadata: {} });
    const onBus = nextBusMessage(bus2, (m) => m.kind === 'session' && m.event.type === 'message');
    const received = nextFrame(pp2, sessionId, 'message');
    const sent = await pp1.sendMessage(sessionId, { content: 'numbered', operatorName: 'Ana' });
    expect(sent.seq).toBeGreaterThan(0);
    expect(await onBus).toMatchObject({ kind: 'session', sessionId, seq: sent.seq });
    const frame = await received;
    expect(frame.seq).toBe(sent.seq);
    expect(JSON.parse(frame.json).seq).toBe(sent.seq);
  });

  it('a large message (over 8000 bytes) arrives whole', async () => {
    const { pp1, pp2 } = await twoInstances();
    const { sessionId } = await pp1.handleConnect({ visitorId: 'v-big', sessionId: null, metadata: {} });
    const content = '🎉'.repeat(2500);
    const received = nextFrame(pp2, sessionId, 'message');
    await pp1.sendMessage(sessionId, { content });
    const frame = await received;
    expect(frame.event.type === 'message' && frame.event.data.content).toBe(content);
  });

  it('two deployments with different key prefixes do not see each other', async () => {
    const a = await twoInstances();
    const b = await twoInstances();
    const seenByB: BusMessage[] = [];
    b.bus1.subscribe((m) => seenByB.push(m));
    const marker = nextBusMessage(a.bus2, (m) => m.kind === 'presence');
    await a.bus1.publish({ kind: 'presence', origin: 'deployment-a', online: false });
    await marker;
    // Pub/sub delivers in publish order on one server: b's own message comes after a's would have.
    const own = nextBusMessage(b.bus1, (m) => m.origin === 'deployment-b');
    await b.bus2.publish({ kind: 'presence', origin: 'deployment-b', online: true });
    await own;
    expect(seenByB.map((m) => m.origin)).toEqual(['deployment-b']);
    expect(a.bus1.channel).not.toBe(b.bus1.channel);
  });

  it('the subscriber is a dedicated connection, and close leaves a given client usable', async () => {
    const client = new Redis(redisService.url!);
    const bus = new RedisEventBus({ client, keyPrefix: randomPrefix() });
    const subscribers = async () => ((await client.pubsub('NUMSUB', bus.channel)) as [string, number])[1];
    await bus.init();
    expect(await subscribers()).toBe(1);
    // The given client still runs ordinary commands: it is not the one in subscriber mode.
    expect(await client.ping()).toBe('PONG');
    await bus.close();
    await bus.close();
    expect(await subscribers()).toBe(0);
    expect(await client.ping()).toBe('PONG');
    await client.quit();
  });

  it('a bus created from a URL publishes and receives on its own connections', async () => {
    const keyPrefix = randomPrefix();
    const a = new RedisEventBus({ url: redisService.url!, keyPrefix });
    const b = new RedisEventBus(redisService.url!);
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    await a.init();
    await b.init();
    const got = nextBusMessage(a, () => true);
    await new RedisEventBus({ client: (a as unknown as { publisher: Redis }).publisher, keyPrefix }).publish({
      kind: 'presence',
      origin: 'x',
      online: true,
    });
    expect(await got).toEqual({ kind: 'presence', origin: 'x', online: true });
    expect(b.channel).toBe('pocketping:events');
  });
});
