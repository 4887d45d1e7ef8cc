import type { AttachmentStore, PocketPing } from '@pocketping/core';
import { z } from 'zod';

/** Data options of the Fastify plugin; defaults live here. */
export const PluginSettingsSchema = z.object({
  /** Path prefix of every PocketPing route. @default '/pocketping' */
  prefix: z
    .string()
    .regex(/^(\/[A-Za-z0-9._~-]+)*\/?$/, 'prefix must be a path like /pocketping (or / for the root)')
    .default('/pocketping'),
  /** CORS: allowed widget origins (`['*']` allows every origin). @default ['*'] */
  cors: z
    .object({
      origins: z.array(z.string().min(1)).default(['*']),
    })
    .default({ origins: ['*'] }),
  /** Bearer key of the admin API; without it the admin API answers 401 to everyone. */
  apiKey: z.string().min(16, 'apiKey must be at least 16 characters').optional(),
  /** Where uploads go when PocketPing has no attachment store. @default './data/uploads' */
  uploadDir: z.string().default('./data/uploads'),
  /** Largest JSON body accepted, in bytes. @default 65536 */
  bodyLimit: z
    .number()
    .int()
    .positive()
    .default(64 * 1024),
  websocket: z
    .object({
      /** Protocol pings keep proxies from closing idle sockets and find dead peers. @default 25000 */
      pingIntervalMs: z.number().int().positive().default(25_000),
      /** Largest inbound frame in bytes; bigger frames close the socket with 1009. @default 65536 */
      maxPayload: z
        .number()
        .int()
        .positive()
        .default(64 * 1024),
      /** A socket with more unsent bytes than this is closed (slow consumer). @default 4194304 */
      maxBufferedBytes: z
        .number()
        .int()
        .positive()
        .default(4 * 1024 * 1024),
    })
    .default({ pingIntervalMs: 25_000, maxPayload: 64 * 1024, maxBufferedBytes: 4 * 1024 * 1024 }),
  sse: z
    .object({
      /** Comment lines keep the stream open through proxies. @default 20000 */
      keepAliveMs: z.number().int().positive().default(20_000),
    })
    .default({ keepAliveMs: 20_000 }),
});

/** Data options of the plugin after defaults. */
export type PluginSettings = z.output<typeof PluginSettingsSchema>;

/**
 * Options of `pocketpingPlugin`.
 *
 * @example
 * ```ts
 * await app.register(pocketpingPlugin, { pocketping: pp, prefix: '/pocketping', cors: { origins: ['https://example.com'] } });
 * ```
 */
export type PocketPingPluginOptions = z.input<typeof PluginSettingsSchema> & {
  /** The PocketPing instance whose protocol is mounted. */
  pocketping: PocketPing;
  /** Where uploaded bytes live; defaults to a DiskAttachmentStore in `uploadDir`. */
  attachmentStore?: AttachmentStore;
};
