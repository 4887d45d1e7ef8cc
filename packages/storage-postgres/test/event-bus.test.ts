import type { BusMessage } from '@pocketping/core';
import { type OutgoingFrame, PocketPing, silentLogger } from '@pocketping/core';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PostgresEventBus, PostgresStorage } from '../src/index.js';
import { adminPool, closeAdmin, dropSchema, pgService, randomSchema } from './helpers.js';

/** Resolves with the first frame of `type` a PocketPing instance delivers for a session. */
function nextFrame(pp: PocketPing, sessionId: string, type: string): Promise<OutgoingFrame> {
  return new Promise((resolve) => {
    const off = pp.subscribe(sessionId, (frame) => {
      if (frame.event.type !== type) return;
      off();
      resolve(frame);
    });
  });
}

/** Resolves with the next message a bus hands to its subscribers that matches. */
function nextBusMessage(bus: PostgresEventBus, match: (m: BusMessage) => boolean): Promise<BusMessage> {
  return new Promise((resolve) => {
    const off = bus.subscribe((m) => {
      if (!match(m)) return;
      off();
      resolve(m);
    });
  });
}

describe.skipIf(pgService.skip)('PostgresEventBus', () => {
  const schemas: string[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
    for (const schema of schemas.splice(0)) await dropSchema(schema);
  });
  afterAll(closeAdmin);

  /** Two PocketPing instances on one database, each with its own storage and bus. */
  async function twoInstances() {
    const schema = randomSchema();
    schemas.push(schema);
    const make = async () => {
      const storage = new PostgresStorage({ url: pgService.url!, schema, poolSize: 3 });
      const eventBus = new PostgresEventBus({ pool: storage.pool, schema });
      const pp = new PocketPing({ storage, eventBus, logger: silentLogger });
      await pp.init();
      cleanups.push(() => pp.close());
      return { pp, eventBus };
    };
    const a = await make();
    const b = await make();
    return { schema, pp1: a.pp, pp2: b.pp, bus1: a.eventBus, bus2: b.eventBus };
  }

  it('a message sent on one instance reaches a widget subscribed on the other', async () => {
    const { pp1, pp2 } = await twoInstances();
    const { sessionId } = await pp1.handleConnect({ visitorId: 'v-bus', sessionId: null, metadata: {} });
    const received = nextFrame(pp2, sessionId, 'message');
    const sent = await pp1.sendMessage(sessionId, { content: 'Hello from instance 1', operatorName: 'Ana' });
    const frame = await received;
    expect(frame.event).toMatchObject({ type: 'message', data: { id: sent.id, content: 'Hello from instance 1' } });
  });

  it('the sequence number of a message travels with it to the other instance', async () => {
    const { pp1, pp2 } = await twoInstances();
    const { sessionId } = await pp1.handleConnect({ visitorId: 'v-seq', sessionId: null, metadata: {} });
    const received = nextFrame(pp2, sessionId, 'message');
    const sent = await pp1.sendMessage(sessionId, { content: 'numbered' });
    expect(sent.seq).toBeGreaterThan(0);
    const frame = await received;
    expect(frame.seq).toBe(sent.seq);
    expect(JSON.parse(frame.json).seq).toBe(sent.seq);
  });

  it('a seq on a bus message survives both the NOTIFY and the by-reference path', async () => {
    const { bus1, bus2 } = await twoInstances();
    const got: BusMessage[] = [];
    const done = new Promise<void>((resolve) => {
      bus2.subscribe((m) => {
        if (m.kind !== 'session' || m.sessionId !== 'ses_seq') return;
        got.push(m);
        if (got.length === 2) resolve();
      });
    });
    for (const [seq, pad] of [
      [7, ''],
      [8, 'x'.repeat(9000)],
    ] as const) {
      await bus1.publish({
        kind: 'session',
        origin: 'test',
        sessionId: 'ses_seq',
        seq,
        event: { type: 'event', data: { name: `e${seq}`, data: { pad } } },
      });
    }
    await done;
    expect(got.map((m) => m.kind === 'session' && m.seq)).toEqual([7, 8]);
  });

  it('a message larger than the 8000-byte NOTIFY limit arrives whole, by reference', async () => {
    const { schema, pp1, pp2 } = await twoInstances();
    const { sessionId } = await pp1.handleConnect({ visitorId: 'v-big', sessionId: null, metadata: {} });
    const content = '🎉'.repeat(2500); // 10,000 bytes of UTF-8
    const received = nextFrame(pp2, sessionId, 'message');
    await pp1.sendMessage(sessionId, { content });
    const frame = await received;
    expect(frame.event.type === 'message' && frame.event.data.content).toBe(content);
    const { rows } = await adminPool().query(`SELECT count(*)::int AS n FROM "${schema}".bus_payloads`);
    expect(rows[0].n).toBeGreaterThanOrEqual(1);
  });

  it('events keep their order when small and by-reference payloads are mixed', async () => {
    const { bus1, bus2 } = await twoInstances();
    const got: string[] = [];
    const done = new Promise<void>((resolve) => {
      bus2.subscribe((m) => {
        if (m.kind !== 'broadcast' || m.event.type !== 'event') return;
        got.push(m.event.data.name);
        if (got.length === 6) resolve();
      });
    });
    for (let i = 0; i < 6; i++) {
      const data = i % 2 === 0 ? { pad: 'x'.repeat(9000) } : {};
      await bus1.publish({
        kind: 'broadcast',
        origin: 'test',
        event: { type: 'event', data: { name: `e${i}`, data } },
      });
    }
    await done;
    expect(got).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5']);
  });

  it('the listener reconnects after its connection is killed and receives again', async () => {
    const { bus1, bus2 } = await twoInstances();
    const pid = (bus2 as unknown as { listener: { processID: number } }).listener.processID;
    await adminPool().query('SELECT pg_terminate_backend($1)', [pid]);
    // Publish until the reconnected listener hears one: messages sent while it is down are lost by design.
    let heard = false;
    const received = nextBusMessage(bus2, (m) => m.kind === 'presence').then(() => {
      heard = true;
    });
    for (let i = 0; i < 200 && !heard; i++) {
      await bus1.publish({ kind: 'presence', origin: 'test', online: true });
      await new Promise((r) => setTimeout(r, 25));
    }
    await received;
    const newPid = (bus2 as unknown as { listener: { processID: number } }).listener.processID;
    expect(newPid).not.toBe(pid);
  });

  it('two deployments in different schemas of one database do not see each other', async () => {
    const a = await twoInstances();
    const b = await twoInstances();
    const seenByB: BusMessage[] = [];
    b.bus1.subscribe((m) => seenByB.push(m));
    const marker = nextBusMessage(a.bus2, (m) => m.kind === 'presence');
    await a.bus1.publish({ kind: 'presence', origin: 'deployment-a', online: false });
    await marker;
    // b's own message arrives after a's would have: NOTIFY is delivered in commit order.
    const own = nextBusMessage(b.bus1, (m) => m.origin === 'deployment-b');
    await b.bus2.publish({ kind: 'presence', origin: 'deployment-b', online: true });
    await own;
    expect(seenByB.map((m) => m.origin)).toEqual(['deployment-b']);
    expect(a.bus1.channel).not.toBe(b.bus1.channel);
  });

  it('close is safe twice and leaves a given pool open', async () => {
    const schema = randomSchema();
    schemas.push(schema);
    const storage = new PostgresStorage({ url: pgService.url!, schema, poolSize: 2 });
    cleanups.push(() => storage.close());
    const bus = new PostgresEventBus({ pool: storage.pool, schema });
    await bus.init();
    await bus.close();
    await bus.close();
    expect(await storage.ping()).toBe(true);
  });
});
