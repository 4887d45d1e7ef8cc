import { describe, expect, it } from 'vitest';
import { Batcher } from '../src/batcher.js';

/** A call in these tests: `id` names it, `key` and `shape` drive the grouping. */
interface Call {
  id: string;
  key?: string;
  shape?: string;
}

/** One `run` the batcher started; settled by the test. */
interface Started {
  ids: string[];
  /** True once resolved or rejected. */
  settled: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * A Batcher whose `run` records every batch and stays pending until the test settles it, so a
 * test decides exactly which statements are "running". A batch answers `<id>:done` per call.
 */
function controlled(options: { maxBatch?: number; maxInFlight: number }) {
  const started: Started[] = [];
  let running = 0;
  let maxRunning = 0;
  const batcher = new Batcher<Call, string>(
    (items) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      return new Promise<string[]>((resolve, reject) => {
        const entry: Started = {
          ids: items.map((c) => c.id),
          settled: false,
          resolve: () => {
            if (entry.settled) return;
            entry.settled = true;
            running--;
            resolve(items.map((c) => `${c.id}:done`));
          },
          reject: (err) => {
            if (entry.settled) return;
            entry.settled = true;
            running--;
            reject(err);
          },
        };
        started.push(entry);
      });
    },
    {
      maxBatch: options.maxBatch ?? 64,
      maxInFlight: options.maxInFlight,
      key: (c) => c.key ?? c.id,
      shape: (c) => c.shape ?? '',
    },
  );
  return {
    started,
    batches: () => started.map((s) => s.ids),
    running: () => running,
    maxRunning: () => maxRunning,
    submit: (call: Call | string) => batcher.submit(typeof call === 'string' ? { id: call } : call),
  };
}

