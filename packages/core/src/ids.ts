const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const ID_BYTES = 18;
/** Random bytes fetched per `getRandomValues` call: one system call serves 227 ids. */
const POOL_SIZE = ID_BYTES * 227;
const pool = new Uint8Array(POOL_SIZE);
let poolOffset = POOL_SIZE;

/**
 * A URL-safe random identifier with 144 bits of randomness (24 characters of `[A-Za-z0-9_-]`),
 * prefixed by a short kind marker (`ses_`, `msg_`, `att_`, ...). Unguessable: session ids are
 * the only credential a widget has. The bytes come from `crypto.getRandomValues`, fetched a few
 * KiB at a time (as Node does for `randomUUID`); every byte is used once.
 */
export function generateId(prefix: string): string {
  if (poolOffset + ID_BYTES > POOL_SIZE) {
    globalThis.crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  const start = poolOffset;
  poolOffset += ID_BYTES;
  let out = `${prefix}_`;
  // 18 bytes = 144 bits = exactly 24 base64url characters.
  for (let i = start; i < start + ID_BYTES; i += 3) {
    const n = (pool[i]! << 16) | (pool[i + 1]! << 8) | pool[i + 2]!;
    out += ALPHABET[(n >> 18) & 63]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  return out;
}

/** True when `id` only uses characters that are safe to put unencoded into a URL. */
export function isUrlSafeId(id: string): boolean {
  return /^[A-Za-z0-9_-]{1,128}$/.test(id);
}

const lastByKey = new Map<string, number>();

/**
 * Current time, strictly increasing per key (a session id): at least 1 ms after the previous
 * call with the same key. Two changes in one session never share a millisecond, so their order
 * is meaningful and the widget's millisecond `after` cursor never lands between them, while
 * busy servers do not drift ahead of the real clock (only one session's own burst could, and
 * rate limits keep those small).
 */
export function monotonicNow(key = ''): Date {
  const now = Date.now();
  const last = lastByKey.get(key) ?? 0;
  const next = now > last ? now : last + 1;
  if (lastByKey.size >= 50_000) {
    // Entries older than the current millisecond no longer constrain anything.
    for (const [k, v] of lastByKey) if (v < now) lastByKey.delete(k);
  }
  lastByKey.set(key, next);
  return new Date(next);
}
