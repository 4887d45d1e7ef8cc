import type { AdapterEnvironment, EventBus, Storage } from '@pocketping/core';
import { ValidationError } from '@pocketping/core';
import { PACKAGE_NAME } from './errors.js';
import { RedisConfigSchema } from './options.js';
import { RedisEventBus } from './redis-event-bus.js';
import { RedisStorage } from './redis-storage.js';

/**
 * Entry point for `pocketping-server`: builds the storage and its event bus from the YAML
 * section `storage: { type: redis, url, keyPrefix?, ttlDays? }` (without `type`). The event
 * bus publishes through the storage's client and subscribes on a duplicate of it. Throws
 * `ValidationError` naming the bad key.
 *
 * @example
 * ```ts
 * const { storage, eventBus } = createStorageFromConfig({ url: process.env.REDIS_URL, ttlDays: 90 }, env);
 * ```
 */
export function createStorageFromConfig(
  options: Record<string, unknown>,
  _env?: AdapterEnvironment,
): { storage: Storage; eventBus: EventBus } {
  const parsed = RedisConfigSchema.safeParse(options);
  if (!parsed.success) {
    const detail = parsed.error.issues
      .map((issue) => {
        if (issue.code === 'unrecognized_keys') {
          return `storage has unknown key(s) ${issue.keys.join(', ')}: use url, keyPrefix, ttlDays`;
        }
        return `storage.${issue.path.join('.')} ${issue.message}`;
      })
      .join('; ');
    throw new ValidationError(`${PACKAGE_NAME}: ${detail}`, { code: 'CONFIG_INVALID' });
  }
  const config = parsed.data;
  const storage = new RedisStorage({
    url: config.url,
    keyPrefix: config.keyPrefix,
    ...(config.ttlDays !== undefined ? { ttlDays: config.ttlDays } : {}),
  });
  const eventBus = new RedisEventBus({ client: storage.client, keyPrefix: config.keyPrefix });
  return { storage, eventBus };
}
