import { attachWidgetSocket, CLOSE_RESTART, type PocketPing, type WidgetSocketHandle } from '@pocketping/core';
import type { RawData, WebSocket } from 'ws';

/** Close code for a client refused by the IP or User-Agent filters. */
export const CLOSE_FORBIDDEN = 4003;

/**
 * The keep-alive round advances every this many milliseconds: with the default 25 s interval
 * and 10,000 sockets a tick sends 4 pings, tens of microseconds, instead of a burst that would
 * delay the replies in flight (the round is spread evenly over the interval).
 */
const PING_TICK_MS = 10;

interface Entry {
  socket: WebSocket;
  handle: WidgetSocketHandle;
  /** Answered the last ping (or has not been pinged yet). */
  alive: boolean;
  /** Position in the list (-1 once removed). */
  index: number;
  server: WidgetSocketServer;
}

const ENTRY = Symbol('pocketping.widgetSocket');
type SocketWithEntry = WebSocket & { [ENTRY]?: Entry };

function onPong(this: SocketWithEntry): void {
  const entry = this[ENTRY];
  if (!entry) return;
  entry.alive = true;
  entry.handle.onPong();
}

function onMessage(this: SocketWithEntry, data: RawData, isBinary: boolean): void {
  if (!isBinary) this[ENTRY]?.handle.onText(data.toString());
}

function onClose(this: SocketWithEntry, code: number): void {
  const entry = this[ENTRY];
  if (!entry) return;
  this[ENTRY] = undefined;
  entry.server.remove(entry);
  entry.handle.onClose(code);
}

function onError(): void {
  // 'close' follows 'error'; cleanup happens there.
}

/**
 * The WebSockets of one mounted PocketPing: attaches each to its session, pings them from one
 * timer (a timer per socket would cost memory at 10,000 widgets), drops the dead ones, and
 * closes them with a reconnectable code on shutdown. Each socket is pinged once per
 * `pingIntervalMs`, but the round is spread over ticks 10 ms apart so that a large number of
 * sockets never stalls the event loop (and the replies in flight) for a whole sweep. Shared by the
 * Fastify plugin and the Express adapter.
 *
 * The sockets live in an array walked by a cursor. A closed socket leaves a hole at once (no
 * iterator or copy keeps it alive); holes are compacted when a round starts. Nothing moves
 * during a round, so every socket is visited exactly once per round: a live socket is never
 * taken for dead, and a dead one is dropped within two intervals.
 */
export class WidgetSocketServer {
  private readonly list: (Entry | undefined)[] = [];
  private live = 0;
  private timer?: ReturnType<typeof setInterval>;
  /** `start()` was called; the timer itself only runs while there are sockets. */
  private started = false;
  /** Next position of the current keep-alive round, and the ticks it has left. */
  private cursor = 0;
  private roundLeft = 0;
  /** Ticks per round (fewer for very short intervals, so a round still takes one interval). */
  private readonly slices: number;

  constructor(
    private readonly pp: PocketPing,
    private readonly options: { pingIntervalMs: number; maxBufferedBytes: number },
  ) {
    this.slices = Math.max(1, Math.floor(options.pingIntervalMs / PING_TICK_MS));
  }

  /** Number of open widget sockets. */
  get size(): number {
    return this.live;
  }

  /** Starts the keep-alive (its timer runs while at least one socket is open). */
  start(): void {
    this.started = true;
    if (this.list.length > 0) this.startTimer();
  }

  private startTimer(): void {
    if (this.timer || !this.started) return;
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
    const entry: Entry = { socket, handle, alive: true, index: this.list.length, server: this };
    this.list.push(entry);
    this.live++;
    this.startTimer();
    // Shared listeners (the socket is `this`) find their entry on the socket: no closures per
    // socket, which counts at 10,000 widgets.
    (socket as SocketWithEntry)[ENTRY] = entry;
    socket.on('pong', onPong);
    socket.on('message', onMessage);
    socket.on('close', onClose);
    socket.on('error', onError);
  }

  /** Forgets a closed socket. */
  remove(entry: Entry): void {
    if (entry.index < 0 || this.list[entry.index] !== entry) return;
    this.list[entry.index] = undefined;
    entry.index = -1;
    this.live--;
  }

  /** Drops the holes closed sockets left (between rounds, so nothing moves during one). */
  private compact(): void {
    let w = 0;
    for (let r = 0; r < this.list.length; r++) {
      const entry = this.list[r];
      if (!entry) continue;
      entry.index = w;
      this.list[w++] = entry;
    }
    this.list.length = w;
  }

  /** One slice of the keep-alive round (10 ms worth of it); each socket is pinged once a round. */
  private tick(): void {
    if (this.roundLeft <= 0) {
      this.compact();
      this.cursor = 0;
      this.roundLeft = this.slices;
      if (this.list.length === 0) {
        // Nobody to ping: no wake-ups until the next socket arrives.
        clearInterval(this.timer);
        this.timer = undefined;
        this.roundLeft = 0;
        return;
      }
    }
    let budget = Math.ceil(Math.max(0, this.list.length - this.cursor) / this.roundLeft);
    this.roundLeft--;
    while (budget-- > 0 && this.cursor < this.list.length) {
      const entry = this.list[this.cursor++];
      if (!entry) continue;
      if (!entry.alive) {
        entry.socket.terminate();
        continue;
      }
      entry.alive = false;
      try {
        entry.handle.ping();
      } catch {
        entry.socket.terminate();
      }
    }
  }

  /** Closes every socket with "service restart" (the widget reconnects) and stops pinging. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.started = false;
    for (const entry of [...this.list]) entry?.socket.close(CLOSE_RESTART, 'server restarting');
  }
}
