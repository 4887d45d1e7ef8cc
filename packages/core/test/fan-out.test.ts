import { InProcessEventBus, MemoryStorage, PocketPing, silentLogger } from '@pocketping/core';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connect, sendVisitor, tab } from './helpers.js';

/** Two PocketPing instances sharing storage and an event bus, like two processes behind a load balancer. */
async function pair() {
  const storage = new MemoryStorage();
  const eventBus = new InProcessEventBus();
  const a = new PocketPing({ storage, eventBus, logger: silentLogger, instanceId: 'A' });
  const b = new PocketPing({ storage, eventBus, logger: silentLogger, instanceId: 'B' });
  await a.init();
  await b.init();
  onTestFinished(async () => {
    await a.close();
    await b.close();
  });
  return { a, b };
}

describe('fan-out across instances', () => {
  it('an operator message sent on A reaches a subscriber on B exactly once', async () => {
    const { a, b } = await pair();
    const { sessionId } = await connect(a);
    const onB = tab(b, sessionId);
    const onA = tab(a, sessionId);
    const m = await a.sendMessage(sessionId, { content: 'from instance A' });
    expect(onB.of('message').map((f) => f.data.id)).toEqual([m.id]);
    expect(onA.of('message').map((f) => f.data.id)).toEqual([m.id]);
  });

  it("a visitor's message handled on B is echoed to the tab on A", async () => {
    const { a, b } = await pair();
    const { sessionId } = await connect(a);
    const onA = tab(a, sessionId);
    const { messageId } = await sendVisitor(b, sessionId, 'sent through B');
    expect(onA.of('message')).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ id: messageId, status: 'sent' }) }),
    ]);
  });

  it('presence set on A reaches sessions on B and B answers it on /connect', async () => {
    const { a, b } = await pair();
    const { sessionId } = await connect(b);
    const onB = tab(b, sessionId);
    a.setOperatorOnline(true);
    expect(onB.frames).toEqual([{ type: 'presence', data: { online: true } }]);
    expect(b.isOperatorOnline()).toBe(true);
    expect((await connect(b)).operatorOnline).toBe(true);
  });

  it('broadcast events cross instances once', async () => {
    const { a, b } = await pair();
    const onB = tab(b, (await connect(b)).sessionId);
    a.broadcastEvent('maintenance');
    expect(onB.of('event')).toHaveLength(1);
  });

  it('does not deliver to other sessions on the other instance', async () => {
    const { a, b } = await pair();
    const { sessionId } = await connect(a);
    const other = tab(b, (await connect(b)).sessionId);
    await a.sendMessage(sessionId, { content: 'private' });
    expect(other.frames).toEqual([]);
  });
});
