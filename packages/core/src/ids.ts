const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * A URL-safe random identifier with 144 bits of randomness (24 characters of `[A-Za-z0-9_-]`),
 * prefixed by a short kind marker (`ses_`, `msg_`, `att_`, ...). Unguessable: session ids are
 * the only credential a widget has.
 */
export function generateId(prefix: string): string {
  const bytes = new Uint8Array(18);
  globalThis.crypto.getRandomValues(bytes);
  let out = `${prefix}_`;
  // 18 bytes = 144 bits = exactly 24 base64url characters.
  for (let i = 0; i < bytes.length; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += ALPHABET[(n >> 18) & 63]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  return out;
}

/** True when `id` only uses characters that are safe to put unencoded into a URL. */
export function isUrlSafeId(id: string): boolean {
  return /^[A-Za-z0-9_-]{1,128}$/.test(id);
}

let lastNow = 0;

/**
 * Current time, strictly increasing within this process (at least 1 ms after the previous
 * call). Messages created in the same millisecond then still have a stable, meaningful order,
 * and the widget's `after` cursor (millisecond precision) never lands between two of them.
 */
export function monotonicNow(): Date {
  const now = Date.now();
  lastNow = now > lastNow ? now : lastNow + 1;
  return new Date(lastNow);
}
