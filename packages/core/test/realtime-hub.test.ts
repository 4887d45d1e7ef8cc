import { RealtimeHub, toFrame } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { harness, newSession } from './helpers.js';

const frame = toFrame({ type: 'presence', data: { online: true } });

describe('RealtimeHub', () => {
  it('serializes the envelope once as { type, data }', () => {
    expect(JSON.parse(frame.json)).toEqual({ type: 'presence', data: { online: true } });
  });

  it('delivers to every listener of a session and counts them', () => {
    const hub = new RealtimeHub();
    const got: string[] = [];
    hub.subscribe('s1', () => got.push('a'));
    hub.subscribe('s1', () => got.push('b'));
    hub.subscribe('s2', () => got.push('c'));
    expect(hub.deliver('s1', frame)).toBe(2);
    expect(got).toEqual(['a', 'b']);
    expect(hub.broadcast(frame)).toBe(3);
    expect(hub.connectionCount).toBe(3);
  });

  it('releases per-session structures when the last listener unsubscribes', () => {
    const hub = new RealtimeHub();
    const offs = [hub.subscribe('s1', () => {}), hub.subscribe('s1', () => {}), hub.subscribe('s2', () => {})];
    expect(hub.sessionCount).toBe(2);
    offs[0]!();
    expect(hub.sessionCount).toBe(2);
    expect(hub.has('s1')).toBe(true);
    offs[1]!();
    offs[2]!();
    expect(hub.sessionCount).toBe(0);
    expect(hub.connectionCount).toBe(0);
    expect(hub.has('s1')).toBe(false);
  });

  it('unsubscribing twice does not remove another listener', () => {
    const hub = new RealtimeHub();
    const off = hub.subscribe('s1', () => {});
    off();
    const got: number[] = [];
    hub.subscribe('s1', () => got.push(1));
    off();
    expect(hub.deliver('s1', frame)).toBe(1);
    expect(hub.connectionCount).toBe(1);
  });

  it("PocketPing's hub is empty again once every tab has gone", async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const offs = [pp.subscribe(sessionId, () => {}), pp.subscribe(sessionId, () => {})];
    expect(pp.hub.sessionCount).toBe(1);
    for (const off of offs) off();
    expect(pp.hub.sessionCount).toBe(0);
    expect(pp.hub.connectionCount).toBe(0);
  });
});
