export { COLLECTIONS } from './collections.js';
export { createStorageFromConfig } from './create-storage-from-config.js';
export { MongoStorage } from './mongo-storage.js';
export {
  type MongoStorageConfig,
  MongoStorageConfigSchema,
  type MongoStorageOptions,
  MongoStorageOptionsSchema,
  type ResolvedMongoStorageOptions,
} from './options.js';
