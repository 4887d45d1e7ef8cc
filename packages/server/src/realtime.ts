import { attachWidgetSocket, CLOSE_RESTART, type PocketPing, type WidgetSocketHandle } from '@pocketping/core';
import type { WebSocket } from 'ws';

/** Close code for a client refused by the IP or User-Agent filters. */
export const CLOSE_FORBIDDEN = 4003;

/**
 * The WebSockets of one mounted PocketPing: attaches each to its session, pings them all from
 * one timer (a timer per socket would cost memory at 10,000 widgets), drops the dead ones, and
 * closes them with a reconnectable code on shutdown. Shared by the Fastify plugin and the
 * Express adapter.
 */
export class WidgetSocketServer {
  private readonly alive = new Map<WebSocket, boolean>();
  private readonly handles = new Map<WebSocket, WidgetSocketHandle>();
  private timer?: ReturnType<typeof setInterval>;

  constructor(
    private readonly pp: PocketPing,
    private readonly options: { pingIntervalMs: number; maxBufferedBytes: number },
  ) {}

  /** Number of open widget sockets. */
  get size(): number {
    return this.alive.size;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.pingAll(), this.options.pingIntervalMs);
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
    this.alive.set(socket, true);
    this.handles.set(socket, handle);
    socket.on('pong', () => {
      if (this.alive.has(socket)) this.alive.set(socket, true);
      handle.onPong();
    });
    socket.on('message', (data, isBinary) => {
      if (!isBinary) handle.onText(data.toString());
    });
    socket.on('close', () => {
      this.alive.delete(socket);
      this.handles.delete(socket);
      handle.onClose();
    });
    socket.on('error', () => {
      // 'close' follows 'error'; cleanup happens there.
    });
  }

  private pingAll(): void {
    for (const [socket, alive] of this.alive) {
      if (!alive) {
        socket.terminate();
        continue;
      }
      this.alive.set(socket, false);
      try {
        const handle = this.handles.get(socket);
        if (handle) handle.ping();
        else socket.ping();
      } catch {
        socket.terminate();
      }
    }
  }

  /** Closes every socket with "service restart" (the widget reconnects) and stops pinging. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const socket of this.alive.keys()) socket.close(CLOSE_RESTART, 'server restarting');
  }
}
