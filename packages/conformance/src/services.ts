/**
 * Reads a service URL for service-backed tests. Locally a missing service means "skip, and say
 * why"; in CI (`CI` set) it is a failure, so a broken service start can never pass silently.
 *
 * @example
 * ```ts
 * const pg = serviceUrl('DATABASE_URL', 'PostgreSQL');
 * storageConformance({ name: 'PostgresStorage', skip: pg.skip, create: () => new PostgresStorage(pg.url!) });
 * ```
 */
export function serviceUrl(envVar: string, service: string): { url?: string; skip: string | false } {
  const url = process.env[envVar];
  if (url) return { url, skip: false };
  const reason = `${service} is not available: set ${envVar} (run \`pnpm services\` to start it)`;
  if (process.env.CI) {
    throw new Error(`${reason}. CI requires it, so this run fails instead of skipping.`);
  }
  return { skip: reason };
}
