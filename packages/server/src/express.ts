import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { type PocketPing, ProtocolHttpHandler, ValidationError } from '@pocketping/core';
import { WebSocketServer } from 'ws';
import { z } from 'zod';
import { DiskAttachmentStore } from './disk-attachment-store.js';
import { WidgetSocketServer } from './realtime.js';
import { writeNodeResponse } from './write-response.js';

const ExpressSettingsSchema = z.object({
  /** Allowed widget origins; `*` allows all. @default ['*'] */
  corsOrigins: z.array(z.string().min(1)).default(['*']),
  /** Bearer key of the admin API. */
  apiKey: z.string().min(16, 'apiKey must be at least 16 characters').optional(),
  /** Largest JSON body in bytes. @default 65536 */
  bodyLimit: z
    .number()
    .int()
    .positive()
    .default(64 * 1024),
  /** Where uploads go when PocketPing has no attachment store. @default './data/uploads' */
  uploadDir: z.string().default('./data/uploads'),
  /** Trust `X-Forwarded-Proto`/`-Host` when building absolute URLs (behind a proxy). @default false */
  trustProxy: z.boolean().default(false),
  websocket: z
    .object({
      pingIntervalMs: z.number().int().positive().default(25_000),
      maxPayload: z
        .number()
        .int()
        .positive()
        .default(64 * 1024),
      maxBufferedBytes: z
        .number()
        .int()
        .positive()
        .default(4 * 1024 * 1024),
    })
    .default({ pingIntervalMs: 25_000, maxPayload: 64 * 1024, maxBufferedBytes: 4 * 1024 * 1024 }),
  sse: z.object({ keepAliveMs: z.number().int().positive().default(20_000) }).default({ keepAliveMs: 20_000 }),
});

/** Options of `pocketpingExpress`. */
export type ExpressAdapterOptions = z.input<typeof ExpressSettingsSchema>;

/** The request fields Express (4 and 5) adds to Node's IncomingMessage that the adapter reads. */
interface ExpressLikeRequest extends IncomingMessage {
  baseUrl?: string;
  originalUrl?: string;
  body?: unknown;
  ip?: string;
}

/** An Express middleware that serves PocketPing, plus the hook that adds WebSockets. */
export interface ExpressAdapter {
  (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void;
  /**
   * Serves `/stream` WebSockets on the app's HTTP server (call once with the value of
   * `app.listen()` or your `http.createServer(app)`). Returns a function that detaches.
   */
  attachRealtime(server: Server): () => void;
  /** Closes widget sockets and SSE streams (call on shutdown before `server.close()`). */
  close(): void;
}

async function readBody(req: ExpressLikeRequest, limit: number): Promise<Uint8Array | 'too-large' | undefined> {
  if (req.body !== undefined && (req as { readableEnded?: boolean }).readableEnded) {
    // A body parser ran before us: use what it produced (webhook signatures need the raw bytes,
    // so mount PocketPing before express.json() for bridges that verify them).
    const b = req.body;
    if (Buffer.isBuffer(b)) return b;
    if (typeof b === 'string') return Buffer.from(b);
    if (b && typeof b === 'object' && Object.keys(b).length > 0) return Buffer.from(JSON.stringify(b));
    return undefined;
  }
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) return 'too-large';
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).byteLength;
    if (total > limit) return 'too-large';
    chunks.push(chunk as Buffer);
  }
  return total > 0 ? Buffer.concat(chunks) : undefined;
}

/**
 * PocketPing for Express 4 and 5: `app.use('/pocketping', pocketpingExpress(pp))` mounts the same
 * endpoints with the same behaviour as the Fastify plugin (one shared pipeline), SSE and polling
 * included; `attachRealtime(server)` adds the WebSocket on the same HTTP server.
 *
 * @example
 * ```ts
 * const pocketping = pocketpingExpress(pp, { corsOrigins: ['https://www.example.com'] });
 * app.use('/pocketping', pocketping);
 * const server = app.listen(3000);
 * pocketping.attachRealtime(server);
 * ```
 */
export function pocketpingExpress(pp: PocketPing, options: ExpressAdapterOptions = {}): ExpressAdapter {
  const parsed = ExpressSettingsSchema.safeParse(options);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ');
    throw new ValidationError(`Invalid pocketpingExpress options: ${detail}`, { code: 'CONFIG_INVALID' });
  }
  const settings = parsed.data;
  if (!pp.attachmentStore) pp.setAttachmentStore(new DiskAttachmentStore({ dir: settings.uploadDir }));
  const http = new ProtocolHttpHandler(pp, {
    corsOrigins: settings.corsOrigins,
    bodyLimit: settings.bodyLimit,
    ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
  });
  const sockets = new WidgetSocketServer(pp, settings.websocket);
  let mountPath = '';

  const middleware = ((req: ExpressLikeRequest, res: ServerResponse, next?: (err?: unknown) => void) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://placeholder');
      const path = url.pathname || '/';
      mountPath = req.baseUrl ?? mountPath;
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
      const method = (req.method ?? 'GET').toUpperCase();
      const limit = http.bodyLimitFor(method, path);
      const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req, limit);
      if (body === 'too-large') {
        await writeNodeResponse(pp, req, res, http.tooLarge({ headers }), settings.sse.keepAliveMs);
        return;
      }
      const proto = settings.trustProxy
        ? (headers['x-forwarded-proto']?.split(',')[0]?.trim() ?? 'http')
        : (req.socket as { encrypted?: boolean }).encrypted
          ? 'https'
          : 'http';
      const host = (settings.trustProxy ? headers['x-forwarded-host'] : undefined) ?? headers.host ?? 'localhost';
      const query: Record<string, string> = {};
      url.searchParams.forEach((value, key) => {
        query[key] = value;
      });
      const ip = req.ip ?? req.socket.remoteAddress;
      const answer = await http.handle({
        method,
        path,
        query,
        headers,
        ...(body ? { body } : {}),
        ...(ip ? { ip } : {}),
        baseUrl: `${proto}://${host}${req.baseUrl ?? ''}`,
      });
      await writeNodeResponse(pp, req, res, answer, settings.sse.keepAliveMs);
    })().catch((err) => {
      if (next) next(err);
      else if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'INTERNAL', message: 'Something went wrong on the server' }));
      }
    });
  }) as ExpressAdapter;

  middleware.attachRealtime = (server: Server) => {
    const wss = new WebSocketServer({ noServer: true, maxPayload: settings.websocket.maxPayload });
    sockets.start();
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://placeholder');
      // Other upgrade handlers on the same server keep their requests.
      if (!url.pathname.endsWith('/stream') || (mountPath && url.pathname !== `${mountPath}/stream`)) return;
      const ua = req.headers['user-agent'];
      const ip = req.socket.remoteAddress;
      wss.handleUpgrade(req, socket, head, (ws) =>
        sockets.accept(ws, url.searchParams.get('sessionId') ?? undefined, {
          ...(ip ? { ip } : {}),
          ...(ua ? { userAgent: ua } : {}),
        }),
      );
    };
    server.on('upgrade', onUpgrade);
    return () => {
      server.off('upgrade', onUpgrade);
      wss.close();
    };
  };

  middleware.close = () => {
    sockets.close();
    pp.closeStreams();
  };
  return middleware;
}