/** Lets every pending microtask and promise callback run (the batcher schedules with microtasks). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Batcher', () => {
  it('with one statement in flight, the first call goes alone and calls made meanwhile go together next', async () => {
    const b = controlled({ maxInFlight: 1 });
    const a = b.submit('a');
    await settle();
    expect(b.batches()).toEqual([['a']]);

    const later = ['b', 'c', 'd'].map((id) => b.submit(id));
    await settle();
    // Nothing more starts while the first statement runs.
    expect(b.batches()).toEqual([['a']]);

    b.started[0]!.resolve();
    expect(await a).toBe('a:done');
    await settle();
    expect(b.batches()).toEqual([['a'], ['b', 'c', 'd']]);
    b.started[1]!.resolve();
    expect(await Promise.all(later)).toEqual(['b:done', 'c:done', 'd:done']);
    expect(b.started).toHaveLength(2);
  });

  it('calls made in the same tick share one batch', async () => {
    const b = controlled({ maxInFlight: 4 });
    const calls = ['a', 'b', 'c', 'd', 'e'].map((id) => b.submit(id));
    await settle();
    expect(b.batches()).toEqual([['a', 'b', 'c', 'd', 'e']]);
    b.started[0]!.resolve();
    expect(await Promise.all(calls)).toEqual(['a:done', 'b:done', 'c:done', 'd:done', 'e:done']);
  });

  it('maxBatch caps the calls in one batch; the rest follow in order', async () => {
    const b = controlled({ maxBatch: 3, maxInFlight: 1 });
    const calls = ['0', '1', '2', '3', '4', '5', '6'].map((id) => b.submit(id));
    for (let i = 0; i < 3; i++) {
      await settle();
      b.started[i]!.resolve();
    }
    expect(await Promise.all(calls)).toEqual(['0', '1', '2', '3', '4', '5', '6'].map((id) => `${id}:done`));
    expect(b.batches()).toEqual([['0', '1', '2'], ['3', '4', '5'], ['6']]);
  });

  it('two calls with the same key never share a batch and go out in the order they were made', async () => {
    const b = controlled({ maxInFlight: 1 });
    const calls = [
      b.submit({ id: 'x1', key: 'x' }),
      b.submit({ id: 'y1', key: 'y' }),
      b.submit({ id: 'x2', key: 'x' }),
      b.submit({ id: 'x3', key: 'x' }),
      b.submit({ id: 'z1', key: 'z' }),
      b.submit({ id: 'y2', key: 'y' }),
    ];
    for (let i = 0; i < 3; i++) {
      await settle();
      b.started[i]!.resolve();
    }
    await Promise.all(calls);
    expect(b.batches()).toEqual([['x1', 'y1', 'z1'], ['x2', 'y2'], ['x3']]);
  });

  it('calls of another shape wait for a batch of their own', async () => {
    const b = controlled({ maxInFlight: 1 });
    const calls = [
      b.submit({ id: 'a', shape: 'ip' }),
      b.submit({ id: 'b', shape: 'ip,city' }),
      b.submit({ id: 'c', shape: 'ip' }),
      b.submit({ id: 'd', shape: 'ip,city' }),
      b.submit({ id: 'e', shape: '' }),
    ];
    for (let i = 0; i < 3; i++) {
      await settle();
      b.started[i]!.resolve();
    }
    await Promise.all(calls);
    expect(b.batches()).toEqual([['a', 'c'], ['b', 'd'], ['e']]);
  });

  it('a failed batch rejects exactly its own calls, and later calls still run', async () => {
    const b = controlled({ maxInFlight: 1 });
    const first = b.submit('a');
    await settle();
    const failing = [b.submit('b'), b.submit('c')];
    b.started[0]!.resolve();
    await settle();
    expect(b.batches()).toEqual([['a'], ['b', 'c']]);

    const after = b.submit('d');
    const boom = new Error('statement failed');
    b.started[1]!.reject(boom);
    const outcomes = await Promise.allSettled(failing);
    expect(outcomes).toEqual([
      { status: 'rejected', reason: boom },
      { status: 'rejected', reason: boom },
    ]);
    await settle();
    expect(b.batches()).toEqual([['a'], ['b', 'c'], ['d']]);
    b.started[2]!.resolve();
    expect(await first).toBe('a:done');
    expect(await after).toBe('d:done');
  });

  it('each call gets its own result, also when its batch skipped calls ahead of it', async () => {
    // `run` answers per item in item order; a batch that left out a same-key call must still
    // hand each result to the call it belongs to.
    const batcher = new Batcher<{ key: string; n: number }, number>(async (items) => items.map((item) => item.n * 10), {
      maxBatch: 64,
      maxInFlight: 1,
      key: (c) => c.key,
      shape: () => '',
    });
    const items = [
      { key: 'a', n: 1 },
      { key: 'a', n: 2 },
      { key: 'b', n: 3 },
      { key: 'a', n: 4 },
      { key: 'c', n: 5 },
      { key: 'b', n: 6 },
    ];
    expect(await Promise.all(items.map((item) => batcher.submit(item)))).toEqual([10, 20, 30, 40, 50, 60]);
  });

  it('with maxInFlight 2, two batches run at once but never a third', async () => {
    const b = controlled({ maxInFlight: 2 });
    const a = b.submit('a');
    await settle();
    const c1 = b.submit('b');
    await settle();
    // Under light load each call goes out at once: two statements now run side by side.
    expect(b.batches()).toEqual([['a'], ['b']]);
    expect(b.running()).toBe(2);

    const queued = ['c', 'd', 'e'].map((id) => b.submit(id));
    await settle();
    expect(b.started).toHaveLength(2);

    b.started[0]!.resolve();
    await settle();
    expect(b.batches()).toEqual([['a'], ['b'], ['c', 'd', 'e']]);
    expect(b.running()).toBe(2);
    b.started[1]!.resolve();
    b.started[2]!.resolve();
    expect(await Promise.all([a, c1, ...queued])).toEqual(['a', 'b', 'c', 'd', 'e'].map((id) => `${id}:done`));

    // Calls of one key, made at once, need a statement each: two start, the others wait.
    const sameKey = ['x1', 'x2', 'x3', 'x4'].map((id) => b.submit({ id, key: 'x' }));
    await settle();
    expect(b.batches().slice(3)).toEqual([['x1'], ['x2']]);
    b.started[3]!.resolve();
    await settle();
    expect(b.batches().slice(3)).toEqual([['x1'], ['x2'], ['x3']]);
    b.started[4]!.resolve();
    await settle();
    b.started[5]!.resolve();
    await settle();
    b.started[6]!.resolve();
    expect(await Promise.all(sameKey)).toEqual(['x1:done', 'x2:done', 'x3:done', 'x4:done']);
    expect(b.maxRunning()).toBe(2);

    // A longer burst, statements finishing in a scrambled order: still never more than two.
    const burst: Promise<string>[] = [];
    for (let i = 0; i < 200; i++) {
      burst.push(b.submit({ id: `k${i}`, key: `s${i % 7}` }));
      if (i % 13 === 0) await settle();
      if (i % 5 === 0) {
        const open = b.started.filter((s) => !s.settled);
        (open[open.length - 1 - (i % 2)] ?? open[0])?.resolve();
      }
    }
    for (;;) {
      await settle();
      const open = b.started.filter((s) => !s.settled);
      if (open.length === 0) break;
      for (const s of open) s.resolve();
    }
    expect(await Promise.all(burst)).toHaveLength(200);
    expect(b.maxRunning()).toBe(2);
  });
});
