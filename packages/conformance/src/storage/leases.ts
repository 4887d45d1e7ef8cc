import { describe, expect, it } from 'vitest';
import { has, useStorage } from './harness.js';
import type { StorageConformanceOptions } from './types.js';

export function leaseTests(options: StorageConformanceOptions): void {
  describe('leases', () => {
    const open = useStorage(options);
    const name = () => `lease-${Math.random().toString(36).slice(2)}`;

    it('one owner holds a lease until it expires, renews it, and releases it', async (ctx) => {
      const s = await open();
      if (!has(s, 'leaseAcquire') || !has(s, 'leaseRelease')) return ctx.skip();
      const lease = name();
      expect(await s.leaseAcquire(lease, 'a', 10_000)).toBe(true);
      expect(await s.leaseAcquire(lease, 'b', 10_000)).toBe(false);
      expect(await s.leaseAcquire(lease, 'a', 10_000)).toBe(true);
      await s.leaseRelease(lease, 'b');
      expect(await s.leaseAcquire(lease, 'b', 10_000)).toBe(false);
      await s.leaseRelease(lease, 'a');
      expect(await s.leaseAcquire(lease, 'b', 10_000)).toBe(true);
    });

    it('an expired lease goes to the next owner that asks', async (ctx) => {
      const s = await open();
      if (!has(s, 'leaseAcquire') || !has(s, 'leaseRelease')) return ctx.skip();
      const lease = name();
      expect(await s.leaseAcquire(lease, 'a', 150)).toBe(true);
      expect(await s.leaseAcquire(lease, 'b', 150)).toBe(false);
      await new Promise((r) => setTimeout(r, 250));
      expect(await s.leaseAcquire(lease, 'b', 10_000)).toBe(true);
      expect(await s.leaseAcquire(lease, 'a', 10_000)).toBe(false);
    });

    it('among owners asking at once, exactly one gets the lease', async (ctx) => {
      const s = await open();
      if (!has(s, 'leaseAcquire') || !has(s, 'leaseRelease')) return ctx.skip();
      const lease = name();
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => s.leaseAcquire(lease, `w${i}`, 10_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });
  });
}
