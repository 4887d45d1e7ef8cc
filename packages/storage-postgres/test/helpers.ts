import { serviceUrl } from '@pocketping/conformance';
import pg from 'pg';

/** The PostgreSQL of this machine (skipped locally with a reason when DATABASE_URL is unset). */
export const pgService = serviceUrl('DATABASE_URL', 'PostgreSQL');

/** A fresh schema name, so test files and tests never see each other's rows. */
export function randomSchema(): string {
  return `pp_test_${Math.random().toString(36).slice(2, 12)}`;
}

let admin: pg.Pool | undefined;

// Dropping test schemas need not wait for the WAL flush.
const adminConfig = () => ({ connectionString: pgService.url, max: 2, options: '-c synchronous_commit=off' });

/** Drops a test schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  admin ??= new pg.Pool(adminConfig());
  await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
}

/** A pool for direct checks in tests; closed by `closeAdmin`. */
export function adminPool(): pg.Pool {
  admin ??= new pg.Pool(adminConfig());
  return admin;
}

/** Ends the shared admin pool (call in afterAll). */
export async function closeAdmin(): Promise<void> {
  await admin?.end();
  admin = undefined;
}

/**
 * `deadlocks` of the current database once the statistics stopped moving (up to ~3 s): each
 * backend reports its counters when it goes idle or exits, and the reader's snapshot is cached
 * for its transaction, so it is cleared before every read.
 */
export async function settledDeadlockCount(): Promise<number> {
  const read = async () => {
    await adminPool().query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await adminPool().query(
      'SELECT deadlocks::int AS n FROM pg_stat_database WHERE datname = current_database()',
    );
    return rows[0].n as number;
  };
  let previous = await read();
  for (let waited = 0; waited < 3000; waited += 250) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const current = await read();
    if (current === previous && waited >= 500) return current;
    previous = current;
  }
  return previous;
}

/** Resolves once `count` active statements on tables of `schema` wait for a lock (fails after 5 s). */
export async function lockWaiters(schema: string, count: number): Promise<void> {
  let seen = 0;
  for (let waited = 0; waited < 5000; waited += 10) {
    const { rows } = await adminPool().query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE wait_event_type = 'Lock' AND state = 'active' AND position($1 in query) > 0`,
      [schema],
    );
    seen = rows[0].n as number;
    if (seen >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`only ${seen} of ${count} statements on ${schema} came to wait for the held row`);
}
