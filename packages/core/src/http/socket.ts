import type { PocketPing } from '../pocketping.js';

/** The few things PocketPing needs from a WebSocket (the `ws` package's WebSocket fits). */
export interface WidgetSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  terminate?(): void;
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
}

/**
 * Serves one widget WebSocket on `/stream`: checks the session (closing fast with 4004 so the
 * widget moves on to SSE), subscribes it to the session's events, replays pending CSAT and
 * screenshot requests, and feeds inbound frames to `handleClientFrame`. Frames that arrive
 * while the session is being checked are kept and handled afterwards.
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
  const handleText = (text: string) => {
    pp.handleClientFrame(sessionId!, text).catch((err) => pp.logger.debug({ err }, 'widget frame rejected'));
  };
  if (!sessionId) {
    socket.close(CLOSE_UNKNOWN_SESSION, 'sessionId required');
    return { onText() {}, onClose() {} };
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
        socket.send(frame.json);
      });
      for (const frame of await pp.streamReplay(sessionId, { recentMs: 120_000 }))
        if (socket.readyState === OPEN) socket.send(frame.json);
      ready = true;
      for (const text of pending.splice(0)) handleText(text);
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
      closed = true;
      unsubscribe?.();
    },
  };
}
