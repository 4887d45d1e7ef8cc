import type { PocketPing } from '../pocketping.js';

/** The few things PocketPing needs from a WebSocket (the `ws` package's WebSocket fits). */
export interface WidgetSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  terminate?(): void;
  /** Sends a protocol ping (the `ws` package's `ping()`); used to confirm what the widget has. */
  ping?(): void;
}

/** Close code sent to widgets on shutdown: "service restart", the widget reconnects. */
export const CLOSE_RESTART = 1012;
/** Close code for a missing or unknown session id. */
export const CLOSE_UNKNOWN_SESSION = 4004;
/** Close code for a client that does not read fast enough. */
export const CLOSE_TOO_SLOW = 1013;

const OPEN = 1;

/** Options of `attachWidgetSocket`. */
export interface WidgetSocketOptions {
  /** A socket with more unsent bytes than this is closed (slow consumer). @default 4194304 */
  maxBufferedBytes?: number;
}

/** What the transport calls as the socket lives. */
export interface WidgetSocketHandle {
  /** A text frame arrived from the widget. */
  onText(text: string): void;
  /** The socket closed. */
  onClose(): void;
  /**
   * Sends a protocol ping through `socket.ping()` and remembers how far the widget will have got
   * once it answers. Transports call this instead of `socket.ping()` for their keep-alive pings.
   */
  ping(): void;
  /** A pong arrived (transports forward every pong). */
  onPong(): void;
}

/**
 * Serves one widget WebSocket on `/stream`: checks the session (closing fast with 4004 so the
 * widget moves on to SSE), subscribes it to the session's events, replays what the widget
 * missed since its previous socket closed (see `PocketPing.streamCatchUp`), pending CSAT and
 * screenshot requests, and feeds inbound frames to `handleClientFrame`. Frames that arrive
 * while the session is being checked are kept and handled afterwards.
 *
 * Resume: every message frame carries the session's sequence number. A pong proves the widget
 * read everything sent before the ping it answers (frames and pings travel in order), so the
 * socket knows how far its widget has got; when it closes, that point is recorded for the
 * socket that reopens (the widget reconnects without any cursor).
 */
export function attachWidgetSocket(
  pp: PocketPing,
  socket: WidgetSocket,
  sessionId: string | undefined,
  options: WidgetSocketOptions = {},
): WidgetSocketHandle {
  const maxBuffered = options.maxBufferedBytes ?? 4 * 1024 * 1024;
  let unsubscribe: (() => void) | undefined;
  let ready = false;
  let closed = false;
  const pending: string[] = [];
  /** Highest sequence number sent on this socket (or known to the widget when it opened). */
  let sentSeq: number | undefined;
  /** Highest sequence number a pong confirmed, or where this socket resumed from. */
  let confirmedSeq: number | undefined;
  /** `sentSeq` at each unanswered ping, oldest first. */
  const pings: (number | undefined)[] = [];
  const handleText = (text: string) => {
    pp.handleClientFrame(sessionId!, text).catch((err) => pp.logger.debug({ err }, 'widget frame rejected'));
  };
  const send = (json: string, seq: number | undefined) => {
    socket.send(json);
    if (seq !== undefined && (sentSeq === undefined || seq > sentSeq)) sentSeq = seq;
  };
  const ping = () => {
    if (!socket.ping) return;
    if (pings.length >= 8) pings.shift();
    pings.push(sentSeq);
    socket.ping();
  };
  if (!sessionId) {
    socket.close(CLOSE_UNKNOWN_SESSION, 'sessionId required');
    return { onText() {}, onClose() {}, ping() {}, onPong() {} };
  }
  void pp
    .sessionExists(sessionId)
    .then(async (exists) => {
      if (closed) return;
      if (!exists) {
        socket.close(CLOSE_UNKNOWN_SESSION, 'unknown session');
        return;
      }
      unsubscribe = pp.subscribe(sessionId, (frame) => {
        if (socket.readyState !== OPEN) return;
        if (socket.bufferedAmount > maxBuffered) {
          socket.close(CLOSE_TOO_SLOW, 'too slow');
          return;
        }
        send(frame.json, frame.seq);
      });
      const catchUp = await pp.streamCatchUp(sessionId, { resume: true });
      confirmedSeq = catchUp.resumedFrom;
      if (catchUp.seq !== undefined && (sentSeq === undefined || catchUp.seq > sentSeq)) sentSeq = catchUp.seq;
      for (const frame of catchUp.frames) if (socket.readyState === OPEN) send(frame.json, frame.seq);
      ready = true;
      for (const text of pending.splice(0)) handleText(text);
      // Confirms the catch-up at once instead of at the next keep-alive ping.
      if (!closed && socket.readyState === OPEN) ping();
    })
    .catch((err) => {
      pp.logger.warn({ err }, 'websocket setup failed');
      socket.close(1011, 'server error');
    });
  return {
    onText(text) {
      if (ready) handleText(text);
      else if (pending.length < 20) pending.push(text);
    },
    onClose() {
      if (closed) return;
      closed = true;
      unsubscribe?.();
      if (confirmedSeq !== undefined) void pp.recordResumePoint(sessionId, confirmedSeq);
    },
    ping,
    onPong() {
      if (pings.length === 0) return;
      const seq = pings.shift();
      if (seq !== undefined && (confirmedSeq === undefined || seq > confirmedSeq)) confirmedSeq = seq;
    },
  };
}
