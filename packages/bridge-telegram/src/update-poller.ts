import { type Api, GrammyError } from 'grammy';
import type { Update } from 'grammy/types';

/** Seconds Telegram holds a `getUpdates` call open when nothing happens. */
const LONG_POLL_SECONDS = 30;
/** Waits between failed calls: 1 s, doubling, at most this long. */
const MAX_BACKOFF_MS = 30_000;
/** Longest wait for the call that confirms the last applied updates when stopping. */
const CONFIRM_TIMEOUT_MS = 5000;

/** What the poller needs from the bridge. */
export interface UpdatePollerDeps {
  /** Client for `deleteWebhook` and `getUpdates` (its timeout must exceed the long poll). */
  api: Api;
  /** Update kinds asked for (`allowed_updates`). */
  allowedUpdates: readonly Exclude<keyof Update, 'update_id'>[];
  /** Applies one update; must not throw. */
  handle(update: Update): Promise<void>;
  /** A call failed; `streak` counts failures in a row (1 for the first). Polling goes on. */
  onError(err: unknown, streak: number): void;
  /** Polling recovered after `streak` failures. */
  onRecovered?(streak: number): void;
}

/**
 * Long polling that can be started and stopped many times (the bridge polls only while this
 * instance holds the polling lease). Written here rather than using grammY's `bot.start()`:
 * that loop cannot be restarted safely (its retry sleep ignores `stop()`, so a quick stop/start
 * leaves two loops), it gives up for good on a 409 answer (which a takeover can cause for a
 * moment), and its `stop()` makes one more call that cannot be aborted. Updates still go through
 * grammY's middleware via `handle`.
 */
export class UpdatePoller {
  private abort?: AbortController;
  private loop?: Promise<void>;
  /** Next update to ask for: everything below it was applied. */
  private offset: number | undefined;
  /** The offset Telegram last received, i.e. what it knows was applied. */
  private confirmed: number | undefined;

  constructor(private readonly deps: UpdatePollerDeps) {}

  /** True while the loop runs. */
  get running(): boolean {
    return this.loop !== undefined;
  }

  /** Deletes any webhook (Telegram refuses `getUpdates` while one is set), then polls until `stop()`. */
  start(): void {
    if (this.loop) return;
    const abort = new AbortController();
    this.abort = abort;
    this.loop = this.run(abort.signal).finally(() => {
      if (this.abort === abort) {
        this.abort = undefined;
        this.loop = undefined;
      }
    });
  }

  /**
   * Aborts the call in flight and resolves once the update being applied (if any) is done.
   * Updates applied since the last call are confirmed with one short call, so no restart or
   * other instance gets them again; those fetched but not applied stay with Telegram for the
   * next poller.
   */
  async stop(): Promise<void> {
    const loop = this.loop;
    if (!loop) return;
    this.abort?.abort();
    await loop;
    if (this.offset === undefined || this.offset === this.confirmed) return;
    try {
      await this.deps.api.getUpdates(
        { offset: this.offset, limit: 1, timeout: 0 },
        AbortSignal.timeout(CONFIRM_TIMEOUT_MS) as Parameters<Api['getUpdates']>[1],
      );
      this.confirmed = this.offset;
    } catch {
      // Unconfirmed updates come again; the bridge applies each update once anyway.
    }
  }

  private async run(signal: AbortSignal): Promise<void> {
    const { api, allowedUpdates, handle } = this.deps;
    let webhookDeleted = false;
    let streak = 0;
    // grammY types its signal with its own AbortSignal shim; Node's native one works at runtime.
    const callSignal = signal as Parameters<Api['getUpdates']>[1];
    while (!signal.aborted) {
      try {
        if (!webhookDeleted) {
          await api.deleteWebhook({}, callSignal);
          webhookDeleted = true;
        }
        // Each call confirms every update below `offset`, so what was applied is never fetched again.
        const asked = this.offset;
        const updates = await api.getUpdates(
          {
            ...(this.offset !== undefined ? { offset: this.offset } : {}),
            timeout: LONG_POLL_SECONDS,
            allowed_updates: [...allowedUpdates],
          },
          callSignal,
        );
        this.confirmed = asked;
        if (streak > 0) this.deps.onRecovered?.(streak);
        streak = 0;
        for (const update of updates) {
          if (signal.aborted) return;
          await handle(update);
          this.offset = update.update_id + 1;
        }
      } catch (err) {
        if (signal.aborted) return;
        streak++;
        this.deps.onError(err, streak);
        await sleep(waitAfter(err, streak), signal);
      }
    }
  }
}

/** Telegram's `retry_after` for a 429, else exponential backoff. */
function waitAfter(err: unknown, streak: number): number {
  if (err instanceof GrammyError && err.error_code === 429 && typeof err.parameters?.retry_after === 'number') {
    return err.parameters.retry_after * 1000;
  }
  return Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (streak - 1));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
