import { Readable } from 'node:stream';
import cors from '@fastify/cors';
import websocket from '@fastify/websocket';
import {
  EXPOSED_HEADERS,
  PocketPingError,
  type PocketPing,
  type RequestContext,
  ValidationError,
  WIDGET_ROUTES,
  versionHeaders,
  type WidgetRoute,
} from '@pocketping/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { registerAdminRoutes } from './admin-routes.js';
import { DiskAttachmentStore } from './disk-attachment-store.js';
import { pocketpingErrorHandler } from './http-errors.js';
import { type PluginSettings, PluginSettingsSchema, type PocketPingPluginOptions } from './options.js';
import { CLOSE_RESTART, RealtimeTransports } from './realtime.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The PocketPing instance mounted by `pocketpingPlugin`. */
    pocketping: PocketPing;
  }
}

/** Parses JSON, treating an empty body as "no body": the widget sends a JSON Content-Type on GET and DELETE. */
function parseJsonBody(_req: FastifyRequest, body: string, done: (err: Error | null, value?: unknown) => void): void {
  if (body.trim() === '') {
    done(null, undefined);
    return;
  }
  try {
    // Dropping __proto__ keys keeps a crafted body from reaching an object's prototype.
    done(
      null,
      JSON.parse(body, (key, value) => (key === '__proto__' ? undefined : value)),
    );
  } catch (err) {
    done(
      new ValidationError(`the body is not valid JSON: ${(err as Error).message}`, { code: 'REQUEST_INVALID_JSON' }),
    );
  }
}

function baseUrlOf(request: FastifyRequest, prefix: string, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  return `${request.protocol}://${request.host}${prefix === '/' ? '' : prefix}`;
}

function contextOf(request: FastifyRequest, prefix: string, publicUrl: string | undefined): RequestContext {
  const ctx: RequestContext = { baseUrl: baseUrlOf(request, prefix, publicUrl), ip: request.ip };
  const ua = request.headers['user-agent'];
  if (ua) ctx.userAgent = ua;
  const version = request.headers['x-pocketping-version'];
  if (typeof version === 'string') ctx.widgetVersion = version;
  return ctx;
}

function inlineSafe(mimeType: string): boolean {
  // SVG and HTML can run script in the server's origin; they are always downloaded, never shown.
  const t = mimeType.toLowerCase();
  if (t === 'image/svg+xml') return false;
  return t.startsWith('image/') || t.startsWith('audio/') || t.startsWith('video/') || t === 'application/pdf';
}

