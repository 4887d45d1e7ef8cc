import { randomBytes } from 'node:crypto';
import { PocketPing, type PocketPingOptions } from '@pocketping/core';
import { pocketpingPlugin } from '@pocketping/server';
import Fastify, { type FastifyInstance } from 'fastify';

/** Options of this example's `createApp` and `start`. */
export interface ExampleOptions {
  /** PocketPing options (storage, bridges, hooks, welcome message, ...). @default a welcome message and MemoryStorage */
  pocketping?: PocketPingOptions;
  /** Bearer key of the admin API (16+ characters). @default a random key for this run */
  apiKey?: string;
  /** Widget origins allowed by CORS. @default ['*'] */
  corsOrigins?: string[];
  /** Where uploaded files go. @default './data/uploads' */
  uploadDir?: string;
  /** Fastify's request log. @default true */
  logger?: boolean;
}

/** The example app, built but not listening. */
export interface ExampleApp {
  app: FastifyInstance;
  pocketping: PocketPing;
  /** The admin API key in use. */
  apiKey: string;
}

/**
 * Builds a Fastify app with PocketPing mounted at `/pocketping`, next to the app's own routes.
 *
 * @example
 * ```ts
 * const { app } = await createApp();
 * await app.listen({ port: 3000 });
 * ```
 */
export async function createApp(options: ExampleOptions = {}): Promise<ExampleApp> {
  const pocketping = new PocketPing({ welcomeMessage: 'Hi! Ask us anything.', ...options.pocketping });
  await pocketping.init();
  const apiKey = options.apiKey ?? randomBytes(24).toString('base64url');

  const app = Fastify({ logger: options.logger ?? true, forceCloseConnections: true });
  // Your own routes live beside PocketPing's; the plugin only owns its prefix.
  app.get('/', async () => ({ ok: true, widgetEndpoint: '/pocketping' }));
  await app.register(pocketpingPlugin, {
    pocketping,
    prefix: '/pocketping',
    cors: { origins: options.corsOrigins ?? ['*'] },
    apiKey,
    ...(options.uploadDir ? { uploadDir: options.uploadDir } : {}),
  });
  // The plugin closes widget sockets and SSE streams on app.close(); PocketPing itself is ours to close.
  app.addHook('onClose', async () => {
    await pocketping.close();
  });
  return { app, pocketping, apiKey };
}

/** A running example server. */
export interface RunningExample extends ExampleApp {
  /** Base URL of the server, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** Stops the server: widget sockets, streams, PocketPing. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Builds the app and starts listening.
 *
 * @example
 * ```ts
 * const server = await start({ port: 3000, host: '127.0.0.1' });
 * console.log(`${server.url}/pocketping`);
 * ```
 */
export async function start(options: ExampleOptions & { port?: number; host?: string } = {}): Promise<RunningExample> {
  const built = await createApp(options);
  const url = await built.app.listen({ port: options.port ?? 3000, host: options.host ?? '127.0.0.1' });
  let closing: Promise<void> | undefined;
  return {
    ...built,
    url,
    close: () => {
      closing ??= built.app.close();
      return closing;
    },
  };
}
