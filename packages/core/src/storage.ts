import type { Attachment, Message, Session } from './models.js';

/** A query over one session's messages. */
export interface MessageQuery {
  /**
   * Only messages created **or changed** (edited, deleted, delivered, read) strictly after this
   * instant: `message.updatedAt > after`.
   */
  after?: Date;
  /**
   * Only messages whose `seq` is strictly greater (created or changed after that point of the
   * session's sequence). Storages that assign `Message.seq` must support it; others ignore it.
   */
  afterSeq?: number;
  /** Only messages created strictly before this instant (`timestamp < before`), for paging back. */
  before?: Date;
  /** At most this many messages: the **newest** ones (by `timestamp`), still returned ascending. */
  limit?: number;
}

/** A query over sessions, newest activity first. */
export interface SessionQuery {
  /** At most this many sessions. */
  limit?: number;
  /** Only sessions whose `lastActivity` is strictly before this instant (cursor for paging). */
  before?: Date;
  /** Only open or only closed sessions. */
  status?: 'open' | 'closed';
  /** Only sessions active at or after this instant. */
  since?: Date;
}

/** Fields of a session that can be changed; the top-level keys given replace the stored ones. */
export type SessionPatch = Partial<Omit<Session, 'id' | 'visitorId' | 'createdAt' | 'seq'>>;

/** What a returning visitor's `/connect` changes on the session (see `Storage.touchSession`). */
export interface SessionTouch {
  /** The new `lastActivity`. */
  lastActivity: Date;
  /** Merged into the stored metadata: these keys replace the stored ones, except `keepKeys`. */
  metadata: Session['metadata'];
  /** Metadata keys whose stored value, when there is one, stays (facts the server derived, like `ip`). */
  keepKeys: readonly string[];
}

/** Fields of a message that can be changed; the top-level keys given replace the stored ones. */
export type MessagePatch = Partial<Omit<Message, 'id' | 'sessionId' | 'timestamp' | 'sender' | 'seq'>>;

/**
 * One bridge delivery in the durable outbox. Records of one lane (same `bridge` and
 * `sessionId`) are worked strictly in `seq` order; a lane's head blocks the records behind it
 * until it succeeds or is dead-lettered.
 */
export interface OutboxRecord {
  /** Unique id; also the idempotency key handed to the bridge. */
  id: string;
  bridge: string;
  sessionId: string;
  /** Order within the lane (increasing). */
  seq: number;
  /** What to do (serializable; see DeliveryOperation). */
  operation: Record<string, unknown> & { type: string };
  attempts: number;
  /** `pending` records are worked; `dead` ones wait for a manual retry. */
  status: 'pending' | 'dead';
  /** Not before this instant. */
  nextAttemptAt: Date;
  createdAt: Date;
  lastError?: string;
  /** The worker holding the record, until `leaseUntil`. */
  leaseOwner?: string;
  leaseUntil?: Date;
}

/** How a worker claims outbox records. */
export interface OutboxClaim {
  /** The claiming worker's id. */
  owner: string;
  /** The current time (records with `nextAttemptAt <= now` are due). */
  now: Date;
  /** How long the claim holds. */
  leaseMs: number;
  /** At most this many records (each from a different lane). */
  limit: number;
}

/** Fields of an attachment that can be changed. */
export type AttachmentPatch = Partial<Omit<Attachment, 'id' | 'sessionId' | 'createdAt'>>;

/**
 * Where sessions and messages live. Four methods are required; the rest are optional and
 * PocketPing falls back (or answers "not supported by this storage") when they are missing.
 *
 * Rules every implementation follows (checked by `@pocketping/conformance`):
 * - every method returns a Promise; "not found" is `null`/`undefined`, never a throw;
 * - `getMessages` returns messages ascending by `timestamp` (ties by `id`), and `limit` keeps
 *   the newest ones;
 * - returned objects are copies: mutating them never changes what is stored;
 * - driver errors are wrapped in `StorageError`.
 *
 * When `updateSession` is missing, changes are saved by calling `createSession` again with the
 * same id; when `updateMessage` is missing, by calling `saveMessage` again with the same id.
 * Write those two as upserts (a `Map.set`, `INSERT ... ON CONFLICT`) in that case.
 *
 * @example
 * ```ts
 * class MyStorage implements Storage {
 *   private sessions = new Map<string, Session>();
 *   private messages = new Map<string, Map<string, Message>>();
 *   async createSession(s: Session) { this.sessions.set(s.id, structuredClone(s)); }
 *   async getSession(id: string) { return structuredClone(this.sessions.get(id)); }
 *   async saveMessage(m: Message) {
 *     const list = this.messages.get(m.sessionId) ?? new Map();
 *     list.set(m.id, structuredClone(m));
 *     this.messages.set(m.sessionId, list);
 *   }
 *   async getMessages(sessionId: string) {
 *     return [...(this.messages.get(sessionId)?.values() ?? [])].map((m) => structuredClone(m));
 *   }
 * }
 * ```
 */
