import type { Attachment, Message, Session } from './models.js';

/** A query over one session's messages. */
export interface MessageQuery {
  /**
   * Only messages created **or changed** (edited, deleted, delivered, read) strictly after this
   * instant: `message.updatedAt > after`.
   */
  after?: Date;
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
export type SessionPatch = Partial<Omit<Session, 'id' | 'visitorId' | 'createdAt'>>;

/** Fields of a message that can be changed; the top-level keys given replace the stored ones. */
export type MessagePatch = Partial<Omit<Message, 'id' | 'sessionId' | 'timestamp' | 'sender'>>;

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
  /** Stores a new message. */
  saveMessage(message: Message): Promise<void>;
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
  /** Deletes a session with its messages, attachments and bridge references. */
  deleteSession?(sessionId: string): Promise<boolean>;
  /** Deletes sessions whose last activity is older than `olderThan`; returns how many. */
  cleanupOldSessions?(olderThan: Date): Promise<number>;

  /** Reads one message by id. */
  getMessage?(messageId: string): Promise<Message | null | undefined>;
  /** Applies a patch atomically and returns the updated message, or `null` when unknown. */
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
  'getMessage',
  'updateMessage',
  'setBridgeThread',
  'findSessionByBridgeThread',
  'saveBridgeMessageId',
  'findMessageByBridgeId',
  'saveAttachment',
  'getAttachment',
  'updateAttachment',
] as const;

/** Applies a `MessageQuery` to an in-memory list (used by MemoryStorage and as a fallback). */
export function applyMessageQuery(messages: Message[], query: MessageQuery = {}): Message[] {
  let list = messages;
  const { after, before, limit } = query;
  if (after) list = list.filter((m) => m.updatedAt.getTime() > after.getTime());
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