async function routesPlugin(
  scope: FastifyInstance,
  opts: { pp: PocketPing; settings: PluginSettings; transports: RealtimeTransports },
): Promise<void> {
  const { pp, settings, transports } = opts;
  const prefix = settings.prefix.replace(/\/+$/, '') || '/';
  const publicUrl = pp.settings.publicUrl;
  const allowAll = settings.cors.origins.includes('*');
  const allowed = new Set(settings.cors.origins.map((o) => o.replace(/\/+$/, '')));

  await scope.register(cors, {
    // The origin is always echoed (never `*`) with credentials allowed: sendBeacon calls are
    // credentialed CORS requests and are dropped silently otherwise (PROTOCOL.md §1.4).
    origin: (origin, cb) => {
      if (!origin) return cb(null, true);
      cb(null, allowAll || allowed.has(origin));
    },
    credentials: true,
    methods: ['GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS'],
    allowedHeaders: ['Content-Type', 'X-PocketPing-Version', 'Authorization'],
    exposedHeaders: [...EXPOSED_HEADERS],
    maxAge: 86_400,
    strictPreflight: false,
  });

  scope.removeContentTypeParser(['application/json', 'text/plain']);
  scope.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'string', bodyLimit: settings.bodyLimit }, parseJsonBody);
  scope.setErrorHandler(pocketpingErrorHandler);
  scope.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: 'NOT_FOUND', message: `no PocketPing route ${request.method} ${request.url.split('?')[0]}` });
  });

  // Version policy: unsupported widgets are refused with 426; warnings only on /connect, so
  // the console is not flooded on every keystroke and poll (PROTOCOL.md §1.5).
  const versionHook = (isConnect: boolean) => async (request: FastifyRequest, reply: FastifyReply) => {
    const version = request.headers['x-pocketping-version'];
    const result = pp.checkWidgetVersion(typeof version === 'string' ? version : undefined);
    if (result.status === 'ok') return;
    if (result.status === 'unsupported') {
      void reply
        .headers(versionHeaders(result))
        .code(426)
        .send({ error: 'WIDGET_VERSION_UNSUPPORTED', message: result.message, minVersion: result.minVersion });
      return reply;
    }
    if (isConnect) void reply.headers(versionHeaders(result));
  };

  for (const route of WIDGET_ROUTES) registerWidgetRoute(scope, pp, route, prefix, publicUrl, versionHook);

  transports.register(scope);

  scope.get('/healthz', async () => ({ ok: true }));
  scope.get('/readyz', async (_request, reply) => {
    const ready = await pp.isReady();
    return reply.code(ready ? 200 : 503).send({ ok: ready, storage: ready ? 'ok' : 'unreachable' });
  });

  // Raw uploads: the widget PUTs the file with its own Content-Type.
  await scope.register(async (uploads) => {
    uploads.removeAllContentTypeParsers();
    uploads.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: pp.settings.maxAttachmentSize + 1024 }, (_r, body, done) =>
      done(null, body),
    );
    uploads.put<{ Params: { attachmentId: string } }>('/upload/:attachmentId', async (request) => {
      const body = request.body;
      const data = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
      if (data.byteLength === 0) throw new ValidationError('the upload body is empty: PUT the file bytes');
      return pp.handleUploadData(request.params.attachmentId, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    });
  });

  scope.get<{ Params: { attachmentId: string; filename: string } }>('/files/:attachmentId/:filename', async (request, reply) => {
    const file = await pp.readAttachment(request.params.attachmentId);
    if (!file) throw new PocketPingError('ATTACHMENT_NOT_FOUND', 'no such file');
    const { attachment } = file;
    const inline = inlineSafe(attachment.mimeType);
    void reply
      .header('content-type', inline ? attachment.mimeType : 'application/octet-stream')
      .header('content-length', String(file.size))
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('cache-control', 'private, max-age=86400')
      .header(
        'content-disposition',
        `${inline ? 'inline' : 'attachment'}; filename*=UTF-8''${encodeURIComponent(attachment.filename)}`,
      );
    const data = file.data;
    return reply.send(data instanceof Uint8Array ? Buffer.from(data) : Readable.from(data));
  });

  await scope.register(
    async (admin) => {
      registerAdminRoutes(admin, pp, settings.apiKey);
    },
    { prefix: '/admin' },
  );

  await scope.register(
    async (hooks) => {
      hooks.removeAllContentTypeParsers();
      hooks.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (request, body, done) => {
        const raw = typeof body === 'string' ? body : String(body);
        const type = String(request.headers['content-type'] ?? '');
        let parsed: unknown;
        try {
          if (type.includes('application/x-www-form-urlencoded')) parsed = Object.fromEntries(new URLSearchParams(raw));
          else if (raw.trim() !== '') parsed = JSON.parse(raw);
        } catch {
          parsed = undefined;
        }
        done(null, { raw, parsed });
      });
      hooks.post<{ Params: { path: string } }>('/:path', async (request, reply) => {
        const bridge = pp.bridges.find((b) => b.webhook?.path === request.params.path);
        if (!bridge?.webhook) throw new PocketPingError('NOT_FOUND', `no bridge receives webhooks at ${request.params.path}`);
        const body = (request.body ?? { raw: '', parsed: undefined }) as { raw: string; parsed: unknown };
        const headers: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(request.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
        const result = await bridge.webhook.handle({
          method: request.method,
          headers,
          rawBody: body.raw,
          body: body.parsed,
          query: request.query as Record<string, string | undefined>,
        });
        if (result.headers) void reply.headers(result.headers);
        return reply.code(result.status).send(result.body ?? { ok: result.status < 300 });
      });
    },
    { prefix: '/webhooks' },
  );
}

function registerWidgetRoute(
  scope: FastifyInstance,
  pp: PocketPing,
  route: WidgetRoute,
  prefix: string,
  publicUrl: string | undefined,
  versionHook: (isConnect: boolean) => (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
): void {
  scope.route({
    method: route.method,
    url: route.path,
    ...(route.versionChecked ? { onRequest: versionHook(route.path === '/connect') } : {}),
    handler: async (request) => {
      return route.handle(pp, {
        params: (request.params ?? {}) as Record<string, string>,
        query: (request.query ?? {}) as Record<string, unknown>,
        body: request.body,
        ctx: contextOf(request, prefix, publicUrl),
      });
    },
  });
}

async function pocketpingPluginImpl(app: FastifyInstance, options: PocketPingPluginOptions): Promise<void> {
  const { pocketping, attachmentStore, ...rest } = options;
  if (!pocketping) throw new ValidationError('pocketpingPlugin needs { pocketping }: a PocketPing instance', { code: 'CONFIG_INVALID' });
  const parsed = PluginSettingsSchema.safeParse(rest);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ');
    throw new ValidationError(`Invalid pocketpingPlugin options: ${detail}`, { code: 'CONFIG_INVALID' });
  }
  const settings = parsed.data;
  if (attachmentStore) pocketping.setAttachmentStore(attachmentStore);
  else if (!pocketping.attachmentStore) pocketping.setAttachmentStore(new DiskAttachmentStore({ dir: settings.uploadDir }));

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
  const transports = new RealtimeTransports(pocketping, settings);
  transports.start();
  app.addHook('preClose', async () => {
    transports.closeAll();
  });
  const prefix = settings.prefix.replace(/\/+$/, '');
  await app.register(routesPlugin, { prefix, pp: pocketping, settings, transports });
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
