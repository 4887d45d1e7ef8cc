import type { Bridge } from './bridge.js';
import type { EventBus } from './event-bus.js';
import type { Logger } from './logger.js';
import type { Storage } from './storage.js';

/** What `pocketping-server` hands an adapter when it builds it from `config.yaml`. */
export interface AdapterEnvironment {
  /** Absolute base URL of the widget endpoints (`server.publicUrl` + prefix), when configured. */
  publicUrl?: string;
  /** Path prefix of the PocketPing routes, e.g. `/pocketping`. */
  prefix: string;
  logger: Logger;
}

/**
 * A storage package's entry for `pocketping-server`: `storage: { type: postgres, ... }` loads
 * `@pocketping/storage-postgres` and calls its `createStorageFromConfig(options)`. Options are
 * the YAML keys without `type`; validate them and throw `ValidationError` naming the key.
 */
export interface StorageModule {
  createStorageFromConfig(
    options: Record<string, unknown>,
    env: AdapterEnvironment,
  ): { storage: Storage; eventBus?: EventBus } | Promise<{ storage: Storage; eventBus?: EventBus }>;
}

/**
 * A bridge package's entry for `pocketping-server`: `bridges: [{ type: telegram, ... }]` loads
 * `@pocketping/bridge-telegram` (community bridges: the package named by `type`) and calls its
 * `createBridgeFromConfig(options)`. Options are the YAML keys without `type`.
 */
export interface BridgeModule {
  createBridgeFromConfig(options: Record<string, unknown>, env: AdapterEnvironment): Bridge | Promise<Bridge>;
}
