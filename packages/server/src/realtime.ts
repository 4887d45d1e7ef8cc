import { attachWidgetSocket, CLOSE_RESTART, type PocketPing, type WidgetSocketHandle } from '@pocketping/core';
import type { WebSocket } from 'ws';

/** Close code for a client refused by the IP or User-Agent filters. */
export const CLOSE_FORBIDDEN = 4003;

/** The keep-alive round is spread over this many ticks (no burst of 10,000 pings at once). */
const PING_SLICES = 25;

interface Entry {
  handle: WidgetSocketHandle;
  /** Answered the last ping (or has not been pinged yet). */
  alive: boolean;
}

/**
 * The WebSockets of one mounted PocketPing: attaches each to its session, pings them from one
 * timer (a timer per socket would cost memory at 10,000 widgets), drops the dead ones, and
 * closes them with a reconnectable code on shutdown. Each socket is pinged once per
 * `pingIntervalMs`, but the round is spread over 25 ticks so that a large number of sockets
 * never stalls the event loop (and the replies in flight) for a whole sweep. Shared by the
 * Fastify plugin and the Express adapter.
 */
export class WidgetSocketServer {
  private readonly sockets = new Map<WebSocket, Entry>();
  private timer?: ReturnType<typeof setInterval>;
  /** Where the current keep-alive round has got to. */
  private round: Iterator<[WebSocket, Entry]> | undefined;
  private roundLeft = 0;
  private roundSize = 0;
  /** Ticks per round (fewer for very short intervals, so a round still takes one interval). */
  private readonly slices: number;

  constructor(
    private readonly pp: PocketPing,
    private readonly options: { pingIntervalMs: number; maxBufferedBytes: number },
  ) {
    this.slices = Math.max(1, Math.min(PING_SLICES, Math.floor(options.pingIntervalMs / 10)));
  }

  /** Number of open widget sockets. */
  get size(): number {
    return this.sockets.size;
  }

  start(): void {
    if (this.timer) return;
    const tickMs = Math.max(1, Math.floor(this.options.pingIntervalMs / this.slices));
    this.timer = setInterval(() => this.tick(), tickMs);
    this.timer.unref();
  }

  /** Serves one socket that asked for `/stream?sessionId=`. */
  accept(socket: WebSocket, sessionId: string | undefined, client: { ip?: string; userAgent?: string } = {}): void {
    const refused = this.pp.checkAccess(client);
    if (refused) {
      socket.close(CLOSE_FORBIDDEN, refused);
      return;
    }
    const handle = attachWidgetSocket(this.pp, socket, sessionId, {
      maxBufferedBytes: this.options.maxBufferedBytes,
      sendBytes: true,
    });
    const entry: Entry = { handle, alive: true };
    this.sockets.set(socket, entry);
    socket.on('pong', () => {
      entry.alive = true;
      handle.onPong();
    });
    socket.on('message', (data, isBinary) => {
      if (!isBinary) handle.onText(data.toString());
    });
    socket.on('close', () => {
      this.sockets.delete(socket);
      handle.onClose();
    });
    socket.on('error', () => {
      // 'close' follows 'error'; cleanup happens there.
    });
  }

  /** One slice of the keep-alive round (about 1/25 of the sockets); each is pinged once a round. */
  private tick(): void {
    if (!this.round || this.roundLeft <= 0) {
      this.round = this.sockets.entries();
      this.roundSize = this.sockets.size;
      this.roundLeft = this.slices;
    }
    let budget = Math.ceil(this.roundSize / this.roundLeft);
    this.roundSize -= budget;
    this.roundLeft--;
    while (budget-- > 0) {
      const next = this.round.next();
      if (next.done) {
        this.roundLeft = 0;
        return;
      }
      const [socket, entry] = next.value;
      if (!entry.alive) {
        socket.terminate();
        continue;
      }
      entry.alive = false;
      try {
        entry.handle.ping();
      } catch {
        socket.terminate();
      }
    }
  }

  /** Closes every socket with "service restart" (the widget reconnects) and stops pinging. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const socket of this.sockets.keys()) socket.close(CLOSE_RESTART, 'server restarting');
  }
}
