import { redactConnectionUrl, SetupError, type StorageError, wrapStorageError } from '@pocketping/core';

/** Name used in every error message of this package. */
export const PACKAGE_NAME = '@pocketping/storage-postgres';

const DOCS_URL = 'https://github.com/pocketping/pocketping-ts/tree/main/packages/storage-postgres';

/** Wraps a pg error in a StorageError that names the package and the operation. */
export function wrapError(operation: string, err: unknown): StorageError {
  return wrapStorageError(PACKAGE_NAME, operation, err);
}

/** SQLSTATE codes and socket errors that mean "this database cannot be reached or used". */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ECONNRESET',
  '3D000', // database does not exist
  '28P01', // password authentication failed
  '28000', // no pg_hba.conf entry / invalid authorization
  '57P03', // the database system is starting up
]);

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  const nested = (err as { errors?: unknown[] } | null)?.errors;
  if (Array.isArray(nested)) return nested.map(errorCode).find((c) => c !== undefined);
  return undefined;
}

/** True when `err` says the server is down, unknown, or refuses our credentials. */
export function isUnreachable(err: unknown): boolean {
  const code = errorCode(err);
  if (code !== undefined && UNREACHABLE_CODES.has(code)) return true;
  const message = err instanceof Error ? err.message : String(err);
  return /timeout expired|Connection terminated/i.test(message);
}

/** The setup guide shown when `init()` cannot reach the database. */
export function unreachableError(url: string | undefined, err: unknown): SetupError {
  const reason = err instanceof Error ? err.message : String(err);
  return new SetupError({
    component: 'PostgreSQL',
    code: 'STORAGE_UNAVAILABLE',
    problem: `${PACKAGE_NAME} cannot reach ${redactConnectionUrl(url, 'the given pg.Pool')}: ${reason}`,
    steps: [
      'Start PostgreSQL: `pnpm services` in the PocketPing repository, `docker run -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16`, or `pg_ctlcluster <version> main start` on Debian/Ubuntu',
      'Check the URL: postgres://USER:PASSWORD@HOST:PORT/DATABASE (storage.url in config.yaml, often the DATABASE_URL environment variable)',
      'Make sure the database exists (`createdb DATABASE`) and the user may connect to it (pg_hba.conf)',
      'Test the URL with `psql "postgres://..." -c "select 1"`',
    ],
    docsUrl: DOCS_URL,
    cause: err,
  });
}
