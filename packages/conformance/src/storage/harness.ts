import type { Storage } from '@pocketping/core';
import { afterEach } from 'vitest';
import type { StorageConformanceOptions } from './types.js';

/** Per-test lifecycle: every `open()` is closed and destroyed after the test. */
export function useStorage(options: StorageConformanceOptions): () => Promise<Storage> {
  const opened: Storage[] = [];
  afterEach(async () => {
    while (opened.length > 0) {
      const s = opened.pop()!;
      await s.close?.();
      await options.destroy?.(s);
    }
  });
  return async () => {
    const s = await options.create();
    opened.push(s);
    await s.init?.();
    return s;
  };
}

/** Fails with a readable message when an optional method is missing. */
export function has<K extends keyof Storage>(s: Storage, method: K): s is Storage & Required<Pick<Storage, K>> {
  return typeof s[method] === 'function';
}
