import type { IndexDescription } from 'mongodb';

/** Name of every collection, before the prefix. */
export const COLLECTIONS = {
  sessions: 'sessions',
  messages: 'messages',
  bridgeThreads: 'bridge_threads',
  bridgeMessages: 'bridge_messages',
  attachments: 'attachments',
  outbox: 'outbox',
  leases: 'leases',
} as const;

/** A collection key of `COLLECTIONS`. */
export type CollectionKey = keyof typeof COLLECTIONS;

/** A thread reference: the session whose thread on `bridge` is `threadId`. */
export interface BridgeThreadDoc {
  bridge: string;
  threadId: string;
  sessionId: string;
  /** When this reference was last written; the newest wins if duplicates exist. */
  at: Date;
}

/** A platform message reference: our message whose id on `bridge` is `platformMessageId`. */
export interface BridgeMessageDoc {
  bridge: string;
  platformMessageId: string;
  messageId: string;
  sessionId: string;
  /** When this reference was last written; the newest wins if duplicates exist. */
  at: Date;
}

/**
 * Indexes per collection. Our own ids live in `id` (unique); `_id` is left to MongoDB.
 * Names are explicit so `init()` is idempotent and an operator can recognise them.
 */
export const INDEXES: Record<CollectionKey, IndexDescription[]> = {
  sessions: [
    { key: { id: 1 }, name: 'pp_id', unique: true },
    // getSessionByVisitorId: the visitor's most recently active session.
    { key: { visitorId: 1, lastActivity: -1 }, name: 'pp_visitor_activity' },
    // listSessions and cleanupOldSessions, with and without a status filter.
    { key: { lastActivity: -1, id: 1 }, name: 'pp_activity' },
    { key: { status: 1, lastActivity: -1, id: 1 }, name: 'pp_status_activity' },
  ],
  messages: [
    { key: { id: 1 }, name: 'pp_id', unique: true },
    // History and `before`/`limit` paging, in the one order every storage returns.
    { key: { sessionId: 1, timestamp: 1, id: 1 }, name: 'pp_session_history' },
    // The polling `after` delta: everything of a session changed since the cursor.
    { key: { sessionId: 1, updatedAt: 1 }, name: 'pp_session_updated' },
    // The `afterSeq` delta: everything of a session created or changed after a sequence number.
    { key: { sessionId: 1, seq: 1 }, name: 'pp_session_seq' },
  ],
  bridgeThreads: [
    { key: { bridge: 1, threadId: 1 }, name: 'pp_bridge_thread', unique: true },
    { key: { sessionId: 1 }, name: 'pp_session' },
  ],
  bridgeMessages: [
    { key: { bridge: 1, platformMessageId: 1 }, name: 'pp_bridge_message', unique: true },
    { key: { messageId: 1 }, name: 'pp_message' },
    { key: { sessionId: 1 }, name: 'pp_session' },
  ],
  attachments: [
    { key: { id: 1 }, name: 'pp_id', unique: true },
    { key: { sessionId: 1 }, name: 'pp_session' },
  ],
  outbox: [
    { key: { id: 1 }, name: 'pp_id', unique: true },
    // Lane heads (a lane's pending records by seq) and the lane check after each lease.
    { key: { status: 1, bridge: 1, sessionId: 1, seq: 1 }, name: 'pp_lane' },
    // outboxList: by status, oldest first.
    { key: { status: 1, createdAt: 1, seq: 1 }, name: 'pp_status_created' },
    // deleteSession and cleanupOldSessions.
    { key: { sessionId: 1 }, name: 'pp_session' },
  ],
  // One document per lease name; its `_id` is derived from the name (see leases.ts), so this
  // index only guards against documents written by hand.
  leases: [{ key: { name: 1 }, name: 'pp_name', unique: true }],
};
