import { describe } from 'vitest';
import { attachmentTests } from './storage/attachments.js';
import { bridgeIdTests } from './storage/bridge-ids.js';
import { concurrencyTests } from './storage/concurrency.js';
import { editDeleteTests } from './storage/edit-delete.js';
import { fastPathTests } from './storage/fast-paths.js';
import { messageTests } from './storage/messages.js';
import { leaseTests } from './storage/leases.js';
import { outboxTests } from './storage/outbox.js';
import { outboxInstanceTests } from './storage/outbox-instances.js';
import { paginationTests } from './storage/pagination.js';
import { persistenceTests } from './storage/persistence.js';
import { sequenceTests } from './storage/sequence.js';
import { sessionTests } from './storage/sessions.js';
import { throughPocketPingTests } from './storage/through-pocketping.js';
import type { StorageConformanceOptions } from './storage/types.js';

/**
 * Registers the storage conformance suite (vitest). Call it from a test file with a factory
 * that returns a fresh storage; optional features the storage lacks are reported as skipped.
 *
 * @example
 * ```ts
 * import { storageConformance } from '@pocketping/conformance';
 * import { MyStorage } from '../src/my-storage';
 *
 * storageConformance({ name: 'MyStorage', create: () => new MyStorage() });
 * ```
 */
export function storageConformance(options: StorageConformanceOptions): void {
  const suite = options.skip ? describe.skip : describe;
  if (options.skip) console.warn(`[conformance] ${options.name} skipped: ${options.skip}`);
  suite(`${options.name} storage conformance`, () => {
    sessionTests(options);
    messageTests(options);
    paginationTests(options);
    editDeleteTests(options);
    sequenceTests(options);
    fastPathTests(options);
    bridgeIdTests(options);
    attachmentTests(options);
    concurrencyTests(options);
    outboxTests(options);
    outboxInstanceTests(options);
    leaseTests(options);
    persistenceTests(options);
    throughPocketPingTests(options);
  });
}
