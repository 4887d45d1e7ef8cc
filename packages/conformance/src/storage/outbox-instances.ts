import { generateId, OUTBOX_METHODS, type Storage } from '@pocketping/core';
import { describe, expect, it, onTestFinished } from 'vitest';
import { makeOutboxRecord, makeSession } from '../fixtures.js';
import { has, useStorage } from './harness.js';
import type { StorageConformanceOptions } from './types.js';

type Outboxed = Storage & Required<Pick<Storage, (typeof OUTBOX_METHODS)[number]>>;

/** True when the storage hosts the durable outbox (all six methods). */
function hasOutbox(s: Storage): s is Outboxed {
  return OUTBOX_METHODS.every((m) => typeof s[m] === 'function');
}

const record = makeOutboxRecord;

const lease = { leaseMs: 60_000 };

/**
 * The durable outbox across instances and restarts (with `reopen`: several storages on the same
 * data stand for several server processes), and its clean-up with the session.
 */
export function outboxInstanceTests(options: StorageConformanceOptions): void {
  describe('durable outbox across instances', () => {
    const open = useStorage(options);
    /** Another instance on the same data, closed after the test. */
    const another = async (storage: Storage): Promise<Outboxed> => {
      const s = await options.reopen!(storage);
      await s.init?.();
      onTestFinished(() => s.close?.());
      return s as Outboxed;
    };

    it("deleteSession removes the session's outbox records and leaves other sessions' alone", async (ctx) => {
      const s = await open();
      if (!hasOutbox(s) || !has(s, 'deleteSession')) return ctx.skip();
      const gone = makeSession();
      const kept = makeSession();
      await s.createSession(gone);
      await s.createSession(kept);
      const dead = record('telegram', gone.id, { status: 'dead', lastError: 'gave up' });
      await s.outboxAdd([record('telegram', gone.id), record('discord', gone.id), dead, record('telegram', kept.id)]);

      expect(await s.deleteSession(gone.id)).toBe(true);
      const pending = await s.outboxList({ status: 'pending' });
      expect(pending.map((p) => p.sessionId)).toEqual([kept.id]);
      expect(await s.outboxList({ status: 'dead' })).toEqual([]);
      expect(await s.outboxRetry(dead.id)).toBe(false);
    });

    it('cleanupOldSessions removes the outbox records of the sessions it deletes', async (ctx) => {
      const s = await open();
      if (!hasOutbox(s) || !has(s, 'cleanupOldSessions')) return ctx.skip();
      const old = makeSession({ lastActivity: new Date('2020-01-01T00:00:00Z') });
      const recent = makeSession();
      await s.createSession(old);
      await s.createSession(recent);
      await s.outboxAdd([record('telegram', old.id), record('telegram', recent.id)]);
      expect(await s.cleanupOldSessions(new Date('2021-01-01T00:00:00Z'))).toBe(1);
      expect((await s.outboxList({ status: 'pending' })).map((p) => p.sessionId)).toEqual([recent.id]);
    });

    it('a claim finds the due lanes among thousands of lanes in backoff', async (ctx) => {
      const s = await open();
      if (!hasOutbox(s)) return ctx.skip();
      const later = new Date(Date.now() + 3_600_000);
      const waiting = Array.from({ length: 3000 }, (_, i) =>
        record('telegram', `ses_wait_${i}`, { nextAttemptAt: later }),
      );
      const due = Array.from({ length: 5 }, (_, i) => record('telegram', `ses_due_${i}`));
      await s.outboxAdd([...waiting, ...due]);
      const claimed = await s.outboxClaim({ owner: 'w', now: new Date(), ...lease, limit: 10 });
      expect(claimed.map((r) => r.id).sort()).toEqual(due.map((r) => r.id).sort());
    });

    it('lists records oldest first, then by seq, and keeps an empty error', async (ctx) => {
      const s = await open();
      if (!hasOutbox(s)) return ctx.skip();
      const t0 = new Date('2026-01-01T00:00:00.000Z');
      // Ids sort against seq, so only a seq tiebreak gives this order.
      const records = [5, 4, 3, 2, 1].map((n) =>
        record('telegram', `ses_list_${n}`, { id: `dlv_${n}`, createdAt: t0 }),
      );
      const first = record('telegram', 'ses_list_0', { id: 'dlv_9', createdAt: new Date(t0.getTime() - 1) });
      await s.outboxAdd([...records, first]);
      expect((await s.outboxList({ status: 'pending', limit: 3 })).map((r) => r.id)).toEqual([
        'dlv_9',
        'dlv_5',
        'dlv_4',
      ]);
      await s.outboxReschedule('dlv_3', { attempts: 1, nextAttemptAt: t0, lastError: '', status: 'dead' });
      expect(await s.outboxList({ status: 'dead' })).toMatchObject([{ id: 'dlv_3', lastError: '', attempts: 1 }]);
    });

    // Without `reopen` (in-memory storages) there is no second instance: not registered.
    if (options.reopen)
      describe('with another instance on the same data', () => {
        it('claimers on separate instances at once get each lane head once, and nothing behind a head', async (ctx) => {
          const first = await open();
          if (!hasOutbox(first)) return ctx.skip();
          const instances = [first, ...(await Promise.all(Array.from({ length: 3 }, () => another(first))))];
          const lanes = Array.from({ length: 25 }, () => generateId('ses'));
          const heads = new Set<string>();
          const records = lanes.flatMap((lane) => {
            const list = [record('telegram', lane), record('telegram', lane), record('telegram', lane)];
            heads.add(list[0]!.id);
            return list;
          });
          await instances[0]!.outboxAdd(records);
          const now = new Date();
          const results = await Promise.all(
            instances.flatMap((s, i) =>
              [0, 1, 2].map((j) => s.outboxClaim({ owner: `w${i}-${j}`, now, ...lease, limit: 10 })),
            ),
          );
          const all = results.flat();
          expect(new Set(all.map((r) => r.id)).size).toBe(all.length);
          expect(all.every((r) => heads.has(r.id))).toBe(true);
          expect(all.length).toBe(25);
        });

        it('workers on separate instances deliver every record exactly once, lane by lane in seq order', async (ctx) => {
          const first = await open();
          if (!hasOutbox(first)) return ctx.skip();
          const instances = [first, ...(await Promise.all(Array.from({ length: 2 }, () => another(first))))];
          const lanes = Array.from({ length: 20 }, () => generateId('ses'));
          const records = lanes.flatMap((lane) => Array.from({ length: 4 }, () => record('discord', lane)));
          await instances[0]!.outboxAdd(records);
          const expectedOrder = new Map(
            lanes.map((lane) => [lane, records.filter((r) => r.sessionId === lane).map((r) => r.id)]),
          );

          const delivered = new Map<string, string[]>();
          const inFlight = new Set<string>();
          const overlaps: string[] = [];
          const failedOnce = new Set<string>();
          let done = 0;

          const worker = async (s: Outboxed, owner: string) => {
            while (done < records.length) {
              const claimed = await s.outboxClaim({ owner, now: new Date(), ...lease, limit: 3 });
              if (claimed.length === 0) {
                await new Promise((resolve) => setImmediate(resolve));
                continue;
              }
              await Promise.all(
                claimed.map(async (r) => {
                  if (inFlight.has(r.sessionId)) overlaps.push(r.id);
                  inFlight.add(r.sessionId);
                  await new Promise((resolve) => setImmediate(resolve));
                  inFlight.delete(r.sessionId);
                  // Every third record fails its first attempt and goes back to the head of its lane.
                  if (r.seq % 3 === 0 && !failedOnce.has(r.id)) {
                    failedOnce.add(r.id);
                    await s.outboxReschedule(r.id, {
                      attempts: 1,
                      nextAttemptAt: new Date(0),
                      lastError: 'flaky',
                      status: 'pending',
                    });
                    return;
                  }
                  delivered.set(r.sessionId, [...(delivered.get(r.sessionId) ?? []), r.id]);
                  await s.outboxComplete(r.id);
                  done++;
                }),
              );
            }
          };
          await Promise.all(instances.flatMap((s, i) => [worker(s, `i${i}-a`), worker(s, `i${i}-b`)]));

          expect(overlaps).toEqual([]);
          expect(delivered).toEqual(expectedOrder);
          expect(failedOnce.size).toBeGreaterThan(0);
          expect(await instances[1]!.outboxList({ status: 'pending' })).toEqual([]);
        });

        it('a record added before a restart is pending for the next instance, intact', async (ctx) => {
          const first = await open();
          if (!hasOutbox(first)) return ctx.skip();
          const createdAt = new Date('2026-03-01T10:00:00.000Z');
          const r = record('telegram', 'ses_restart', {
            createdAt,
            operation: {
              type: 'edit',
              messageId: 'msg_1',
              content: 'héllo 🎉',
              nested: { list: [1, 'two', null], flag: true },
            },
          });
          const behind = record('telegram', 'ses_restart');
          await first.outboxAdd([r, behind]);
          await first.close?.();

          const second = await another(first);
          expect((await second.outboxList({ status: 'pending' })).map((p) => p.id)).toEqual([r.id, behind.id]);
          const [claimed, ...rest] = await second.outboxClaim({
            owner: 'after-restart',
            now: new Date(),
            ...lease,
            limit: 10,
          });
          expect(rest).toEqual([]);
          expect(claimed).toMatchObject({ ...r, leaseOwner: 'after-restart' });
          expect(claimed!.createdAt).toEqual(createdAt);
          expect(claimed!.nextAttemptAt).toEqual(r.nextAttemptAt);
        });

        it('a lease taken before a restart still holds against other workers, and its owner may claim again', async (ctx) => {
          const first = await open();
          if (!hasOutbox(first)) return ctx.skip();
          const r = record('slack', 'ses_lease');
          await first.outboxAdd([r]);
          const now = new Date();
          await first.outboxClaim({ owner: 'host-a', now, ...lease, limit: 1 });
          await first.close?.();

          const second = await another(first);
          expect(await second.outboxClaim({ owner: 'host-b', now, ...lease, limit: 1 })).toEqual([]);
          const again = await second.outboxClaim({ owner: 'host-a', now, ...lease, limit: 1 });
          expect(again.map((x) => x.id)).toEqual([r.id]);
        });
      });
  });
}
