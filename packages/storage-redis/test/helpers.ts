import { serviceUrl } from '@pocketping/conformance';
import { Redis } from 'ioredis';

/** The Redis of this machine (skipped locally with a reason when REDIS_URL is unset). */
export const redisService = serviceUrl('REDIS_URL', 'Redis');

/** A fresh key prefix, so test files and tests never see each other's keys. */
export function randomPrefix(): string {
  return `pp-test:${Math.random().toString(36).slice(2, 12)}:`;
}

let admin: Redis | undefined;

/** A client for direct checks in tests; closed by `closeAdmin`. */
export function adminClient(): Redis {
  admin ??= new Redis(redisService.url!);
  return admin;
}

/** Keys under a prefix (SCAN, never KEYS). */
export async function keysUnder(prefix: string): Promise<string[]> {
  const found: string[] = [];
  const stream = adminClient().scanStream({ match: `${prefix}*`, count: 1000 });
  for await (const batch of stream) found.push(...(batch as string[]));
  return found;
}

/** Deletes every key under a prefix (SCAN + DEL). */
export async function deletePrefix(prefix: string): Promise<void> {
  const keys = await keysUnder(prefix);
  for (let i = 0; i < keys.length; i += 500) await adminClient().del(...keys.slice(i, i + 500));
}

/** Closes the shared admin client (call in afterAll). */
export async function closeAdmin(): Promise<void> {
  await admin?.quit();
  admin = undefined;
}
