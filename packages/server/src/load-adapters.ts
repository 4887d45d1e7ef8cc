import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type AdapterEnvironment,
  type Bridge,
  type BridgeModule,
  type EventBus,
  isPocketPingError,
  isSetupError,
  MemoryStorage,
  SetupError,
  type Storage,
  type StorageModule,
} from '@pocketping/core';
import { ConfigError } from './config.js';

/** Built-in `type` names and the packages that implement them. */
export const STORAGE_PACKAGES: Record<string, string> = {
  postgres: '@pocketping/storage-postgres',
  postgresql: '@pocketping/storage-postgres',
  redis: '@pocketping/storage-redis',
  mongo: '@pocketping/storage-mongo',
  mongodb: '@pocketping/storage-mongo',
};

/** Built-in bridge `type` names and their packages; any other type is a package name. */
export const BRIDGE_PACKAGES: Record<string, string> = {
  telegram: '@pocketping/bridge-telegram',
  discord: '@pocketping/bridge-discord',
  slack: '@pocketping/bridge-slack',
};

function isModuleNotFound(err: unknown, pkg: string): boolean {
  const e = err as { code?: string; message?: string };
  return (
    (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') && String(e.message ?? '').includes(pkg)
  );
}

/**
 * Imports an adapter package, looking first from the current directory (the user's project,
 * where they installed it) and then from this package.
 */
export async function importAdapter(pkg: string, what: string): Promise<Record<string, unknown>> {
  try {
    return (await import(pathToFileURL(resolveEsmEntry(pkg, process.cwd())).href)) as Record<string, unknown>;
  } catch (err) {
    if (!isModuleNotFound(err, pkg) && !(err as Error).message?.includes('Cannot find module')) throw err;
  }
  try {
    return (await import(pkg)) as Record<string, unknown>;
  } catch (err) {
    if (isModuleNotFound(err, pkg) || (err as Error).message?.includes('Cannot find')) {
      throw new SetupError({
        component: what,
        problem: `the package ${pkg} is not installed`,
        steps: [`Install it next to @pocketping/server:  npm install ${pkg}`, 'Start pocketping-server again'],
        code: 'CONFIG_INVALID',
        cause: err,
      });
    }
    throw err;
  }
}

/**
 * The ES module entry of a package installed under `dir`. `require.resolve` alone would pick the
 * CommonJS build, and an adapter on core's CommonJS build would not share classes (SetupError,
 * PocketPingError) with this ES module CLI.
 */
function resolveEsmEntry(pkg: string, dir: string): string {
  const req = createRequire(join(dir, 'noop.js'));
  try {
    const manifestPath = req.resolve(`${pkg}/package.json`);
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
      exports?: Record<string, unknown> | string;
      module?: string;
    };
    const root =
      typeof manifest.exports === 'object' && manifest.exports !== null ? manifest.exports['.'] : manifest.exports;
    const entry =
      typeof root === 'string'
        ? root
        : (pickImport(root) ?? (typeof manifest.module === 'string' ? manifest.module : undefined));
    if (entry) return join(dirname(manifestPath), entry);
  } catch {
    // No readable package.json export: fall back to Node's own resolution.
  }
  return req.resolve(pkg);
}

function pickImport(conditions: unknown): string | undefined {
  if (typeof conditions === 'string') return conditions;
  if (!conditions || typeof conditions !== 'object') return undefined;
  const c = conditions as Record<string, unknown>;
  for (const key of ['import', 'node', 'default']) {
    const found = pickImport(c[key]);
    if (found) return found;
  }
  return undefined;
}

function withPath(path: string, err: unknown): never {
  if (isSetupError(err) || err instanceof ConfigError) throw err;
  if (isPocketPingError(err) && (err.code === 'VALIDATION_FAILED' || err.code === 'CONFIG_INVALID')) {
    throw new ConfigError([`${path}: ${err.message}`]);
  }
  throw err;
}

/** Builds the storage (and event bus, when the storage has one) from `storage:`. */
export async function loadStorage(
  options: { type: string } & Record<string, unknown>,
  env: AdapterEnvironment,
): Promise<{ storage: Storage; eventBus?: EventBus }> {
  const { type, ...rest } = options;
  if (type === 'memory') {
    if (Object.keys(rest).length > 0) {
      throw new ConfigError([`storage: memory storage takes no options (got ${Object.keys(rest).join(', ')})`]);
    }
    return { storage: new MemoryStorage() };
  }
  const pkg = STORAGE_PACKAGES[type] ?? type;
  const mod = (await importAdapter(pkg, `Storage "${type}"`)) as Partial<StorageModule>;
  if (typeof mod.createStorageFromConfig !== 'function') {
    throw new ConfigError([
      `storage.type: ${pkg} does not export createStorageFromConfig(); it is not a PocketPing storage package`,
    ]);
  }
  try {
    return await mod.createStorageFromConfig(rest, env);
  } catch (err) {
    return withPath('storage', err);
  }
}

/** Builds each bridge from `bridges:`. */
export async function loadBridges(
  list: ({ type: string } & Record<string, unknown>)[],
  env: AdapterEnvironment,
): Promise<Bridge[]> {
  const bridges: Bridge[] = [];
  for (const [i, entry] of list.entries()) {
    const { type, ...rest } = entry;
    const pkg = BRIDGE_PACKAGES[type] ?? type;
    const mod = (await importAdapter(pkg, `Bridge "${type}"`)) as Partial<BridgeModule>;
    if (typeof mod.createBridgeFromConfig !== 'function') {
      throw new ConfigError([
        `bridges[${i}].type: ${pkg} does not export createBridgeFromConfig(); it is not a PocketPing bridge package`,
      ]);
    }
    try {
      bridges.push(await mod.createBridgeFromConfig(rest, env));
    } catch (err) {
      withPath(`bridges[${i}] (${type})`, err);
    }
  }
  return bridges;
}
