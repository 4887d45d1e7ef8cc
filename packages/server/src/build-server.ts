import { randomBytes } from 'node:crypto';
import { PocketPing, type Logger } from '@pocketping/core';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ServerConfig } from './config.js';
import { demoPageHtml } from './demo-page.js';
import { DiskAttachmentStore } from './disk-attachment-store.js';
import { inboxPageHtml } from './inbox-page.js';
import { loadBridges, loadStorage } from './load-adapters.js';
import { pocketpingPlugin } from './plugin.js';

/** What `buildServer` returns: an app that is ready but not listening. */
export interface BuiltServer {
  app: FastifyInstance;
  pocketping: PocketPing;
  config: ServerConfig;
  /** The admin API key in use (configured, or generated when none was). */
  apiKey: string;
  /** True when the key was generated for this run (print it for the operator). */
  apiKeyGenerated: boolean;
}

/** Options of `buildServer` besides the config. */
export interface BuildServerOptions {
  /** A pino logger config or `false`; defaults to pino at `server.logLevel` with secrets redacted. */
  logger?: boolean | Record<string, unknown>;
}

/** Header and option names whose values never reach the logs. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-telegram-bot-api-secret-token"]',
  'req.headers["x-slack-signature"]',
  'req.headers.cookie',
  '*.token',
  '*.botToken',
  '*.apiKey',
  '*.signingSecret',
  '*.webhookSecret',
];

/**
 * Builds the whole `pocketping-server` from a validated config: storage, bridges, PocketPing,
 * the plugin at `server.prefix`, the demo pages and health checks. Does not listen; the CLI
 * does. Throws `SetupError` (with `formattedGuide()`) when a bridge or storage is misconfigured.
 *
 * @example
 * ```ts
 * const { app } = await buildServer(parseConfig({ storage: { type: 'memory' } }));
 * await app.listen({ port: 3000 });
 * ```
 */
export async function buildServer(config: ServerConfig, options: BuildServerOptions = {}): Promise<BuiltServer> {
  const { server, widget, uploads } = config;
  const app: FastifyInstance = Fastify({
    logger: options.logger ?? { level: server.logLevel, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } },
    trustProxy: server.trustProxy as boolean | string,
    forceCloseConnections: true,
    return503OnClosing: true,
  });
  const logger = app.log as unknown as Logger;
  const prefix = server.prefix === '/' ? '' : server.prefix.replace(/\/+$/, '');
  const publicUrl = server.publicUrl ? `${server.publicUrl.replace(/\/+$/, '')}${prefix}` : undefined;
  const env = { prefix: prefix || '/', logger, ...(publicUrl ? { publicUrl } : {}) };

  const { storage, eventBus } = await loadStorage(config.storage as { type: string } & Record<string, unknown>, env);
  const bridges = await loadBridges(config.bridges as ({ type: string } & Record<string, unknown>)[], env);
  const {
    operatorName,
    operatorAvatar,
    primaryColor,
    headerColor,
    toggleColor,
    footerColor,
    chatBackground,
    ...widgetRest
  } = widget;
  const branding = Object.fromEntries(
    Object.entries({
      operatorName,
      operatorAvatar,
      primaryColor,
      headerColor,
      toggleColor,
      footerColor,
      chatBackground,
    }).filter(([, v]) => v !== undefined),
  );
  const pocketping = new PocketPing({
    storage,
    bridges,
    ...(eventBus ? { eventBus } : {}),
    logger,
    attachmentStore: new DiskAttachmentStore({ dir: uploads.dir }),
    maxAttachmentSize: uploads.maxSize,
    ...(uploads.allowedMimeTypes ? { allowedMimeTypes: uploads.allowedMimeTypes } : {}),
    ...(publicUrl ? { publicUrl } : {}),
    branding,
    ...widgetRest,
    webhooks: config.webhooks,
    security: config.security,
    ...(config.retention.days ? { retentionDays: config.retention.days } : {}),
  });

  const apiKeyGenerated = !server.apiKey;
  const apiKey = server.apiKey ?? randomBytes(24).toString('base64url');

  try {
    await pocketping.init();
  } catch (err) {
    await pocketping.close().catch(() => {});
    throw err;
  }

  await app.register(pocketpingPlugin, {
    pocketping,
    prefix: prefix || '/',
    cors: { origins: server.cors.origins },
    apiKey,
    uploadDir: uploads.dir,
    ...(server.websocket.pingIntervalMs || server.websocket.maxPayload
      ? {
          websocket: {
            ...(server.websocket.pingIntervalMs ? { pingIntervalMs: server.websocket.pingIntervalMs } : {}),
            ...(server.websocket.maxPayload ? { maxPayload: server.websocket.maxPayload } : {}),
          },
        }
      : {}),
  });

  if (prefix !== '') {
    app.get('/healthz', async () => ({ ok: true }));
    app.get('/readyz', async (_request, reply) => {
      const ready = await pocketping.isReady();
      return reply.code(ready ? 200 : 503).send({ ok: ready });
    });
  }
  if (server.demo) {
    const demo = demoPageHtml(prefix || '/');
    const inbox = inboxPageHtml(prefix || '/');
    app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(demo));
    app.get('/inbox', async (_request, reply) => reply.type('text/html; charset=utf-8').send(inbox));
  }
  app.addHook('onClose', async () => {
    // Give queued bridge deliveries a moment to go out before the process stops.
    await Promise.race([pocketping.flushDeliveries(), new Promise((r) => setTimeout(r, 5000).unref())]);
    await pocketping.close();
  });
  return { app, pocketping, config, apiKey, apiKeyGenerated };
}
