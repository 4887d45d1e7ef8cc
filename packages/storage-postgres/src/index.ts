export { createStorageFromConfig, migrate, migrateFromConfig } from './config.js';
export { MIGRATIONS, type Migration, type MigrationResult } from './migrations.js';
export type { TableNames } from './names.js';
export {
  type PostgresConfig,
  PostgresConfigSchema,
  type PostgresEventBusOptions,
  PostgresEventBusOptionsSchema,
  type PostgresEventBusSettings,
  type PostgresMigrateOptions,
  type PostgresStorageOptions,
  PostgresStorageOptionsSchema,
  type PostgresStorageSettings,
} from './options.js';
export { PostgresEventBus } from './postgres-event-bus.js';
export { PostgresStorage } from './postgres-storage.js';
