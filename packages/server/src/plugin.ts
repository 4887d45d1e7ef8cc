import websocket from '@fastify/websocket';
import {
  CLOSE_RESTART,
  type PocketPing,
  ProtocolHttpHandler,
  type ProtocolHttpResponse,
  ValidationError,
} from '@pocketping/core';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { WebSocket } from 'ws';
import { DiskAttachmentStore } from './disk-attachment-store.js';
import { type PluginSettings, PluginSettingsSchema, type PocketPingPluginOptions } from './options.js';
import { WidgetSocketServer } from './realtime.js';
import { writeNodeResponse } from './write-response.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The PocketPing instance mounted by `pocketpingPlugin`. */
    pocketping: PocketPing;
  }
}

const UPPER_CASE = /[A-Z]/;

function headersOf(request: FastifyRequest): Record<string, string | undefined> {
  const raw = request.headers;
  // Node already gives lower-case names and single strings, so the common case is handed over
  // as is; headers added by hooks (any case) or repeated ones (arrays) are normalised in a copy.
  for (const k in raw) {
    if (typeof raw[k] !== 'string' || UPPER_CASE.test(k)) {
      const out: Record<string, string | undefined> = {};
      for (const [name, v] of Object.entries(raw)) out[name.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
      return out;
    }
  }
  return raw as Record<string, string | undefined>;
}

async function routesPlugin(
  scope: FastifyInstance,
  opts: {
    pp: PocketPing;
    settings: PluginSettings;
    http: ProtocolHttpHandler;
    sockets: WidgetSocketServer;
    prefix: string;
  },
): Promise<void> {
  const { pp, settings, http, sockets, prefix } = opts;

  // One pipeline for every adapter: Fastify only hands over the raw body and writes the answer.
  scope.removeAllContentTypeParsers();
  const rawBody = (_request: FastifyRequest, body: Buffer, done: (err: null, body: Buffer) => void) => done(null, body);
  scope.addContentTypeParser('*', { parseAs: 'buffer' }, rawBody);
  // The same parser under the widget's own content type: Fastify caches that lookup, while the
  // catch-all alone re-parses the Content-Type header on every request.
  scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, rawBody);

  // Not async: JSON answers (nearly all) go out without an extra promise.
  const send = (request: FastifyRequest, reply: FastifyReply, answer: ProtocolHttpResponse) => {
    if (answer.kind === 'json') return reply.code(answer.status).headers(answer.headers).send(answer.body);
    if (answer.kind === 'empty') return reply.code(answer.status).headers(answer.headers).send();
    // SSE and file bytes are written to the Node response directly.
    reply.hijack();
    return writeNodeResponse(pp, request.raw, reply.raw, answer, settings.sse.keepAliveMs);
  };

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const url = request.url;
    const q = url.indexOf('?');
    const fullPath = q >= 0 ? url.slice(0, q) : url;
    const path = fullPath.slice(prefix.length) || '/';
    const body = request.body;
    const answer = await http.handle({
      method: request.method,
      path,
      query: request.query as Record<string, string | undefined>,
      headers: headersOf(request),
      ...(Buffer.isBuffer(body) && body.byteLength > 0
        ? { body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) }
        : {}),
      ip: request.ip,
      baseUrl: `${request.protocol}://${request.host}${prefix}`,
    });
    return send(request, reply, answer);
  };

  scope.setErrorHandler(async (err: FastifyError, request, reply) => {
    // Only framework errors reach here (the pipeline never throws): a body over the limit, a
    // malformed Content-Length. They get the same JSON and CORS headers as everything else.
    const headers = headersOf(request);
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return send(request, reply, http.tooLarge({ headers }));
    const status =
      typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    const answer = status < 500 ? http.error(new ValidationError(err.message)) : http.error(err);
    if (answer.kind === 'json') answer.status = status;
    return send(request, reply, {
      ...answer,
      headers: { ...answer.headers, ...http.corsHeaders(headers.origin) },
    } as ProtocolHttpResponse);
  });

  const methods = ['GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS', 'HEAD'] as const;
  scope.route({ method: [...methods], url: '/*', bodyLimit: settings.bodyLimit, handler });
  scope.route({ method: [...methods], url: '/', bodyLimit: settings.bodyLimit, handler });
  scope.route({
    method: 'PUT',
    url: '/upload/:attachmentId',
    bodyLimit: pp.settings.maxAttachmentSize + 1024,
    handler,
  });
  scope.route({ method: 'POST', url: '/webhooks/:bridge', bodyLimit: http.options.webhookBodyLimit, handler });
  scope.route({
    method: 'GET',
    url: '/stream',
    handler,
    wsHandler: (socket, request) => {
      const ua = request.headers['user-agent'];
      sockets.accept(socket as unknown as WebSocket, (request.query as Record<string, string | undefined>).sessionId, {
        ip: request.ip,
        ...(ua ? { userAgent: ua } : {}),
      });
    },
  });
}

async function pocketpingPluginImpl(app: FastifyInstance, options: PocketPingPluginOptions): Promise<void> {
  const { pocketping, attachmentStore, ...rest } = options;
  if (!pocketping) {
    throw new ValidationError('pocketpingPlugin needs { pocketping }: a PocketPing instance', {
      code: 'CONFIG_INVALID',
    });
  }
  const parsed = PluginSettingsSchema.safeParse(rest);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ');
    throw new ValidationError(`Invalid pocketpingPlugin options: ${detail}`, { code: 'CONFIG_INVALID' });
  }
  const settings = parsed.data;
  if (attachmentStore) pocketping.setAttachmentStore(attachmentStore);
  else if (!pocketping.attachmentStore)
    pocketping.setAttachmentStore(new DiskAttachmentStore({ dir: settings.uploadDir }));

  if (!app.hasDecorator('websocketServer')) {
    await app.register(websocket, {
      options: { maxPayload: settings.websocket.maxPayload },
      // Close with "service restart" so widgets reconnect instead of treating it as final.
      preClose(done) {
        for (const client of this.websocketServer.clients) client.close(CLOSE_RESTART, 'server restarting');
        done();
      },
    });
  }
  app.decorate('pocketping', pocketping);
  const http = new ProtocolHttpHandler(pocketping, {
    corsOrigins: settings.cors.origins,
    bodyLimit: settings.bodyLimit,
    ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
  });
  const sockets = new WidgetSocketServer(pocketping, settings.websocket);
  sockets.start();
  app.addHook('preClose', async () => {
    sockets.close();
    pocketping.closeStreams();
  });
  const prefix = settings.prefix.replace(/\/+$/, '');
  await app.register(routesPlugin, { prefix, pp: pocketping, settings, http, sockets });
}

/**
 * Mounts every widget endpoint of the PocketPing protocol (plus the admin API, bridge webhooks,
 * uploads, files and health checks) at `prefix` inside your own Fastify app.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { PocketPing } from '@pocketping/core';
 * import { pocketpingPlugin } from '@pocketping/server';
 *
 * const app = Fastify();
 * const pp = new PocketPing({ welcomeMessage: 'Hi!' });
 * await pp.init();
 * await app.register(pocketpingPlugin, { pocketping: pp, prefix: '/pocketping' });
 * await app.listen({ port: 3000 });
 * ```
 */
export const pocketpingPlugin = fp(pocketpingPluginImpl, { fastify: '5.x', name: '@pocketping/server' });
