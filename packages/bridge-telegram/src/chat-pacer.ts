import { BridgeError } from '@pocketping/core';
import { PACKAGE_NAME } from './options.js';

/**
 * Paces posts to one Telegram group: at most `max` sends in any `windowMs`, handed out in
 * call order, plus a pause after Telegram answered 429.
 *
 * Written here rather than using grammy's throttler plugin: that plugin queues requests inside
 * the API client with its own scheduler dependency, where a waiting post can be neither
 * aborted on `close()` nor seen by PocketPing's delivery queue, and it limits every method
 * alike. This bridge talks to a single group, so one sliding window in a few lines is all it
 * needs, and waiting here only holds the session's own delivery lane, which keeps order.
 */
export class ChatPacer {
  private readonly sent: number[] = [];
  private blockedUntil = 0;
  private tail: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly sleepers = new Set<{ timer: ReturnType<typeof setTimeout>; wake: (err?: Error) => void }>();

  constructor(
    private readonly bridge: string,
    private readonly limit: { max: number; windowMs: number } | false,
  ) {}

  /** Resolves when the next post may go out; rejects once the pacer is closed. */
  acquire(): Promise<void> {
    const turn = this.tail.then(() => this.waitForSlot());
    this.tail = turn.catch(() => {});
    return turn;
  }

  /** Holds every post for `ms` (Telegram answered 429 with `retry_after`). */
  pause(ms: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, Date.now() + ms);
  }

  /** Rejects the waiting posts; later `acquire` calls reject too. */
  close(): void {
    this.closed = true;
    for (const s of this.sleepers) {
      clearTimeout(s.timer);
      s.wake(this.closedError());
    }
    this.sleepers.clear();
  }

  /** Opens the pacer again after `close` (the bridge was started again). */
  reopen(): void {
    this.closed = false;
  }

  private closedError(): BridgeError {
    return new BridgeError(this.bridge, `${PACKAGE_NAME}: the bridge is closed; the post stays queued`);
  }

  private async waitForSlot(): Promise<void> {
    for (;;) {
      if (this.closed) throw this.closedError();
      const now = Date.now();
      let until = this.blockedUntil;
      if (this.limit) {
        while (this.sent.length > 0 && this.sent[0]! <= now - this.limit.windowMs) this.sent.shift();
        if (this.sent.length >= this.limit.max) until = Math.max(until, this.sent[0]! + this.limit.windowMs);
      }
      if (until <= now) {
        if (this.limit) this.sent.push(now);
        return;
      }
      await this.sleep(until - now);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const sleeper = {
        timer: setTimeout(() => {
          this.sleepers.delete(sleeper);
          resolve();
        }, ms),
        wake: (err?: Error) => (err ? reject(err) : resolve()),
      };
      this.sleepers.add(sleeper);
    });
  }
}
