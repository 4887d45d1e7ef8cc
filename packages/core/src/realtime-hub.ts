import type { ServerEvent } from './events.js';

/** One event ready to send: the object and its envelope serialized once for all sockets. */
export interface OutgoingFrame {
  readonly event: ServerEvent;
  /**
   * The session's message sequence number this event stands for (a message created or
   * changed), when the storage assigns them; sockets use it as their resume point.
   */
  readonly seq?: number;
  /** `JSON.stringify({ type, data, seq? })`, computed once per event, shared by every socket. */
  readonly json: string;
  /** UTF-8 bytes of `json`, filled in by the first transport that sends bytes, then shared. */
  bytes?: Uint8Array;
}

/** Receives the frames of one session (a WebSocket, an SSE stream, a test). */
export type RealtimeListener = (frame: OutgoingFrame) => void;

/**
 * Builds the frame of an event. With `seq`, the envelope carries it next to `type` and `data`
 * (the widget ignores it; other clients can resume from it with `afterSeq`).
 */
export function toFrame(event: ServerEvent, seq?: number): OutgoingFrame {
  if (seq === undefined) return { event, json: JSON.stringify({ type: event.type, data: event.data }) };
  return { event, seq, json: JSON.stringify({ type: event.type, data: event.data, seq }) };
}

/**
 * The realtime subscribers of this process, by session. Per-session sets are deleted when
 * their last listener leaves, so nothing stays behind after sockets close.
 */
export class RealtimeHub {
  private readonly sessions = new Map<string, Set<RealtimeListener>>();
  private listenerCount = 0;

  /** Adds a listener for a session; returns the function that removes it. */
  subscribe(sessionId: string, listener: RealtimeListener): () => void {
    let set = this.sessions.get(sessionId);
    if (!set) {
      set = new Set();
      this.sessions.set(sessionId, set);
    }
    set.add(listener);
    this.listenerCount++;
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      const current = this.sessions.get(sessionId);
      if (!current) return;
      if (current.delete(listener)) this.listenerCount--;
      if (current.size === 0) this.sessions.delete(sessionId);
    };
  }

  /** Sends to every listener of one session. */
  deliver(sessionId: string, frame: OutgoingFrame): number {
    const set = this.sessions.get(sessionId);
    if (!set) return 0;
    for (const listener of set) safeCall(listener, frame);
    return set.size;
  }

  /** Sends to every listener of every session. */
  broadcast(frame: OutgoingFrame): number {
    let n = 0;
    for (const set of this.sessions.values()) {
      for (const listener of set) {
        safeCall(listener, frame);
        n++;
      }
    }
    return n;
  }

  /** True when at least one listener follows the session. */
  has(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  /** Number of sessions with at least one listener. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Number of listeners across sessions. */
  get connectionCount(): number {
    return this.listenerCount;
  }
}

function safeCall(listener: RealtimeListener, frame: OutgoingFrame): void {
  try {
    listener(frame);
  } catch {
    // A broken socket must not stop delivery to the others; transports clean up on close.
  }
}
