import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares the `X-Telegram-Bot-Api-Secret-Token` header with the secret in constant time.
 * Both sides are hashed first so the buffers always have the same length and the comparison
 * leaks neither content nor length.
 */
export function secretMatches(given: string | undefined, expected: string): boolean {
  if (typeof given !== 'string' || given.length === 0) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
