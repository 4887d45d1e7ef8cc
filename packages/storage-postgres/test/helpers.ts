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
