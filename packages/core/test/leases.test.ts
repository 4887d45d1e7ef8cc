import { describe, expect, it } from 'vitest';
import { MemoryStorage, PocketPing, silentLogger } from '../src/index.js';
import { until } from './helpers.js';

describe('singleton jobs', () => {
  it('run on exactly one instance and move to another when the holder stops', async () => {
    const storage = new MemoryStorage();
    const running = new Set<string>();
    const make = async (id: string) => {
      const pp = new PocketPing({ storage, logger: silentLogger, instanceId: id });
      pp.singleton(
        'poller',
        { start: () => void running.add(id), stop: () => void running.delete(id) },
        { ttlMs: 300 },
      );
      await pp.init();
      return pp;
    };
    const a = await make('a');
    const b = await make('b');
    await until(() => running.size === 1, 3000);
    await new Promise((r) => setTimeout(r, 400));
    expect(running.size).toBe(1);
    const leader = running.has('a') ? a : b;
    const other = leader === a ? 'b' : 'a';
    await leader.close();
    await until(() => running.has(other) && running.size === 1, 3000);
    await (leader === a ? b : a).close();
    expect(running.size).toBe(0);
  });

  it('the same platform message applied twice stays one message', async () => {
    const pp = new PocketPing({ logger: silentLogger });
    const { MemoryBridge } = await import('../src/index.js');
    const bridge = new MemoryBridge();
    await pp.addBridge(bridge);
    await pp.init();
    const c = await pp.handleConnect({ visitorId: 'v', sessionId: null });
    await pp.handleMessage({ sessionId: c.sessionId, content: 'hi', attachmentIds: [] });
    await pp.flushDeliveries();
    const ctx = (bridge as unknown as { ctx: { operatorMessage: (i: object) => Promise<{ id: string }> } }).ctx;
    const first = await ctx.operatorMessage({ sessionId: c.sessionId, content: 'hello', platformMessageId: 'tg-77' });
    const again = await ctx.operatorMessage({ sessionId: c.sessionId, content: 'hello', platformMessageId: 'tg-77' });
    expect(again.id).toBe(first.id);
    expect((await pp.getMessages(c.sessionId)).filter((m) => m.sender === 'operator')).toHaveLength(1);
    await pp.close();
  });
});

describe('lease renewal failures', () => {
  it('an instance whose storage stops answering gives the job up before its lease ends', async () => {
    const storage = new MemoryStorage();
    let failing = false;
    const flaky = Object.create(storage) as MemoryStorage;
    flaky.leaseAcquire = async (name, owner, ttl) => {
      if (failing) throw new Error('storage down');
      return storage.leaseAcquire(name, owner, ttl);
    };
    const running = new Set<string>();
    const pp = new PocketPing({ storage: flaky, logger: silentLogger });
    pp.singleton('job', { start: () => void running.add('a'), stop: () => void running.delete('a') }, { ttlMs: 300 });
    await pp.init();
    await until(() => running.has('a'), 3000);
    failing = true;
    await until(() => !running.has('a'), 2000);
    await pp.close();
  });
});
