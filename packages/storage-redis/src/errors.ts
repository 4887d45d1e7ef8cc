import { redactConnectionUrl, SetupError, type StorageError, wrapStorageError } from '@pocketping/core';

/** Name used in every error message of this package. */
export const PACKAGE_NAME = '@pocketping/storage-redis';

const DOCS_URL = 'https://github.com/pocketping/pocketping-ts/tree/main/packages/storage-redis';

/** Wraps an ioredis error in a StorageError that names the package and the operation. */
export function wrapError(operation: string, err: unknown): StorageError {
  return wrapStorageError(PACKAGE_NAME, operation, err);
}

/** The setup guide shown when `init()` cannot reach Redis. */
export function unreachableError(url: string | undefined, err: unknown): SetupError {
  const reason = err instanceof Error ? err.message : String(err);
  return new SetupError({
    component: 'Redis',
    code: 'STORAGE_UNAVAILABLE',
    problem: `${PACKAGE_NAME} cannot reach ${redactConnectionUrl(url, 'the given ioredis client')}: ${reason}`,
    steps: [
      'Start Redis: `pnpm services` in the PocketPing repository, `docker run -p 6379:6379 redis:7`, or `redis-server --daemonize yes`',
      'Check the URL: redis://[:PASSWORD@]HOST:PORT/DB, or rediss:// for TLS (storage.url in config.yaml, often the REDIS_URL environment variable)',
      'Test the URL with `redis-cli -u "redis://..." ping` (it should answer PONG)',
    ],
    docsUrl: DOCS_URL,
    cause: err,
  });
}