export interface Storage {
  /** Stores a new session. */
  createSession(session: Session): Promise<void>;
  /** Reads a session, or `null`/`undefined` when unknown. */
  getSession(sessionId: string): Promise<Session | null | undefined>;
  /**
   * Stores a new message (or replaces one with the same id). Storages that assign
   * `Message.seq` (see there) return the message as stored, with its `seq`; others may return
   * nothing.
   */
  saveMessage(message: Message): Promise<void | Message>;
  /**
   * Messages of one session, ascending by `timestamp`. Implementations that ignore `query`
   * still work: PocketPing filters and trims what they return.
   */
  getMessages(sessionId: string, query?: MessageQuery): Promise<Message[]>;

  /** Connects, creates tables or indexes. Called once by `PocketPing.init()`. */
  init?(): Promise<void>;
  /** Releases what `init()` opened. Safe to call twice. */
  close?(): Promise<void>;
  /** Answers quickly whether the backend is reachable (used by `/readyz`). */
  ping?(): Promise<boolean>;

  /** Applies a patch atomically and returns the updated session, or `null` when unknown. */
  updateSession?(sessionId: string, patch: SessionPatch): Promise<Session | null | undefined>;
  /** The visitor's most recent session (most recently created or most recently active). */
  getSessionByVisitorId?(visitorId: string): Promise<Session | null | undefined>;
  /** Sessions by most recent activity first. */
  listSessions?(query?: SessionQuery): Promise<Session[]>;
  /** Deletes a session with its messages, attachments, bridge references and outbox records. */
  deleteSession?(sessionId: string): Promise<boolean>;
  /** Deletes sessions whose last activity is older than `olderThan`; returns how many. */
  cleanupOldSessions?(olderThan: Date): Promise<number>;

  /**
   * Fast path of a returning visitor's `/connect`, one round trip instead of a read and a write:
   * when session `sessionId` exists **and** belongs to `visitorId`, merges `touch.metadata` into
   * its metadata (stored values of `touch.keepKeys` stay), sets `lastActivity`, and returns the
   * updated session. `null` when there is no such session (PocketPing then looks the visitor
   * up as usual). Without it: `getSession` then `updateSession`.
   */
  touchSession?(sessionId: string, visitorId: string, touch: SessionTouch): Promise<Session | null | undefined>;
  /**
   * Fast path of a `/connect` without a known session, one round trip instead of a lookup and
   * an insert: when `session.visitorId` already has a session, returns the newest one (like
   * `getSessionByVisitorId`) with `created: false` and stores nothing; otherwise stores
   * `session` (like `createSession`) and returns it with `created: true`. Without it:
   * `getSessionByVisitorId`, then `createSession`.
   */
  createSessionForVisitor?(session: Session): Promise<{ session: Session; created: boolean }>;
  /**
   * Stores a new message and applies `sessionPatch` to its session in one atomic step, one round
   * trip instead of two. Returns the stored message (with `seq` when the storage assigns them)
   * and the updated session. When the session does not exist nothing is stored and the answer
   * is `null`: PocketPing relies on this to store a visitor's message without reading the
   * session first. Without it: `getSession`, then `saveMessage` and `updateSession`.
   */
  saveMessageWithSession?(
    message: Message,
    sessionPatch: SessionPatch,
  ): Promise<{ message: Message; session: Session } | null | undefined>;
  /** Reads one message by id. */
  getMessage?(messageId: string): Promise<Message | null | undefined>;
  /**
   * Applies a patch atomically and returns the updated message, or `null` when unknown.
   * Storages that assign `Message.seq` give the message the session's next `seq` here too.
   */
  updateMessage?(messageId: string, patch: MessagePatch): Promise<Message | null | undefined>;

  /** Remembers (or forgets, with `null`) the thread/topic of a session on one bridge. */
  setBridgeThread?(sessionId: string, bridge: string, threadId: string | null): Promise<void>;
  /** Finds the session whose thread on `bridge` is `threadId`. */
  findSessionByBridgeThread?(bridge: string, threadId: string): Promise<Session | null | undefined>;
  /** Remembers the platform message id of one of our messages on one bridge. */
  saveBridgeMessageId?(messageId: string, bridge: string, platformMessageId: string): Promise<void>;
  /** Finds our message by its platform message id on `bridge`. */
  findMessageByBridgeId?(bridge: string, platformMessageId: string): Promise<Message | null | undefined>;

