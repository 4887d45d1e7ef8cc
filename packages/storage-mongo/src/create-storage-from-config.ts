import type { AdapterEnvironment } from '@pocketping/core';
import { MongoStorage } from './mongo-storage.js';
import { MongoStorageConfigSchema, parseOptions } from './options.js';

/**
 * Entry for `pocketping-server`: builds the storage from the `storage:` block of `config.yaml`
 * (`type: mongo`, `url`, `database`, `collectionPrefix`). Does no I/O; the server calls
 * `init()`.
 *
 * @throws ValidationError (code `CONFIG_INVALID`) naming each invalid or unknown key.
 * @example
 * ```ts
 * const { storage } = createStorageFromConfig({ url: 'mongodb://127.0.0.1:27017', database: 'support' }, env);
 * ```
 */
export function createStorageFromConfig(
  options: Record<string, unknown>,
  _env: AdapterEnvironment,
): { storage: MongoStorage } {
  const config = parseOptions(MongoStorageConfigSchema, options, 'storage.');
  return { storage: new MongoStorage(config) };
}
