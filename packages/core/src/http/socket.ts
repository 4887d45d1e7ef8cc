import type { PocketPing } from '../pocketping.js';
import type { OutgoingFrame } from '../realtime-hub.js';

/** The few things PocketPing needs from a WebSocket (the `ws` package's WebSocket fits). */
export interface WidgetSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  /** Sends one text frame. */
  send(data: string): void;
  /**
   * With `WidgetSocketOptions.sendBytes`: sends one text frame given as UTF-8 bytes (encoded once
   * per event for all sockets) with `{ binary: false }`, as the `ws` package's `send()` does.
   */
  send(data: Uint8Array, options: { binary: false }): void;
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
const DEFAULT_MAX_BUFFERED = 4 * 1024 * 1024;

/** Options of `attachWidgetSocket`. */
export interface WidgetSocketOptions {
  /** A socket with more unsent bytes than this is closed (slow consumer). @default 4194304 */
  maxBufferedBytes?: number;
  /**
   * The socket's `send()` takes a `Uint8Array` with `{ binary: false }` as a text frame (true
   * for the `ws` package): events are then encoded once for all sockets. @default false
   */
  sendBytes?: boolean;
}

/** What the transport calls as the socket lives. */
export interface WidgetSocketHandle {
  /** A text frame arrived from the widget. */
  onText(text: string): void;
  /**
   * The socket closed, with the close code when known. A clean close by the widget (1000 normal,
   * 1001 going away, 1005 no code: the page left or `disconnect()` was called) records no resume
   * point: that socket never comes back (a new page gets its history from /connect).
   */
  onClose(code?: number): void;
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
  if (!sessionId) {
    socket.close(CLOSE_UNKNOWN_SESSION, 'sessionId required');
    return CLOSED_HANDLE;
  }
  const connection = new WidgetConnection(pp, socket, sessionId, options);
  connection.start();
  return connection;
}

const CLOSED_HANDLE: WidgetSocketHandle = { onText() {}, onClose() {}, ping() {}, onPong() {} };

/**
 * One widget socket's state. A class rather than closures: with 10,000 open widgets, methods on
 * the prototype keep the per-socket cost to a handful of fields.
 */
class WidgetConnection implements WidgetSocketHandle {
  private unsubscribe: (() => void) | undefined = undefined;
  private ready = false;
  private closed = false;
  /** Frames that arrived before the session was checked. */
  private pending: string[] | undefined = undefined;
  /** Highest sequence number sent on this socket (or known to the widget when it opened). */
  private sentSeq: number | undefined = undefined;
  /** Highest sequence number a pong confirmed, or where this socket resumed from. */
  private confirmedSeq: number | undefined = undefined;
  /** `sentSeq` when the oldest unanswered ping left, and how many pings are unanswered. */
  private pingSeq: number | undefined = undefined;
  private pingsOut = 0;
  private readonly maxBuffered: number;
  private readonly sendBytes: boolean;

  constructor(
    private readonly pp: PocketPing,
    private readonly socket: WidgetSocket,
    private readonly sessionId: string,
    options: WidgetSocketOptions,
  ) {
    this.maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
    this.sendBytes = options.sendBytes === true;
  }

  start(): void {
    this.setUp().catch((err) => {
      this.pp.logger.warn({ err }, 'websocket setup failed');
      this.socket.close(1011, 'server error');
    });
  }

  private async setUp(): Promise<void> {
    const { pp, socket, sessionId } = this;
    const exists = await pp.sessionExists(sessionId);
    if (this.closed) return;
    if (!exists) {
      socket.close(CLOSE_UNKNOWN_SESSION, 'unknown session');
      return;
    }
    this.unsubscribe = pp.subscribe(sessionId, (frame) => this.deliver(frame));
    const catchUp = await pp.streamCatchUp(sessionId, { resume: true });
    if (this.closed) {
      // Gone during the catch-up: give back the resume point it used up.
      if (catchUp.resumedFrom !== undefined) void pp.recordResumePoint(sessionId, catchUp.resumedFrom);
      return;
    }
    this.confirmedSeq = catchUp.resumedFrom;
    this.noteSent(catchUp.seq);
    for (const frame of catchUp.frames) if (socket.readyState === OPEN) this.write(frame);
    this.ready = true;
    const pending = this.pending;
    this.pending = undefined;
    if (pending) for (const text of pending) this.handleText(text);
    // Confirms the catch-up at once instead of at the next keep-alive ping.
    if (!this.closed && socket.readyState === OPEN) this.ping();
  }

  private deliver(frame: OutgoingFrame): void {
    const socket = this.socket;
    if (socket.readyState !== OPEN) return;
    if (socket.bufferedAmount > this.maxBuffered) {
      socket.close(CLOSE_TOO_SLOW, 'too slow');
      return;
    }
    this.write(frame);
  }

  private write(frame: OutgoingFrame): void {
    if (this.sendBytes) this.socket.send(frameBytes(frame), TEXT_FRAME);
    else this.socket.send(frame.json);
    this.noteSent(frame.seq);
  }

  private noteSent(seq: number | undefined): void {
    if (seq !== undefined && (this.sentSeq === undefined || seq > this.sentSeq)) this.sentSeq = seq;
  }

  private handleText(text: string): void {
    this.pp
      .handleClientFrame(this.sessionId, text)
      .catch((err) => this.pp.logger.debug({ err }, 'widget frame rejected'));
  }

  onText(text: string): void {
    if (this.ready) this.handleText(text);
    else {
      this.pending ??= [];
      if (this.pending.length < 20) this.pending.push(text);
    }
  }

  onClose(code?: number): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.confirmedSeq !== undefined && !CLIENT_LEFT.has(code ?? 0))
      void this.pp.recordResumePoint(this.sessionId, this.confirmedSeq);
  }

  ping(): void {
    if (!this.socket.ping) return;
    // With a ping already unanswered, the next pong may be that one's: it confirms no more than
    // the older point (a later pong then confirms it again; never more than was read).
    if (this.pingsOut === 0) this.pingSeq = this.sentSeq;
    this.pingsOut++;
    this.socket.ping();
  }

  onPong(): void {
    if (this.pingsOut === 0) return;
    this.pingsOut--;
    const seq = this.pingSeq;
    if (seq !== undefined && (this.confirmedSeq === undefined || seq > this.confirmedSeq)) this.confirmedSeq = seq;
    if (this.pingsOut === 0) this.pingSeq = undefined;
  }
}

/** Close codes of a widget that left for good (normal, going away, no code given). */
const CLIENT_LEFT = new Set([1000, 1001, 1005]);
const TEXT_FRAME = { binary: false } as const;
const encoder = new TextEncoder();

/** UTF-8 bytes of a frame, encoded once and shared by every socket that sends it. */
function frameBytes(frame: OutgoingFrame): Uint8Array {
  frame.bytes ??= encoder.encode(frame.json);
  return frame.bytes;
}
