import type { OutgoingFrame, PocketPing } from '@pocketping/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { PluginSettings } from './options.js';

interface SocketState {
  alive: boolean;
}

/** Close code sent to widgets on shutdown: "service restart", the widget reconnects. */
export const CLOSE_RESTART = 1012;
/** Close code for a missing or unknown session id. */
export const CLOSE_UNKNOWN_SESSION = 4004;

/**
 * The realtime transports of one mounted plugin: WebSocket and Server-Sent Events on the same
 * `/stream` path. Keeps the open connections so they can be pinged and closed on shutdown.
 */
export class RealtimeTransports {
  private readonly sockets = new Map<WebSocket, SocketState>();
  private readonly streams = new Set<() => void>();
  private pingTimer?: ReturnType<typeof setInterval>;

  constructor(
    private readonly pp: PocketPing,
    private readonly settings: PluginSettings,
  ) {}

  /** Number of open WebSockets and SSE streams. */
  get openConnections(): { websockets: number; sse: number } {
    return { websockets: this.sockets.size, sse: this.streams.size };
  }

  start(): void {
    // One timer for all sockets: a timer per socket would cost memory at 10,000 widgets.
    this.pingTimer = setInterval(() => this.pingAll(), this.settings.websocket.pingIntervalMs);
    this.pingTimer.unref();
  }

  /** Closes every connection (shutdown): sockets with a reconnectable code, streams ended. */
  closeAll(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const socket of this.sockets.keys()) socket.close(CLOSE_RESTART, 'server restarting');
    for (const end of [...this.streams]) end();
  }

  private pingAll(): void {
    for (const [socket, state] of this.sockets) {
      if (!state.alive) {
        socket.terminate();
        continue;
      }
      state.alive = false;
      try {
        socket.ping();
      } catch {
        socket.terminate();
      }
    }
  }

  /** `GET /stream` with `Upgrade: websocket`. */
  handleWebSocket(socket: WebSocket, request: FastifyRequest): void {
    const query = request.query as Record<string, string | undefined>;
    const sessionId = query.sessionId;
    const state: SocketState = { alive: true };
    let unsubscribe: (() => void) | undefined;
    let ready = false;
    const pending: string[] = [];
    // Handlers are attached synchronously so no frame is lost while the session is checked.
    socket.on('pong', () => {
      state.alive = true;
    });
    socket.on('message', (data, isBinary) => {
      if (isBinary) return;
      const text = data.toString();
      if (!ready) {
        if (pending.length < 20) pending.push(text);
        return;
      }
      this.onClientFrame(sessionId!, text, request);
    });
    socket.on('close', () => {
      unsubscribe?.();
      this.sockets.delete(socket);
    });
    socket.on('error', () => {
      // ws emits 'close' after 'error'; cleanup happens there.
    });
    if (!sessionId) {
      socket.close(CLOSE_UNKNOWN_SESSION, 'sessionId required');
      return;
    }
    void this.pp
      .sessionExists(sessionId)
      .then(async (exists) => {
        if (!exists) {
          socket.close(CLOSE_UNKNOWN_SESSION, 'unknown session');
          return;
        }
        if (socket.readyState !== socket.OPEN) return;
        this.sockets.set(socket, state);
        const limit = this.settings.websocket.maxBufferedBytes;
        unsubscribe = this.pp.subscribe(sessionId, (frame: OutgoingFrame) => {
          if (socket.readyState !== socket.OPEN) return;
          if (socket.bufferedAmount > limit) {
            socket.close(1013, 'too slow');
            return;
          }
          socket.send(frame.json);
        });
        for (const frame of await this.pp.streamReplay(sessionId)) {
          if (socket.readyState === socket.OPEN) socket.send(frame.json);
        }
        ready = true;
        for (const text of pending.splice(0)) this.onClientFrame(sessionId, text, request);
      })
      .catch((err) => {
        request.log.warn({ err }, 'websocket setup failed');
        socket.close(1011, 'server error');
      });
  }

  private onClientFrame(sessionId: string, text: string, request: FastifyRequest): void {
    this.pp.handleClientFrame(sessionId, text).catch((err) => {
      request.log.debug({ err }, 'widget frame rejected');
    });
  }

  /** `GET /stream` without upgrade: Server-Sent Events, envelopes on the default event. */
  async handleSse(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const query = request.query as Record<string, string | undefined>;
    const sessionId = query.sessionId;
    if (!sessionId || !(await this.pp.sessionExists(sessionId))) {
      void reply.code(404).send({
        error: 'SESSION_NOT_FOUND',
        message: sessionId ? 'unknown sessionId; call POST /connect first' : 'sessionId query parameter is required',
      });
      return;
    }
    let after: Date | undefined;
    if (query.after) {
      const t = Date.parse(query.after);
      if (Number.isNaN(t)) {
        void reply.code(400).send({ error: 'VALIDATION_FAILED', message: 'after must be an ISO-8601 timestamp' });
        return;
      }
      after = new Date(t);
    }
    reply.hijack();
    const raw = reply.raw;
    const headers: Record<string, string | number | string[]> = {};
    for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) headers[k] = v as string;
    raw.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    raw.flushHeaders();
    // A first comment flushes the headers through proxies right away.
    raw.write(': connected\n\n');
    const send = (frame: OutgoingFrame) => {
      raw.write(`data: ${frame.json}\n\n`);
    };
    const unsubscribe = this.pp.subscribe(sessionId, send);
    const keepAlive = setInterval(() => raw.write(': ping\n\n'), this.settings.sse.keepAliveMs);
    keepAlive.unref();
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(keepAlive);
      unsubscribe();
      this.streams.delete(end);
      if (!raw.writableEnded) raw.end();
    };
    this.streams.add(end);
    request.raw.on('close', end);
    raw.on('error', end);
    try {
      for (const frame of await this.pp.streamReplay(sessionId, after ? { after } : {})) send(frame);
    } catch (err) {
      request.log.warn({ err }, 'SSE replay failed');
    }
  }

  /** Registers the `/stream` route (WebSocket and SSE on one path). */
  register(scope: FastifyInstance): void {
    scope.route({
      method: 'GET',
      url: '/stream',
      handler: (request, reply) => this.handleSse(request, reply),
      wsHandler: (socket, request) => this.handleWebSocket(socket as unknown as WebSocket, request),
    });
  }
}
