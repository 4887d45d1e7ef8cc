import type { Session } from '@pocketping/core';
import type { Collection, Document } from 'mongodb';

/**
 * A session document as stored: the model plus `seqIssued`, the highest message sequence number
 * handed out so far. `seq` (the model's field) is the highest one whose message has been written.
 * `seqIssued` is never returned (see `SESSION_PROJECTION`).
 */
export type SessionDoc = Session & { seqIssued?: number };

/** Reads of sessions leave out MongoDB's `_id` and the storage's own `seqIssued` counter. */
export const SESSION_PROJECTION = { _id: 0, seqIssued: 0 } as const;

/** Session keys a patch or a saved session never writes: the two sequence counters. */
export const SEQUENCE_KEYS: ReadonlySet<string> = new Set(['seq', 'seqIssued']);

/**
 * Hands out per-session message sequence numbers (`Message.seq`) around message writes.
 *
 * Each write of a message takes the session's next number with one `findOneAndUpdate` that
 * `$inc`s `seqIssued` on the session document (atomic, so no two writes of a session ever share
 * a number, across any number of processes; `saveMessageWithSession` patches the session in that
 * same write), writes the message carrying it, and then raises the
 * session's `seq` to it with `$max`. The counter and the message are two documents, so this is
 * not one atomic step, and the guarantee is:
 *
 * - Within one process, the writes of a session run one after another (a queue per session id),
 *   so they commit in `seq` order, and `Session.seq` only ever names numbers whose message is
 *   already readable: "everything after N" read at any moment misses nothing at or below the
 *   session's `seq`.
 * - Across processes (several server instances writing the same session at the same instant),
 *   two writers may commit out of `seq` order for a moment: number 6 can be readable, and the
 *   session's `seq` be 6, while number 5 is still being written. A reader that resumes from 6
 *   during that moment misses 5 (its realtime event still reaches the subscribers that were
 *   connected). A multi-document transaction would close this gap, but needs a replica set and
 *   costs more than the window is worth for chat traffic; it is not used.
 *
 * A writer that fails between taking a number and writing leaves a hole (a number no message
 * has), which is harmless: numbers only need to increase. Messages of a session that does not
 * exist get no number.
 */
export class SessionSequencer {
  private readonly tails = new Map<string, Promise<void>>();

  constructor(private readonly sessions: Collection<SessionDoc>) {}

  /**
   * Runs `write` with the session's next sequence number (`undefined` when the session does
   * not exist), after every earlier write of the same session in this process has finished,
   * then publishes the number as the session's `seq`.
   */
  write<T>(sessionId: string, write: (seq: number | undefined) => Promise<T>): Promise<T> {
    return this.serialize(sessionId, async () => {
      const issued = await this.sessions.findOneAndUpdate(
        { id: sessionId },
        { $inc: { seqIssued: 1 } },
        { returnDocument: 'after', projection: { _id: 0, seqIssued: 1 } },
      );
      const seq = issued?.seqIssued;
      const result = await write(seq);
      if (seq !== undefined) await this.publish(sessionId, seq);
      return result;
    });
  }

  /**
   * Like `write`, but the same `findOneAndUpdate` that takes the number also `$set`s `set` on
   * the session (a patch of top-level keys, or nothing). When the session does not exist
   * nothing is changed, `write` is not called and the answer is `null`. Otherwise `write` runs
   * with the number and the session as patched, and the answer is `write`'s result with the
   * session as it is once the number is published.
   */
  writePatched<T>(
    sessionId: string,
    set: Document | undefined,
    write: (seq: number) => Promise<T>,
  ): Promise<{ result: T; session: Session } | null> {
    return this.serialize(sessionId, async () => {
      const patched = await this.sessions.findOneAndUpdate(
        { id: sessionId },
        set ? { $inc: { seqIssued: 1 }, $set: set } : { $inc: { seqIssued: 1 } },
        { returnDocument: 'after', projection: { _id: 0 } },
      );
      const seq = patched?.seqIssued;
      if (!patched || seq === undefined) return null;
      const result = await write(seq);
      await this.publish(sessionId, seq);
      // What the `$max` just did, without reading the session again: within this process every
      // earlier write of the session has published already, so this number is the highest.
      const session = toSession({ ...patched, seq: Math.max(patched.seq ?? 0, seq) })!;
      return { result, session };
    });
  }

  /** Runs `fn` once every earlier write of the same session in this process has finished. */
  private serialize<T>(sessionId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(sessionId) ?? Promise.resolve();
    const result = previous.then(fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(sessionId, tail);
    void tail.then(() => {
      if (this.tails.get(sessionId) === tail) this.tails.delete(sessionId);
    });
    return result;
  }

  /** Raises the session's `seq` to `seq`; `$max`, so a number published by another process meanwhile is never lowered. */
  private async publish(sessionId: string, seq: number): Promise<void> {
    await this.sessions.updateOne({ id: sessionId }, { $max: { seq } });
  }
}

/** A stored session as the model: `seq` is 0 for a session that never had a numbered message. */
export function toSession(doc: SessionDoc | null): Session | null {
  if (!doc) return null;
  const { seqIssued: _internal, ...session } = doc;
  session.seq ??= 0;
  return session;
}
