import type { Redis } from 'ioredis';
import { z } from 'zod';

/** True for an ioredis client (checked by shape, so a second copy of ioredis is accepted too). */
export function isRedisClient(value: unknown): value is Redis {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Redis).evalsha === 'function' &&
    typeof (value as Redis).duplicate === 'function' &&
    typeof (value as Redis).hgetall === 'function'
  );
}

const URL_PATTERN = /^rediss?:\/\//;
const URL_MESSAGE = 'must be a redis:// or rediss:// URL';

/** Options shared by the storage and the event bus: which Redis, and which key namespace. */
export const RedisLocationSchema = z.object({
  /** A `redis://[:password@]host:port/db` (or `rediss://` for TLS) URL. Give `url` or `client`. */
  url: z.string().regex(URL_PATTERN, URL_MESSAGE).optional(),
  /** A ready-made ioredis client; PocketPing never closes a client it was given. */
  client: z.custom<Redis>(isRedisClient, 'must be an ioredis client').optional(),
  /**
   * Prefix of every key (and of the pub/sub channel), for sharing one Redis between deployments.
   * @default 'pocketping:'
   */
  keyPrefix: z.string().max(100).default('pocketping:'),
});

function exactlyOneConnection(value: { url?: string | undefined; client?: Redis | undefined }): boolean {
  return (value.url === undefined) !== (value.client === undefined);
}

const CONNECTION_MESSAGE = 'give either url (a redis:// URL) or client (an ioredis client), not both';

/** Options of `new RedisStorage(options)`. */
export const RedisStorageOptionsSchema = RedisLocationSchema.extend({
  /**
   * Retention: when set, every key of a session expires this many days after its last
   * activity (new message, edit, session update). Unset: kept until deleted or cleaned up.
   */
  ttlDays: z.number().positive().optional(),
}).refine(exactlyOneConnection, { message: CONNECTION_MESSAGE, path: ['url'] });

/** Options of `new RedisStorage(options)`, as given by the caller. */
export type RedisStorageOptions = z.input<typeof RedisStorageOptionsSchema>;
/** Options of `RedisStorage` with defaults applied. */
export type RedisStorageSettings = z.output<typeof RedisStorageOptionsSchema>;

/** Options of `new RedisEventBus(options)`. */
export const RedisEventBusOptionsSchema = RedisLocationSchema.refine(exactlyOneConnection, {
  message: CONNECTION_MESSAGE,
  path: ['url'],
});

/** Options of `new RedisEventBus(options)`, as given by the caller. */
export type RedisEventBusOptions = z.input<typeof RedisEventBusOptionsSchema>;
/** Options of `RedisEventBus` with defaults applied. */
export type RedisEventBusSettings = z.output<typeof RedisEventBusOptionsSchema>;

/** The `storage:` section of `config.yaml` for `type: redis` (without `type`). */
export const RedisConfigSchema = z.strictObject({
  /** Connection string, e.g. `${REDIS_URL}`. */
  url: z
    .string({ error: (issue) => (issue.input === undefined ? 'is required: a redis:// URL' : 'must be a string') })
    .regex(URL_PATTERN, URL_MESSAGE),
  /**
   * Prefix of every key.
   * @default 'pocketping:'
   */
  keyPrefix: RedisLocationSchema.shape.keyPrefix,
  /** Days of inactivity after which a session and everything in it expire. Unset: never. */
  ttlDays: z.number().positive().optional(),
});

/** The `storage:` section of `config.yaml` for `type: redis`. */
export type RedisConfig = z.input<typeof RedisConfigSchema>;
