import { generateId } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { makeOutboxRecord } from '../fixtures.js';
import { has, useStorage } from './harness.js';
import type { StorageConformanceOptions } from './types.js';

const record = makeOutboxRecord;

export function outboxTests(options: StorageConformanceOptions): void {
  describe('durable outbox', () => {
    const open = useStorage(options);
    const ready = async () => {
      const s = await open();
      const ok =
        has(s, 'outboxAdd') &&
        has(s, 'outboxClaim') &&
        has(s, 'outboxComplete') &&
        has(s, 'outboxReschedule') &&
        has(s, 'outboxList') &&
        has(s, 'outboxRetry');
      return ok ? (s as Required<typeof s>) : undefined;
    };

    it('claims only the head of each lane, in seq order, with the record intact', async (ctx) => {
      const s = await ready();
      if (!s) return ctx.skip();
      const session = generateId('ses');
      const a1 = record('telegram', session, { operation: { type: 'edit', messageId: 'm1', nested: { x: [1, 2] } } });
      const a2 = record('telegram', session);
      const b1 = record('slack', session);
      await s.outboxAdd([a2, a1, b1].map((r) => ({ ...r })).sort(() => 0));
      await s.outboxAdd([]);
      const claimed = await s.outboxClaim({ owner: 'w1', now: new Date(), leaseMs: 30_000, limit: 10 });
      const ids = claimed.map((r) => r.id).sort();
      expect(ids).toEqual([a1.id, b1.id].sort());
      const got = claimed.find((r) => r.id === a1.id)!;
      expect(got.operation).toEqual({ type: 'edit', messageId: 'm1', nested: { x: [1, 2] } });
      expect(got.bridge).toBe('telegram');
      expect(got.sessionId).toBe(session);
      expect(got.createdAt).toBeInstanceOf(Date);
      expect(got.leaseOwner).toBe('w1');
      expect(got.leaseUntil!.getTime()).toBeGreaterThan(Date.now());
    });

    it('completing the head makes the next record of the lane claimable', async (ctx) => {
      const s = await ready();
      if (!s) return ctx.skip();
      const session = generateId('ses');
      const r1 = record('telegram', session);
      const r2 = record('telegram', session);
      await s.outboxAdd([r1, r2]);
      const [first] = await s.outboxClaim({ owner: 'w', now: new Date(), leaseMs: 30_000, limit: 5 });
      expect(first?.id).toBe(r1.id);
      expect(await s.outboxClaim({ owner: 'w2', now: new Date(), leaseMs: 30_000, limit: 5 })).toEqual([]);
      await s.outboxComplete(r1.id);
      const [second] = await s.outboxClaim({ owner: 'w2', now: new Date(), leaseMs: 30_000, limit: 5 });
      expect(second?.id).toBe(r2.id);
    });

    it('a leased lane is skipped by other workers until the lease expires', async (ctx) => {
      const s = await ready();
      if (!s) return ctx.skip();
      const r = record('discord', generateId('ses'));
      await s.outboxAdd([r]);
      const now = new Date();
      expect((await s.outboxClaim({ owner: 'a', now, leaseMs: 10_000, limit: 5 })).map((x) => x.id)).toEqual([r.id]);
      expect(await s.outboxClaim({ owner: 'b', now, leaseMs: 10_000, limit: 5 })).toEqual([]);
      const later = new Date(now.getTime() + 11_000);
      expect((await s.outboxClaim({ owner: 'b', now: later, leaseMs: 10_000, limit: 5 })).map((x) => x.id)).toEqual([
        r.id,
      ]);
    });

    it('a rescheduled record waits for its time and keeps its attempts and error', async (ctx) => {
      const s = await ready();
      if (!s) return ctx.skip();
      const r = record('telegram', generateId('ses'));
      await s.outboxAdd([r]);
      await s.outboxClaim({ owner: 'w', now: new Date(), leaseMs: 30_000, limit: 1 });
      const next = new Date(Date.now() + 60_000);
      await s.outboxReschedule(r.id, {
        attempts: 3,
        nextAttemptAt: next,
        lastError: '429 Too Many Requests',
        status: 'pending',
      });
      expect(await s.outboxClaim({ owner: 'w', now: new Date(), leaseMs: 30_000, limit: 5 })).toEqual([]);
      const [again] = await s.outboxClaim({
        owner: 'other',
        now: new Date(next.getTime() + 1),
        leaseMs: 30_000,
        limit: 5,
      });
      expect(again).toMatchObject({ id: r.id, attempts: 3, lastError: '429 Too Many Requests', status: 'pending' });
    });

    it('a dead record leaves the lane, is listed, and can be retried', async (ctx) => {
      const s = await ready();
      if (!s) return ctx.skip();
      const session = generateId('ses');
      const r1 = record('telegram', session);
      const r2 = record('telegram', session);
      await s.outboxAdd([r1, r2]);
      await s.outboxClaim({ owner: 'w', now: new Date(), leaseMs: 30_000, limit: 1 });
      await s.outboxReschedule(r1.id, {
        attempts: 12,
        nextAttemptAt: new Date(),
        lastError: 'gave up',
        status: 'dead',
      });
      const [next] = await s.outboxClaim({ owner: 'w', now: new Date(), leaseMs: 30_000, limit: 5 });
      expect(next?.id).toBe(r2.id);
      const dead = await s.outboxList({ status: 'dead', limit: 100 });
      expect(dead.filter((d) => d.id === r1.id)).toEqual([
        expect.objectContaining({ id: r1.id, lastError: 'gave up', attempts: 12 }),
      ]);
      expect(await s.outboxRetry(r1.id)).toBe(true);
      expect(await s.outboxRetry(r1.id)).toBe(false);
      expect(await s.outboxRetry('dlv_unknown0000000000000000')).toBe(false);
      const pending = await s.outboxList({ status: 'pending', limit: 100 });
      expect(pending.find((p) => p.id === r1.id)).toMatchObject({ attempts: 0, status: 'pending' });
    });

    it('concurrent workers never claim the same record or two records of one lane', async (ctx) => {
      const s = await ready();
      if (!s) return ctx.skip();
      const lanes = Array.from({ length: 12 }, () => generateId('ses'));
      await s.outboxAdd(lanes.flatMap((l) => [record('telegram', l), record('telegram', l)]));
      const now = new Date();
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => s.outboxClaim({ owner: `w${i}`, now, leaseMs: 30_000, limit: 5 })),
      );
      const all = results.flat();
      expect(new Set(all.map((r) => r.id)).size).toBe(all.length);
      expect(new Set(all.map((r) => r.sessionId)).size).toBe(all.length);
      const ours = all.filter((r) => lanes.includes(r.sessionId));
      expect(ours.length).toBe(12);
    });
  });
}
