import type { Storage } from '@pocketping/core';

/** Options of `storageConformance`. */
export interface StorageConformanceOptions {
  /** Shown in the test names, e.g. `PostgresStorage`. */
  name: string;
  /** Returns a fresh, not yet initialized storage (use a random namespace per call). */
  create: () => Storage | Promise<Storage>;
  /** Cleans up after one test (drop the namespace); `close()` is called before it. */
  destroy?: (storage: Storage) => void | Promise<void>;
  /**
   * Returns a new, not yet initialized storage on the same data as `storage`: another server
   * process, or the same one after a restart (`storage` may be closed or still open). Enables
   * the persistence and multi-instance tests; leave it out for in-memory storages.
   */
  reopen?: (storage: Storage) => Storage | Promise<Storage>;
  /** Skip the whole suite, with the reason printed (e.g. a service is not running). */
  skip?: string | false;
}
