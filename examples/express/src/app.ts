import { randomBytes } from 'node:crypto';
import { createServer, type RequestListener, type Server } from 'node:http';
import { PocketPing, type PocketPingOptions } from '@pocketping/core';
import { type ExpressAdapter, pocketpingExpress } from '@pocketping/server';
import express from 'express';

/**
 * The part of an Express application this example uses. An `express()` app of Express 5 or
 * Express 4 fits.
 */
export interface ExpressLikeApp extends RequestListener {
  use(path: string, handler: ExpressAdapter): unknown;
  get(path: string, handler: (req: unknown, res: { json(body: unknown): unknown }) => void): unknown;
}

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
  /** The Express app to mount PocketPing in. @default a new Express 5 app */
  app?: ExpressLikeApp;
}

/** The example app, built but not listening. */
export interface ExampleApp {
  app: ExpressLikeApp;
  pocketping: PocketPing;
  /** The PocketPing middleware; `attachRealtime(server)` adds the WebSocket. */
  middleware: ExpressAdapter;
  /** The admin API key in use. */
  apiKey: string;
}

/**
 * Builds an Express app with PocketPing mounted at `/pocketping`, next to the app's own routes.
 *
 * @example
 * ```ts
 * const { app, middleware } = await createApp();
 * const server = app.listen(3000);
 * middleware.attachRealtime(server);
 * ```
 */
export async function createApp(options: ExampleOptions = {}): Promise<ExampleApp> {
  const pocketping = new PocketPing({ welcomeMessage: 'Hi! Ask us anything.', ...options.pocketping });
  await pocketping.init();
  const apiKey = options.apiKey ?? randomBytes(24).toString('base64url');
  const middleware = pocketpingExpress(pocketping, {
    corsOrigins: options.corsOrigins ?? ['*'],
    apiKey,
    ...(options.uploadDir ? { uploadDir: options.uploadDir } : {}),
  });

  const app: ExpressLikeApp = options.app ?? express();
  // Mount PocketPing before any body parser of your own: bridge webhooks verify the raw bytes.
  app.use('/pocketping', middleware);
  app.get('/', (_req, res) => res.json({ ok: true, widgetEndpoint: '/pocketping' }));
  return { app, pocketping, middleware, apiKey };
}

/** A running example server. */
export interface RunningExample extends ExampleApp {
  /** Base URL of the server, e.g. `http://127.0.0.1:3000`. */
  url: string;
  server: Server;
  /** Stops the server: widget sockets, streams, PocketPing. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Builds the app, listens, and serves the widget's WebSocket on the same HTTP server.
 *
 * @example
 * ```ts
 * const server = await start({ port: 3000, host: '127.0.0.1' });
 * console.log(`${server.url}/pocketping`);
 * ```
 */
export async function start(options: ExampleOptions & { port?: number; host?: string } = {}): Promise<RunningExample> {
  const built = await createApp(options);
  const server = createServer(built.app);
  const detach = built.middleware.attachRealtime(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  let closing: Promise<void> | undefined;
  const stop = async () => {
    // Widget sockets get "server restarting" so they reconnect; SSE streams end.
    built.middleware.close();
    detach();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await built.pocketping.close();
  };
  return {
    ...built,
    server,
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    close: () => {
      closing ??= stop();
      return closing;
    },
  };
}
