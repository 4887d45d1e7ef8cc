import { EventEmitter } from 'node:events';
import { MemoryStorage, PocketPing, silentLogger } from '@pocketping/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { WidgetSocketServer } from '../src/realtime.js';

/** Enough of a `ws` WebSocket for the keep-alive loop; answers pings unless told not to. */
class FakeWs extends EventEmitter {
  readyState = 1;
  bufferedAmount = 0;
  pings = 0;
  terminated = false;
  constructor(private readonly answers: boolean) {
    super();
  }
  send() {}
  close() {
    this.readyState = 3;
  }
  terminate() {
    this.terminated = true;
    this.readyState = 3;
    this.emit('close');
  }
  ping() {
    this.pings++;
    if (this.answers) queueMicrotask(() => this.emit('pong'));
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('WidgetSocketServer keep-alive', () => {
  it('spreads one ping per socket over the interval and drops the sockets that never answer', async () => {
    const pp = new PocketPing({ storage: new MemoryStorage(), logger: silentLogger });
    await pp.init();
    const { sessionId } = await pp.handleConnect({ visitorId: 'v-pings', sessionId: null });
    const server = new WidgetSocketServer(pp, { pingIntervalMs: 1000, maxBufferedBytes: 1 << 20 });
    const sockets = Array.from({ length: 200 }, (_, i) => new FakeWs(i % 10 !== 0));
    for (const s of sockets) server.accept(s as unknown as WebSocket, sessionId);
    // Let every socket finish its catch-up (each pings once when ready).
    await vi.waitFor(() => expect(sockets.every((s) => s.pings === 1)).toBe(true));
    for (const s of sockets) s.pings = 0;

    vi.useFakeTimers();
    server.start();
    await vi.advanceTimersByTimeAsync(40); // one tick of 25
    const afterOneTick = sockets.filter((s) => s.pings > 0).length;
    expect(afterOneTick).toBeGreaterThan(0);
    expect(afterOneTick).toBeLessThanOrEqual(Math.ceil(200 / 25));
    await vi.advanceTimersByTimeAsync(1000);
    // A full round: every socket pinged once.
    expect(sockets.every((s) => s.pings >= 1)).toBe(true);
    expect(sockets.every((s) => s.pings <= 2)).toBe(true);
    // One round later, the 20 that never answered are gone and the others stay.
    await vi.advanceTimersByTimeAsync(1000);
    expect(sockets.filter((s) => s.terminated)).toHaveLength(20);
    expect(server.size).toBe(180);
    server.close();
    await pp.close();
  });
});
