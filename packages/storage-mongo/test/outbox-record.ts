import { generateId, type OutboxRecord } from '@pocketping/core';

let lastSeq = Date.now() * 1000;

/** A due, pending outbox record of one lane; `seq` increases with every call. */
export function outboxRecord(bridge: string, sessionId: string, overrides: Partial<OutboxRecord> = {}): OutboxRecord {
  const now = new Date();
  return {
    id: generateId('dlv'),
    bridge,
    sessionId,
    seq: ++lastSeq,
    operation: { type: 'visitor_message', messageId: generateId('msg') },
    attempts: 0,
    status: 'pending',
    nextAttemptAt: new Date(now.getTime() - 1000),
    createdAt: now,
    ...overrides,
  };
}

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
