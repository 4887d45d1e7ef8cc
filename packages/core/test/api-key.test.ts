import { describe, expect, it } from 'vitest';
import { apiKeyMatches } from '../src/http/index.js';

describe('apiKeyMatches', () => {
  const key = 'pp_admin_0123456789abcdef';

  it('accepts exactly the configured key', () => {
    expect(apiKeyMatches(key, key)).toBe(true);
    expect(apiKeyMatches('clé-🔑-secrète', 'clé-🔑-secrète')).toBe(true);
  });

  it('refuses any other key: one character off, a prefix, a longer key, the key repeated, empty', () => {
    expect(apiKeyMatches(`${key.slice(0, -1)}0`, key)).toBe(false);
    expect(apiKeyMatches(`X${key.slice(1)}`, key)).toBe(false);
    expect(apiKeyMatches(key.slice(0, 10), key)).toBe(false);
    expect(apiKeyMatches(`${key}x`, key)).toBe(false);
    expect(apiKeyMatches(key + key, key)).toBe(false);
    expect(apiKeyMatches('', key)).toBe(false);
    expect(apiKeyMatches('clé-🔑-secrètf', 'clé-🔑-secrète')).toBe(false);
  });

  it('never matches when no key is configured', () => {
    expect(apiKeyMatches('', '')).toBe(false);
    expect(apiKeyMatches('anything', '')).toBe(false);
  });
});
