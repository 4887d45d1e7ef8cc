import {
  DEFAULT_RETRY_POLICY,
  type DeliveryJob,
  type DeliveryOperation,
  type DeliveryQueue,
  type DeliveryWorker,
  type RetryPolicy,
  retryDelay,
} from './delivery.js';
import { BridgeError } from './errors.js';
import { generateId } from './ids.js';
import type { Logger } from './logger.js';
import type { OutboxRecord, Storage } from './storage.js';

type OutboxStorage = Required<
  Pick<Storage, 'outboxAdd' | 'outboxClaim' | 'outboxComplete' | 'outboxReschedule' | 'outboxList' | 'outboxRetry'>
>;

/** Options of the durable delivery queue. */
export interface StorageDeliveryQueueOptions {
  /** This worker's id (the lease owner). */
  owner: string;
  policy?: RetryPolicy;
  /** How often idle workers look for due records (new local records are picked up at once). @default 250 */
  pollMs?: number;
  /** How long a claimed record stays with this worker. @default 60000 */
  leaseMs?: number;
  /** Records claimed per round, each from its own lane. @default 16 */
  batch?: number;
  logger?: Logger;
}

let lastSeq = 0;
/** Increasing within the process and roughly time-ordered across processes. */
function nextSeq(): number {
  const candidate = Date.now() * 1000;
  lastSeq = candidate > lastSeq ? candidate : lastSeq + 1;
  return lastSeq;
}

function toJob(r: OutboxRecord): DeliveryJob {
  return {
    id: r.id,
    bridge: r.bridge,
    sessionId: r.sessionId,
    operation: r.operation as unknown as DeliveryOperation,
    attempts: r.attempts,
    createdAt: r.createdAt,
    ...(r.lastError ? { lastError: r.lastError } : {}),
  };
}

/**
 * The durable outbox: every bridge delivery is written to storage before the visitor's request
 * is answered, then worked by a background loop shared by every instance on that storage
 * (leases keep one worker per conversation lane). Order per lane, retries with backoff and
 * jitter, the platform's retry_after, dead letters after `maxAttempts`, retryable from the
 * admin API. A restart loses nothing: records wait in storage.
 */
export class StorageDeliveryQueue implements DeliveryQueue {
  private readonly policy: RetryPolicy;
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private readonly batch: number;
  private worker?: DeliveryWorker;
  private onFailure?: (job: DeliveryJob, error: unknown, deadLettered: boolean) => void;
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private kicked = false;

  constructor(
    private readonly storage: OutboxStorage,
    private readonly options: StorageDeliveryQueueOptions,
  ) {
    this.policy = options.policy ?? DEFAULT_RETRY_POLICY;
    this.pollMs = options.pollMs ?? 250;
    this.leaseMs = options.leaseMs ?? 60_000;
    this.batch = options.batch ?? 16;
  }

  start(worker: DeliveryWorker, onFailure?: (job: DeliveryJob, error: unknown, deadLettered: boolean) => void): void {
    this.worker = worker;
    this.onFailure = onFailure;
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async enqueue(jobs: Omit<DeliveryJob, 'id' | 'attempts' | 'createdAt'>[]): Promise<void> {
    if (jobs.length === 0) return;
    const now = new Date();
    await this.storage.outboxAdd(
      jobs.map((j) => ({
        id: generateId('dlv'),
        bridge: j.bridge,
        sessionId: j.sessionId,
        seq: nextSeq(),
        operation: j.operation as unknown as OutboxRecord['operation'],
        attempts: 0,
        status: 'pending' as const,
        nextAttemptAt: now,
        createdAt: now,
      })),
    );
    this.kick();
  }

  async deadLetters(): Promise<DeliveryJob[]> {
    return (await this.storage.outboxList({ status: 'dead', limit: 500 })).map(toJob);
  }

  async retryDeadLetter(jobId: string): Promise<boolean> {
    const ok = await this.storage.outboxRetry(jobId);
    if (ok) this.kick();
    return ok;
  }

  async drain(): Promise<void> {
    for (;;) {
      const pending = await this.storage.outboxList({ status: 'pending', limit: 1 });
      if (pending.length === 0) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.kick();
    await this.loop;
  }

  private kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  private async sleep(ms: number): Promise<void> {
    if (this.kicked) {
      this.kicked = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      (timer as { unref?: () => void }).unref?.();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
    this.wake = undefined;
    this.kicked = false;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let claimed: OutboxRecord[] = [];
      try {
        claimed = await this.storage.outboxClaim({
          owner: this.options.owner,
          now: new Date(),
          leaseMs: this.leaseMs,
          limit: this.batch,
        });
      } catch (err) {
        this.options.logger?.warn({ err }, 'outbox claim failed; will retry');
      }
      if (claimed.length === 0) {
        await this.sleep(this.pollMs);
        continue;
      }
      // Different lanes run side by side; within a lane only the head was claimed.
      await Promise.all(claimed.map((r) => this.work(r)));
    }
  }

  private async work(record: OutboxRecord): Promise<void> {
    const job = toJob(record);
    job.attempts = record.attempts + 1;
    try {
      await this.worker!(job);
      await this.storage.outboxComplete(record.id);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const retryable = !(err instanceof BridgeError) || err.retryable;
      const dead = !retryable || job.attempts >= this.policy.maxAttempts;
      job.lastError = message;
      this.onFailure?.(job, err, dead);
      const delay = retryDelay(this.policy, job.attempts, err);
      try {
        await this.storage.outboxReschedule(record.id, {
          attempts: job.attempts,
          nextAttemptAt: new Date(Date.now() + (dead ? 0 : delay)),
          lastError: message.slice(0, 1000),
          status: dead ? 'dead' : 'pending',
        });
      } catch (e) {
        // The lease expires by itself and the record is tried again.
        this.options.logger?.warn({ err: e }, 'outbox reschedule failed');
      }
    }
  }
}
