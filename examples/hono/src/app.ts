import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { createFetchHandler, MemoryAttachmentStore, PocketPing, type PocketPingOptions } from '@pocketping/core';
import { Hono } from 'hono';

/** Options of this example's `createApp` and `start`. */
export interface ExampleOptions {
  /** PocketPing options (storage, bridges, hooks, welcome message, ...). @default a welcome message and MemoryStorage */
  pocketping?: PocketPingOptions;
  /** Bearer key of the admin API (16+ characters); without one the admin API answers 401. */
  apiKey?: string;
  /** Widget origins allowed by CORS. @default ['*'] */
  corsOrigins?: string[];
}

/** The example app, built but not listening. */
export interface ExampleApp {
  app: Hono;
  pocketping: PocketPing;
}

/**
 * Builds a Hono app with PocketPing's Web fetch handler at `/pocketping`. The same app runs on
 * any fetch-based runtime (Bun, Deno, Workers-style hosts); realtime goes through SSE and
 * polling there, since WebSocket upgrades are not part of the fetch API.
 *
 * @example
 * ```ts
 * const { app } = await createApp();
 * serve({ fetch: app.fetch, port: 3000 });
 * ```
 */
export async function createApp(options: ExampleOptions = {}): Promise<ExampleApp> {
  const pocketping = new PocketPing({
    welcomeMessage: 'Hi! Ask us anything.',
    // Fetch runtimes often have no disk; keep uploads in memory here (use an object store in production).
    attachmentStore: new MemoryAttachmentStore(),
    ...options.pocketping,
  });
  await pocketping.init();

  // The fetch handler only sees the Request; hand it the client address Node knows.
  const clientIps = new WeakMap<Request, string>();
  const handler = createFetchHandler(pocketping, {
    prefix: '/pocketping',
    corsOrigins: options.corsOrigins ?? ['*'],
    ...(options.apiKey ? { apiKey: options.apiKey } : {}),
    getClientIp: (request) => clientIps.get(request),
  });

  const app = new Hono();
  app.get('/', (c) => c.json({ ok: true, widgetEndpoint: '/pocketping' }));
  app.all('/pocketping/*', (c) => {
    const ip = getConnInfo(c).remote.address;
    if (ip) clientIps.set(c.req.raw, ip);
    return handler(c.req.raw);
  });
  return { app, pocketping };
}

/** A running example server. */
export interface RunningExample extends ExampleApp {
  /** Base URL of the server, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** Stops the server: SSE streams, connections, PocketPing. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Builds the app and serves it on Node with `@hono/node-server`.
 *
 * @example
 * ```ts
 * const server = await start({ port: 3000, host: '127.0.0.1' });
 * console.log(`${server.url}/pocketping`);
 * ```
 */
export async function start(options: ExampleOptions & { port?: number; host?: string } = {}): Promise<RunningExample> {
  const built = await createApp(options);
  const host = options.host ?? '127.0.0.1';
  let server: Server | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    // serve() creates a plain node:http server unless told otherwise.
    server = serve({ fetch: built.app.fetch, port: options.port ?? 3000, hostname: host }, (info) =>
      resolve(info.port),
    ) as Server;
    server.once('error', reject);
  });
  let closing: Promise<void> | undefined;
  const stop = async () => {
    // SSE streams never end on their own; end them so the server can close.
    built.pocketping.closeStreams();
    await new Promise<void>((resolve) => {
      server?.close(() => resolve());
      server?.closeAllConnections();
    });
    await built.pocketping.close();
  };
  return {
    ...built,
    url: `http://${host}:${port}`,
    close: () => {
      closing ??= stop();
      return closing;
    },
  };
}
