import type { Logger } from './logger.js';
import type { Storage } from './storage.js';

/** What a singleton job does when this instance gains or loses its lease. */
export interface SingletonJob {
  /** Called when this instance becomes the one that runs the job. */
  start(): void | Promise<void>;
  /** Called when the lease is lost or PocketPing closes. Must stop the job quickly. */
  stop(): void | Promise<void>;
}

/** Options of a singleton. */
export interface SingletonOptions {
  /** How long a lease lasts without renewal; a dead holder is replaced within about this long. @default 15000 */
  ttlMs?: number;
}

/**
 * Runs a job on exactly one instance among those sharing a storage: a lease is taken and renewed
 * every third of its lifetime; when the holder dies, another instance takes over once the lease
 * expires, and an instance that cannot renew in time stops the job first (never two at once).
 * Storages without leases run the job on every instance (one instance is assumed).
 */
export class LeaseKeeper {
  private timer?: ReturnType<typeof setTimeout>;
  private held = false;
  private closed = false;
  private heldUntil = 0;
  private transition: Promise<void> = Promise.resolve();
  private started = false;

  constructor(
    private readonly storage: Storage,
    private readonly name: string,
    private readonly owner: string,
    private readonly job: SingletonJob,
    private readonly logger: Logger,
    private readonly ttlMs = 15_000,
  ) {}

  /** True while this instance runs the job. */
  get isLeader(): boolean {
    return this.held;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    if (!this.storage.leaseAcquire || !this.storage.leaseRelease) {
      this.held = true;
      this.transition = this.transition.then(() => this.job.start());
      return;
    }
    void this.tick();
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.tick(), ms);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private async tick(): Promise<void> {
    if (this.closed) return;
    const started = Date.now();
    let got = false;
    let renewed = false;
    try {
      renewed = await this.storage.leaseAcquire!(this.name, this.owner, this.ttlMs);
      got = renewed;
    } catch (err) {
      this.logger.warn({ err, lease: this.name }, 'lease renewal failed');
      // Keep running only while the last successful lease is certainly still ours; a failed
      // renewal never extends it, so the job stops before another instance can take over.
      got = this.held && Date.now() < this.heldUntil - this.ttlMs / 3;
    }
    if (this.closed) return;
    if (got) {
      if (renewed) this.heldUntil = started + this.ttlMs;
      if (!this.held) {
        this.held = true;
        this.logger.info({ lease: this.name }, 'this instance now runs the job');
        this.transition = this.transition
          .then(() => this.job.start())
          .catch((err) => this.logger.error({ err }, 'singleton start failed'));
      }
    } else if (this.held) {
      this.held = false;
      this.logger.warn({ lease: this.name }, 'lease lost; stopping the job');
      this.transition = this.transition
        .then(() => this.job.stop())
        .catch((err) => this.logger.error({ err }, 'singleton stop failed'));
    }
    this.schedule(Math.max(50, Math.floor(this.ttlMs / 3)));
  }

  /** Stops the job (if running here) and gives the lease up. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.held) {
      this.held = false;
      await this.transition;
      await this.job.stop();
    }
    await this.transition;
    await this.storage.leaseRelease?.(this.name, this.owner).catch(() => {});
  }
}