  /** Stores attachment metadata (the bytes live in an AttachmentStore). */
  saveAttachment?(attachment: Attachment): Promise<void>;
  /** Reads attachment metadata. */
  getAttachment?(attachmentId: string): Promise<Attachment | null | undefined>;
  /** Applies a patch and returns the updated attachment. */
  updateAttachment?(attachmentId: string, patch: AttachmentPatch): Promise<Attachment | null | undefined>;

  /**
   * Durable outbox (all six together, or none): bridge deliveries survive restarts and are
   * shared by every instance. Stores new records (`status: pending`); ids already stored are left
   * unchanged, so a repeated add is harmless.
   */
  outboxAdd?(records: OutboxRecord[]): Promise<void>;
  /**
   * Atomically leases up to `limit` due records, at most one per lane and only a lane's head
   * (its lowest-`seq` pending record), skipping lanes whose head another owner holds with an
   * unexpired lease. Sets `leaseOwner`/`leaseUntil` on what it returns.
   */
  outboxClaim?(claim: OutboxClaim): Promise<OutboxRecord[]>;
  /** Removes a delivered record. */
  outboxComplete?(id: string): Promise<void>;
  /** Records a failed attempt: new attempts count, next try, error, or `dead`; releases the lease. */
  outboxReschedule?(
    id: string,
    update: { attempts: number; nextAttemptAt: Date; lastError?: string; status: 'pending' | 'dead' },
  ): Promise<void>;
  /** Records by status, oldest first. */
  outboxList?(query: { status: 'pending' | 'dead'; limit?: number }): Promise<OutboxRecord[]>;
  /** Puts a dead record back to pending (attempts reset, due now); false when unknown or not dead. */
  outboxRetry?(id: string): Promise<boolean>;

  /**
   * Leases for jobs that must run on exactly one instance (Telegram long polling, the Discord
   * Gateway, retention). Takes the lease `name` for `owner` until `now + ttlMs` when it is free,
   * expired, or already held by `owner` (a renewal); true when `owner` holds it afterwards.
   * Atomic across processes. Both lease methods together, or none.
   */
  leaseAcquire?(name: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if `owner` holds it. */
  leaseRelease?(name: string, owner: string): Promise<void>;
}

/** Names of the optional Storage methods, for capability reports. */
export const OPTIONAL_STORAGE_METHODS = [
  'init',
  'close',
  'ping',
  'updateSession',
  'getSessionByVisitorId',
  'listSessions',
  'deleteSession',
  'cleanupOldSessions',
  'touchSession',
  'createSessionForVisitor',
  'saveMessageWithSession',
  'getMessage',
  'updateMessage',
  'setBridgeThread',
  'findSessionByBridgeThread',
  'saveBridgeMessageId',
  'findMessageByBridgeId',
  'saveAttachment',
  'getAttachment',
  'updateAttachment',
  'outboxAdd',
  'outboxClaim',
  'outboxComplete',
  'outboxReschedule',
  'outboxList',
  'outboxRetry',
] as const;

/** The outbox methods a storage must have (all of them) to host the durable outbox. */
export const OUTBOX_METHODS = [
  'outboxAdd',
  'outboxClaim',
  'outboxComplete',
  'outboxReschedule',
  'outboxList',
  'outboxRetry',
] as const;

/** Applies a `MessageQuery` to an in-memory list (used by MemoryStorage and as a fallback). */
export function applyMessageQuery(messages: Message[], query: MessageQuery = {}): Message[] {
  let list = messages;
  const { after, afterSeq, before, limit } = query;
  if (after) list = list.filter((m) => m.updatedAt.getTime() > after.getTime());
  if (afterSeq !== undefined) list = list.filter((m) => m.seq === undefined || m.seq > afterSeq);
  if (before) list = list.filter((m) => m.timestamp.getTime() < before.getTime());
  list = [...list].sort(compareMessages);
  if (limit !== undefined && limit >= 0 && list.length > limit) list = list.slice(list.length - limit);
  return list;
}

/** Ascending by timestamp, then id: the one message order every storage returns. */
export function compareMessages(a: Message, b: Message): number {
  const d = a.timestamp.getTime() - b.timestamp.getTime();
  if (d !== 0) return d;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
