import { randomBytes } from 'node:crypto';
import { PocketPing, type PocketPingOptions } from '@pocketping/core';
import { pocketpingPlugin } from '@pocketping/server';
import Fastify, { type FastifyInstance } from 'fastify';
import { JsonFileStorage } from './json-file-storage.js';

/** Options of this example's `createApp` and `start`. */
export interface ExampleOptions {
  /** The JSON file the conversations are kept in. @default './data/pocketping.jsonl' */
  dataFile?: string;
  /** More PocketPing options (bridges, hooks, ...); `storage` is the JSON file. */
  pocketping?: Omit<PocketPingOptions, 'storage'>;
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
 * Builds a Fastify app whose PocketPing keeps its conversations in a JSON file.
 *
 * @example
 * ```ts
 * const { app } = await createApp({ dataFile: './data/chat.json' });
 * await app.listen({ port: 3000 });
 * ```
 */
export async function createApp(options: ExampleOptions = {}): Promise<ExampleApp> {
  const storage = new JsonFileStorage({ file: options.dataFile ?? './data/pocketping.jsonl' });
  const pocketping = new PocketPing({ welcomeMessage: 'Hi! Ask us anything.', ...options.pocketping, storage });
  // init() calls storage.init(), which loads the file.
  await pocketping.init();
  const apiKey = options.apiKey ?? randomBytes(24).toString('base64url');

  const app = Fastify({ logger: options.logger ?? true, forceCloseConnections: true });
  await app.register(pocketpingPlugin, {
    pocketping,
    prefix: '/pocketping',
    cors: { origins: options.corsOrigins ?? ['*'] },
    apiKey,
    ...(options.uploadDir ? { uploadDir: options.uploadDir } : {}),
  });
  // PocketPing.close() calls storage.close(), which waits for the last write.
  app.addHook('onClose', async () => {
    await pocketping.close();
  });
  return { app, pocketping, apiKey };
}

/** A running example server. */
export interface RunningExample extends ExampleApp {
  /** Base URL of the server, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** Stops the server and waits for the last write to the file. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Builds the app and starts listening.
 *
 * @example
 * ```ts
 * const server = await start({ port: 3000, host: '127.0.0.1' });
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
