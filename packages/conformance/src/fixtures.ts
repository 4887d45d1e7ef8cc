import { generateId, type Message, type OutboxRecord, type Session } from '@pocketping/core';

/** A valid session with fresh ids; override any field. */
export function makeSession(overrides: Partial<Session> = {}): Session {
  const now = new Date();
  return {
    id: generateId('ses'),
    visitorId: `v-${generateId('vis')}`,
    createdAt: now,
    lastActivity: now,
    status: 'open',
    metadata: { url: 'https://example.com/pricing', language: 'en-US', timezone: 'Europe/Paris' },
    ...overrides,
  };
}

let clock = Date.now();

/** A strictly increasing timestamp, so messages made in a row have a known order. */
export function nextTime(): Date {
  clock = Math.max(clock + 1, Date.now());
  return new Date(clock);
}

/** A valid visitor message in `sessionId`; override any field. */
export function makeMessage(sessionId: string, overrides: Partial<Message> = {}): Message {
  const t = overrides.timestamp ?? nextTime();
  return {
    id: generateId('msg'),
    sessionId,
    content: 'Hello there',
    sender: 'visitor',
    timestamp: t,
    updatedAt: overrides.updatedAt ?? t,
    status: 'sent',
    ...overrides,
  };
}

let lastOutboxSeq = Date.now() * 1000;

/** A due, pending outbox record of one lane (`bridge` + `sessionId`); `seq` increases with every call. */
export function makeOutboxRecord(
  bridge: string,
  sessionId: string,
  overrides: Partial<OutboxRecord> = {},
): OutboxRecord {
  const now = new Date();
  return {
    id: generateId('dlv'),
    bridge,
    sessionId,
    seq: ++lastOutboxSeq,
    operation: { type: 'visitor_message', messageId: generateId('msg') },
    attempts: 0,
    status: 'pending',
    nextAttemptAt: new Date(now.getTime() - 1000),
    createdAt: now,
    ...overrides,
  };
}
