/**
 * Groups concurrent calls of one kind into one statement. Under light load every call goes
 * out at once, alone (no added latency); when `maxInFlight` statements are already running,
 * new calls wait in a queue, and the next statement to go carries all of them (up to
 * `maxBatch`). The round trip, the executor start and the commit are then paid once per batch
 * instead of once per call, in Node and in PostgreSQL.
 *
 * Two calls with the same `key` never share a batch (the statement updates each row once);
 * the later one waits for a following batch. Calls of different `shape` (a parameter that the
 * whole statement shares) do not share a batch either.
 */
export class Batcher<I, O> {
  /** Waiting calls, with their key and shape computed once at submit. */
  private readonly queue: {
    item: I;
    key: string;
    shape: string;
    resolve: (value: O) => void;
    reject: (err: unknown) => void;
  }[] = [];
  private inFlight = 0;
  private scheduled = false;

  /**
   * @param run Runs one batch; answers one result per item, in the same order (a result may be
   * a promise: an item retried on its own settles with its own outcome).
   * @param options `maxBatch`: most items per statement; `maxInFlight`: most statements
   * running at once; `key`: items with equal keys go in different batches; `shape`: only items
   * with the same shape share a batch.
   */
  constructor(
    private readonly run: (items: I[]) => Promise<(O | Promise<O>)[]>,
    private readonly options: {
      maxBatch: number;
      maxInFlight: number;
      key: (item: I) => string;
      shape: (item: I) => string;
    },
  ) {}

  /** Queues one call; resolves with its own result (or rejects with its batch's error). */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, key: this.options.key(item), shape: this.options.shape(item), resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.options.maxInFlight || this.queue.length === 0) return;
    // Calls made in the same tick join the batch that goes next.
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) this.sendNext();
    });
  }

  private sendNext(): void {
    const { maxBatch } = this.options;
    const wanted = this.queue[0]!.shape;
    const keys = new Set<string>();
    const batch: typeof this.queue = [];
    for (let i = 0; i < this.queue.length && batch.length < maxBatch; ) {
      const entry = this.queue[i]!;
      if (entry.shape !== wanted || keys.has(entry.key)) {
        i++;
        continue;
      }
      keys.add(entry.key);
      batch.push(entry);
      this.queue.splice(i, 1);
    }
    this.inFlight++;
    this.run(batch.map((e) => e.item)).then(
      (results) => {
        for (let i = 0; i < batch.length; i++) Promise.resolve(results[i]!).then(batch[i]!.resolve, batch[i]!.reject);
        this.done();
      },
      (err: unknown) => {
        for (const e of batch) e.reject(err);
        this.done();
      },
    );
  }

  private done(): void {
    this.inFlight--;
    this.schedule();
  }
}
