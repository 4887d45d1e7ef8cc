import { makeOutboxRecord } from '@pocketping/conformance';

/** A due, pending outbox record of one lane; `seq` increases with every call. */
export const outboxRecord = makeOutboxRecord;

/** The keys an `OutboxRecord` may have: anything else (`_id`, internal fields) must not leak. */
export const OUTBOX_RECORD_KEYS = new Set([
  'id',
  'bridge',
  'sessionId',
  'seq',
  'operation',
  'attempts',
  'status',
  'nextAttemptAt',
  'createdAt',
  'lastError',
  'leaseOwner',
  'leaseUntil',
]);
