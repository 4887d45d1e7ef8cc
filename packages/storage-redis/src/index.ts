export { createStorageFromConfig } from './config.js';
export {
  type RedisConfig,
  RedisConfigSchema,
  type RedisEventBusOptions,
  RedisEventBusOptionsSchema,
  type RedisEventBusSettings,
  type RedisStorageOptions,
  RedisStorageOptionsSchema,
  type RedisStorageSettings,
} from './options.js';
export { RedisEventBus } from './redis-event-bus.js';
export { RedisStorage } from './redis-storage.js';
