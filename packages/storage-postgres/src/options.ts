import type { Pool } from 'pg';
import { z } from 'zod';

/** True for a `pg.Pool` (checked by shape, so a second copy of `pg` is accepted too). */
export function isPool(value: unknown): value is Pool {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Pool).query === 'function' &&
    typeof (value as Pool).connect === 'function' &&
    typeof (value as Pool).end === 'function'
  );
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Options shared by the storage, the event bus and `migrate()`: where the tables live. */
export const PostgresLocationSchema = z.object({
  /** A `postgres://user:password@host:port/database` connection string. Give `url` or `pool`. */
  url: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  /** A ready-made `pg.Pool`; PocketPing never closes a pool it was given. */
  pool: z.custom<Pool>(isPool, 'must be a pg.Pool').optional(),
  /**
   * PostgreSQL schema that holds the tables; created by the migrations when missing.
   * @default 'pocketping'
   */
  schema: z
    .string()
    .max(32)
    .regex(IDENTIFIER, 'must be letters, digits and underscores, not starting with a digit')
    .default('pocketping'),
  /**
   * Prefix added to every table name, for sharing one schema between deployments.
   * @default ''
   */
  tablePrefix: z
    .string()
    .max(16)
    .regex(/^[A-Za-z0-9_]*$/, 'must be letters, digits and underscores')
    .default(''),
});

function exactlyOneConnection(value: { url?: string | undefined; pool?: Pool | undefined }): boolean {
  return (value.url === undefined) !== (value.pool === undefined);
}

const CONNECTION_MESSAGE = 'give either url (a postgres:// URL) or pool (a pg.Pool), not both';

/** Options of `new PostgresStorage(options)`. */
export const PostgresStorageOptionsSchema = PostgresLocationSchema.extend({
  /**
   * Connections in the pool created from `url` (ignored with `pool`).
   * @default 10
   */
  poolSize: z.number().int().min(1).max(1000).default(10),
  /**
   * How long to wait for a new connection before failing, in milliseconds (ignored with `pool`).
   * @default 10000
   */
  connectionTimeoutMs: z.number().int().min(1).default(10_000),
  /**
   * A returning visitor's `/connect` only moves `lastActivity` and the page metadata. By default
   * that one statement commits without waiting for the WAL flush, which takes the disk out of
   * the hottest request; a database crash can then lose the last few such touches (never a
   * message, a session or anything else). `true` makes them wait like every other write.
   * @default false
   */
  durableTouches: z.boolean().default(false),
  /**
   * Most calls of one kind (returning visitors' touches, new sessions, new messages) grouped
   * into one statement under load: while a statement of that kind is running, new calls queue
   * and the next statement carries all of them, so a burst pays one round trip and one commit
   * per batch. Under light load every call still goes out at once, alone. `1` turns grouping off.
   * @default 64
   */
  batchSize: z.number().int().min(1).max(1000).default(64),
}).refine(exactlyOneConnection, { message: CONNECTION_MESSAGE, path: ['url'] });

/** Options of `new PostgresStorage(options)`, as given by the caller. */
export type PostgresStorageOptions = z.input<typeof PostgresStorageOptionsSchema>;
/** Options of `PostgresStorage` with defaults applied. */
export type PostgresStorageSettings = z.output<typeof PostgresStorageOptionsSchema>;

/** Options of `new PostgresEventBus(options)`. */
export const PostgresEventBusOptionsSchema = PostgresLocationSchema.extend({
  /**
   * Payloads larger than this many bytes travel by reference through a table instead of inside
   * the NOTIFY (PostgreSQL refuses NOTIFY payloads of 8000 bytes or more).
   * @default 7900
   */
  maxNotifyBytes: z.number().int().min(16).max(7999).default(7900),
  /**
   * How long a by-reference payload is kept before it is cleaned up, in milliseconds.
   * @default 300000
   */
  payloadRetentionMs: z.number().int().min(1000).default(300_000),
  /**
   * First delay before reconnecting the LISTEN connection after it dropped, in milliseconds;
   * doubles on each failure up to 30 seconds.
   * @default 100
   */
  reconnectDelayMs: z.number().int().min(1).default(100),
}).refine(exactlyOneConnection, { message: CONNECTION_MESSAGE, path: ['url'] });

/** Options of `new PostgresEventBus(options)`, as given by the caller. */
export type PostgresEventBusOptions = z.input<typeof PostgresEventBusOptionsSchema>;
/** Options of `PostgresEventBus` with defaults applied. */
export type PostgresEventBusSettings = z.output<typeof PostgresEventBusOptionsSchema>;

/** Options of `migrate()`. */
export const PostgresMigrateOptionsSchema = PostgresLocationSchema.refine(exactlyOneConnection, {
  message: CONNECTION_MESSAGE,
  path: ['url'],
});

/** Options of `migrate()`, as given by the caller. */
export type PostgresMigrateOptions = z.input<typeof PostgresMigrateOptionsSchema>;

/** The `storage:` section of `config.yaml` for `type: postgres` (without `type`). */
export const PostgresConfigSchema = z.strictObject({
  /** Connection string, e.g. `${DATABASE_URL}`. */
  url: z
    .string({ error: (issue) => (issue.input === undefined ? 'is required: a postgres:// URL' : 'must be a string') })
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL'),
  /**
   * Schema that holds the tables.
   * @default 'pocketping'
   */
  schema: PostgresLocationSchema.shape.schema,
  /**
   * Prefix added to every table name.
   * @default ''
   */
  tablePrefix: PostgresLocationSchema.shape.tablePrefix,
  /**
   * Connections in the pool.
   * @default 10
   */
  poolSize: z.number().int().min(1).max(1000).default(10),
  /**
   * Make a returning visitor's `/connect` wait for the WAL flush like every other write (see
   * `PostgresStorageOptions.durableTouches`).
   * @default false
   */
  durableTouches: z.boolean().default(false),
  /**
   * Most returning visitors' touches grouped into one statement under load (see
   * `PostgresStorageOptions.batchSize`); `1` turns grouping off.
   * @default 64
   */
  batchSize: z.number().int().min(1).max(1000).default(64),
});

/** The `storage:` section of `config.yaml` for `type: postgres`. */
export type PostgresConfig = z.input<typeof PostgresConfigSchema>;
