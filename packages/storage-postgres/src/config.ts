import type { AdapterEnvironment, EventBus, Storage } from '@pocketping/core';
import { ValidationError } from '@pocketping/core';
import pg from 'pg';
import type { z } from 'zod';
import { isUnreachable, PACKAGE_NAME, unreachableError, wrapError } from './errors.js';
import { type MigrationResult, runMigrations } from './migrations.js';
import { tableNames } from './names.js';
import { type PostgresMigrateOptions, PostgresConfigSchema, PostgresMigrateOptionsSchema } from './options.js';
import { PostgresEventBus } from './postgres-event-bus.js';
import { PostgresStorage } from './postgres-storage.js';

function configError(error: z.ZodError): ValidationError {
  const detail = error.issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return `storage has unknown key(s) ${issue.keys.join(', ')}: use url, schema, tablePrefix, poolSize, durableTouches, batchSize`;
      }
      return `storage.${issue.path.join('.')} ${issue.message}`;
    })
    .join('; ');
  return new ValidationError(`${PACKAGE_NAME}: ${detail}`, { code: 'CONFIG_INVALID' });
}

function parseConfig(options: Record<string, unknown>) {
  const parsed = PostgresConfigSchema.safeParse(options);
  if (!parsed.success) throw configError(parsed.error);
  return parsed.data;
}

/**
 * Entry point for `pocketping-server`: builds the storage and its event bus from the YAML
 * section `storage: { type: postgres, url, schema?, tablePrefix?, poolSize?, durableTouches?, batchSize? }` (without `type`).
 * The event bus shares the storage's pool. Throws `ValidationError` naming the bad key.
 *
 * @example
 * ```ts
 * const { storage, eventBus } = createStorageFromConfig({ url: process.env.DATABASE_URL }, env);
 * ```
 */
export function createStorageFromConfig(
  options: Record<string, unknown>,
  _env?: AdapterEnvironment,
): { storage: Storage; eventBus: EventBus } {
  const config = parseConfig(options);
  const storage = new PostgresStorage({
    url: config.url,
    schema: config.schema,
    tablePrefix: config.tablePrefix,
    poolSize: config.poolSize,
    durableTouches: config.durableTouches,
    batchSize: config.batchSize,
  });
  const eventBus = new PostgresEventBus({ pool: storage.pool, schema: config.schema, tablePrefix: config.tablePrefix });
  return { storage, eventBus };
}

/**
 * Applies pending migrations and returns what was done. Idempotent and safe to run while
 * servers are starting (an advisory lock serializes concurrent runs). Throws a `SetupError`
 * with a guide when the database cannot be reached.
 *
 * @example
 * ```ts
 * const { applied, version } = await migrate({ url: process.env.DATABASE_URL });
 * ```
 */
export async function migrate(options: PostgresMigrateOptions): Promise<MigrationResult> {
  const parsed = PostgresMigrateOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'options'} ${i.message}`).join('; ');
    throw new ValidationError(`${PACKAGE_NAME}: invalid migrate options: ${detail}`, { code: 'CONFIG_INVALID' });
  }
  const { url, pool: given, schema, tablePrefix } = parsed.data;
  const pool = given ?? new pg.Pool({ connectionString: url, max: 1 });
  if (!given) pool.on('error', () => {});
  try {
    return await runMigrations(pool, tableNames(schema, tablePrefix));
  } catch (err) {
    if (isUnreachable(err)) throw unreachableError(url, err);
    throw wrapError('migrate', err);
  } finally {
    if (!given) await pool.end().catch(() => {});
  }
}

/**
 * `migrate()` for `pocketping-server migrate`: takes the YAML `storage:` section (without
 * `type`) and validates it like `createStorageFromConfig`.
 *
 * @example
 * ```ts
 * await migrateFromConfig({ url: 'postgres://localhost/pocketping', schema: 'chat' });
 * ```
 */
export function migrateFromConfig(options: Record<string, unknown>): Promise<MigrationResult> {
  const config = parseConfig(options);
  return migrate({ url: config.url, schema: config.schema, tablePrefix: config.tablePrefix });
}
