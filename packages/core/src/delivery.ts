import { BridgeError } from './errors.js';
import { generateId } from './ids.js';
import type { CustomEvent } from './models.js';

/**
 * One thing to tell one bridge. Serializable on purpose: a durable queue can store it and a
 * worker rebuilds the call from storage, so a restart loses nothing.
 */
export type DeliveryOperation =
  | { type: 'new_session' }
  | { type: 'visitor_message'; messageId: string }
  | { type: 'operator_message'; messageId: string; sourceBridge?: string }
  | { type: 'edit'; messageId: string }
  | { type: 'delete'; messageId: string }
  | { type: 'identity' }
  | { type: 'custom_event'; event: CustomEvent }
  | { type: 'session_closed' }
  | { type: 'notice'; text: string }
  | { type: 'read'; messageIds: string[]; status: 'delivered' | 'read' };

/** A queued delivery to one bridge. Jobs with the same `bridge` and `sessionId` run in order. */
export interface DeliveryJob {
  id: string;
  bridge: string;
  sessionId: string;
  operation: DeliveryOperation;
  attempts: number;
  createdAt: Date;
  lastError?: string;
}

/** Runs one job; throws to ask for a retry. */
export type DeliveryWorker = (job: DeliveryJob) => Promise<void>;

/** Retry policy of bridge deliveries. */
export interface RetryPolicy {
  /** Attempts before a job is dead-lettered. @default 12 */
  maxAttempts: number;
  /** First retry delay. @default 500 */
  baseDelayMs: number;
  /** Longest delay between attempts. @default 60000 */
  maxDelayMs: number;
}

/** Default retry policy: about ten minutes of retries before a job is dead-lettered. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 12, baseDelayMs: 500, maxDelayMs: 60_000 };

/**
 * Where bridge deliveries wait. The in-memory queue here keeps order and retries while the
 * process lives; a durable queue (storage-backed outbox) implements the same contract.
 */
export interface DeliveryQueue {
  /** Starts working jobs with `worker`. */
  start(worker: DeliveryWorker, onFailure?: (job: DeliveryJob, error: unknown, deadLettered: boolean) => void): void;
  /** Adds jobs; resolves once they are accepted (durable queues: once written). */
  enqueue(jobs: Omit<DeliveryJob, 'id' | 'attempts' | 'createdAt'>[]): Promise<void>;
  /** Jobs that failed `maxAttempts` times. */
  deadLetters(): Promise<DeliveryJob[]>;
  /** Puts a dead-lettered job back at the end of its queue. */
  retryDeadLetter(jobId: string): Promise<boolean>;
  /** Resolves when nothing is queued, running or waiting for a retry. */
  drain(): Promise<void>;
  /** Stops working; queued jobs stay queued. */
  stop(): Promise<void>;
}

/** Delay before attempt `attempt + 1`: exponential with ±20 % jitter, or the platform's ask. */
export function retryDelay(policy: RetryPolicy, attempt: number, error: unknown): number {
  if (error instanceof BridgeError && error.retryAfterMs !== undefined) {
    return Math.max(0, error.retryAfterMs);
  }
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const jitter = exp * 0.2 * (Math.random() * 2 - 1);
  return Math.max(0, Math.round(exp + jitter));
}

interface Lane {
  jobs: DeliveryJob[];
  running: boolean;
  timer?: ReturnType<typeof setTimeout>;
}

/** In-memory delivery queue: per bridge and session FIFO lanes, retries with backoff. */
export class MemoryDeliveryQueue implements DeliveryQueue {
  private readonly lanes = new Map<string, Lane>();
  private readonly dead: DeliveryJob[] = [];
  private worker?: DeliveryWorker;
  private onFailure?: (job: DeliveryJob, error: unknown, deadLettered: boolean) => void;
  private stopped = false;
  private drainWaiters: (() => void)[] = [];

  constructor(private readonly policy: RetryPolicy = DEFAULT_RETRY_POLICY) {}

  start(worker: DeliveryWorker, onFailure?: (job: DeliveryJob, error: unknown, deadLettered: boolean) => void): void {
    this.worker = worker;
    this.onFailure = onFailure;
    this.stopped = false;
    for (const key of this.lanes.keys()) this.kick(key);
  }

  async enqueue(jobs: Omit<DeliveryJob, 'id' | 'attempts' | 'createdAt'>[]): Promise<void> {
    for (const j of jobs) {
      const job: DeliveryJob = { ...j, id: generateId('dlv'), attempts: 0, createdAt: new Date() };
      const key = `${job.bridge}\u0000${job.sessionId}`;
      let lane = this.lanes.get(key);
      if (!lane) {
        lane = { jobs: [], running: false };
        this.lanes.set(key, lane);
      }
      lane.jobs.push(job);
      this.kick(key);
    }
  }

  async deadLetters(): Promise<DeliveryJob[]> {
    return this.dead.map((j) => ({ ...j }));
  }

  async retryDeadLetter(jobId: string): Promise<boolean> {
    const idx = this.dead.findIndex((j) => j.id === jobId);
    if (idx < 0) return false;
    const [job] = this.dead.splice(idx, 1);
    await this.enqueue([{ bridge: job!.bridge, sessionId: job!.sessionId, operation: job!.operation }]);
    return true;
  }

  drain(): Promise<void> {
    if (this.lanes.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const lane of this.lanes.values()) {
      if (lane.timer) clearTimeout(lane.timer);
      lane.timer = undefined;
    }
  }

  private kick(key: string): void {
    const lane = this.lanes.get(key);
    if (!lane || lane.running || lane.timer || !this.worker || this.stopped) return;
    void this.run(key, lane);
  }

  private async run(key: string, lane: Lane): Promise<void> {
    lane.running = true;
    while (lane.jobs.length > 0 && !this.stopped) {
      const job = lane.jobs[0]!;
      job.attempts++;
      try {
        await this.worker!(job);
        lane.jobs.shift();
      } catch (err) {
        job.lastError = err instanceof Error ? err.message : String(err);
        const retryable = !(err instanceof BridgeError) || err.retryable;
        const dead = !retryable || job.attempts >= this.policy.maxAttempts;
        this.onFailure?.(job, err, dead);
        if (dead) {
          lane.jobs.shift();
          this.dead.push(job);
          continue;
        }
        const delay = retryDelay(this.policy, job.attempts, err);
        lane.running = false;
        lane.timer = setTimeout(() => {
          lane.timer = undefined;
          this.kick(key);
        }, delay);
        lane.timer.unref?.();
        return;
      }
    }
    lane.running = false;
    if (lane.jobs.length === 0) {
      this.lanes.delete(key);
      if (this.lanes.size === 0) {
        const waiters = this.drainWaiters;
        this.drainWaiters = [];
        for (const w of waiters) w();
      }
    }
  }
}
