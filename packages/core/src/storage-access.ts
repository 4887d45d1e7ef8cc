import { isPocketPingError, StorageError } from './errors.js';
import type { Attachment, Message, Session } from './models.js';
import {
  type AttachmentPatch,
  applyMessageQuery,
  compareMessages,
  type MessagePatch,
  type MessageQuery,
  type SessionPatch,
  type SessionQuery,
  type SessionTouch,
  type Storage,
} from './storage.js';

type Logger = { warn(obj: unknown, msg?: string): void };

function merge<T extends object>(base: T, patch: Partial<T>): T {
  const out = { ...base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) if (v !== undefined) out[k] = v;
  return out as T;
}

/** True when `list` is already ascending, within `after`/`before`, and no longer than `limit`. */
function queryApplied(list: Message[], query: MessageQuery): boolean {
  if (query.limit !== undefined && list.length > query.limit) return false;
  const after = query.after?.getTime();
  const before = query.before?.getTime();
  const afterSeq = query.afterSeq;
  for (let i = 0; i < list.length; i++) {
    const m = list[i]!;
    if (after !== undefined && m.updatedAt.getTime() <= after) return false;
    if (afterSeq !== undefined && m.seq !== undefined && m.seq <= afterSeq) return false;
    if (before !== undefined && m.timestamp.getTime() >= before) return false;
    if (i > 0 && compareMessages(list[i - 1]!, m) > 0) return false;
  }
  return true;
}

/**
 * Wraps a user's Storage: calls the optional methods when present and falls back otherwise,
 * and turns driver errors into `StorageError`. Internal to core; the only place that knows
 * which methods a storage has.
 */
export class StorageAccess {
  /** Fallback indexes for storages without reverse bridge lookups (process lifetime only). */
  private readonly threadIndex = new Map<string, string>();
  private readonly bridgeMessageIndex = new Map<string, string>();
  private readonly attachmentFallback = new Map<string, Attachment>();
  private readonly warned = new Set<string>();

  constructor(
    readonly storage: Storage,
    private readonly logger: Logger,
  ) {}

  /** Which optional features this storage has. */
  has(method: keyof Storage): boolean {
    return typeof this.storage[method] === 'function';
  }

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isPocketPingError(err)) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      throw new StorageError(`storage ${operation} failed: ${reason}`, { cause: err });
    }
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.logger.warn({ storageFallback: key }, message);
  }

  private notSupported(method: string, feature: string): StorageError {
    return new StorageError(
      `${feature} is not supported by this storage: it does not implement ${method}(). Use a storage that does (MemoryStorage, PostgresStorage, RedisStorage, MongoStorage) or add the method.`,
      { code: 'STORAGE_NOT_SUPPORTED', details: { method } },
    );
  }

  init(): Promise<void> {
    return this.call('init', async () => {
      await this.storage.init?.();
    });
  }

  close(): Promise<void> {
    return this.call('close', async () => {
      await this.storage.close?.();
    });
  }

  async ping(): Promise<boolean> {
    try {
      if (this.storage.ping) return await this.storage.ping();
      await this.storage.getSession('ses_readiness_probe');
      return true;
    } catch {
      return false;
    }
  }

  createSession(session: Session): Promise<void> {
    return this.call('createSession', () => this.storage.createSession(session));
  }

  async getSession(sessionId: string): Promise<Session | null> {
    const s = await this.call('getSession', () => this.storage.getSession(sessionId));
    return s ?? null;
  }

  async updateSession(sessionId: string, patch: SessionPatch): Promise<Session | null> {
    if (this.storage.updateSession) {
      const s = await this.call('updateSession', () => this.storage.updateSession!(sessionId, patch));
      return s ?? null;
    }
    const current = await this.getSession(sessionId);
    if (!current) return null;
    const next = merge(current, patch as Partial<Session>);
    await this.call('createSession', () => this.storage.createSession(next));
    return next;
  }

  /** A returning visitor's session, touched in one step; null when the storage cannot or there is no such session. */
  async touchSession(sessionId: string, visitorId: string, touch: SessionTouch): Promise<Session | null> {
    if (!this.storage.touchSession) return null;
    const s = await this.call('touchSession', () => this.storage.touchSession!(sessionId, visitorId, touch));
    return s ?? null;
  }

  /**
   * The visitor's newest session, or `session` stored as new when the visitor has none (one
   * step when the storage can).
   */
  async createSessionForVisitor(session: Session): Promise<{ session: Session; created: boolean }> {
    if (this.storage.createSessionForVisitor) {
      return this.call('createSessionForVisitor', () => this.storage.createSessionForVisitor!(session));
    }
    const existing = await this.getSessionByVisitorId(session.visitorId);
    if (existing) return { session: existing, created: false };
    await this.createSession(session);
    return { session, created: true };
  }

  /** Whether the storage has the combined write, which checks that the session exists by itself. */
  get savesMessageWithSession(): boolean {
    return typeof this.storage.saveMessageWithSession === 'function';
  }

  /**
   * Stores a new message and patches its session, in one step when the storage can. `null` when
   * the session does not exist: with the combined write nothing is stored then; without it the
   * caller has read the session already, and only a session deleted in between is noticed
   * (after the message was stored).
   */
  async saveMessageWithSession(
    message: Message,
    patch: SessionPatch,
  ): Promise<{ message: Message; session: Session } | null> {
    if (this.storage.saveMessageWithSession) {
      const r = await this.call('saveMessageWithSession', () => this.storage.saveMessageWithSession!(message, patch));
      return r ?? null;
    }
    const stored = await this.saveMessage(message);
    const session = await this.updateSession(message.sessionId, patch);
    return session ? { message: stored, session } : null;
  }

  async getSessionByVisitorId(visitorId: string): Promise<Session | null> {
    if (!this.storage.getSessionByVisitorId) return null;
    const s = await this.call('getSessionByVisitorId', () => this.storage.getSessionByVisitorId!(visitorId));
    return s ?? null;
  }

  listSessions(query: SessionQuery = {}): Promise<Session[]> {
    if (!this.storage.listSessions) return Promise.reject(this.notSupported('listSessions', 'Listing sessions'));
    return this.call('listSessions', () => this.storage.listSessions!(query));
  }

  async deleteSession(sessionId: string): Promise<boolean> {
    if (!this.storage.deleteSession) throw this.notSupported('deleteSession', 'Deleting a session');
    return this.call('deleteSession', () => this.storage.deleteSession!(sessionId));
  }

  async cleanupOldSessions(olderThan: Date): Promise<number> {
    if (!this.storage.cleanupOldSessions) throw this.notSupported('cleanupOldSessions', 'Retention');
    return this.call('cleanupOldSessions', () => this.storage.cleanupOldSessions!(olderThan));
  }

  /** Stores a message; returns it as stored (with `seq` when the storage assigns one). */
  async saveMessage(message: Message): Promise<Message> {
    const stored = await this.call('saveMessage', () => this.storage.saveMessage(message));
    return stored && typeof stored === 'object' ? stored : message;
  }

  async getMessages(sessionId: string, query: MessageQuery = {}): Promise<Message[]> {
    const list = await this.call('getMessages', () => this.storage.getMessages(sessionId, query));
    // Storages that applied the query pass one linear check; only those that did not are
    // filtered and sorted here (this runs on every /connect and poll).
    return queryApplied(list, query) ? list : applyMessageQuery(list, query);
  }

  /** A message of the given session, or null (also when it belongs to another session). */
  async getMessage(sessionId: string, messageId: string): Promise<Message | null> {
    let m: Message | null | undefined;
    if (this.storage.getMessage) {
      m = await this.call('getMessage', () => this.storage.getMessage!(messageId));
    } else {
      const list = await this.getMessages(sessionId);
      m = list.find((x) => x.id === messageId);
    }
    if (!m || m.sessionId !== sessionId) return null;
    return m;
  }

  async updateMessage(sessionId: string, messageId: string, patch: MessagePatch): Promise<Message | null> {
    if (this.storage.updateMessage) {
      const m = await this.call('updateMessage', () => this.storage.updateMessage!(messageId, patch));
      return m ?? null;
    }
    const current = await this.getMessage(sessionId, messageId);
    if (!current) return null;
    const next = merge(current, patch as Partial<Message>);
    return this.saveMessage(next);
  }

  async setBridgeThread(sessionId: string, bridge: string, threadId: string | null): Promise<void> {
    if (this.storage.setBridgeThread) {
      await this.call('setBridgeThread', () => this.storage.setBridgeThread!(sessionId, bridge, threadId));
      return;
    }
    const s = await this.getSession(sessionId);
    if (!s) return;
    const threads = { ...(s.bridgeThreads ?? {}) };
    const previous = threads[bridge];
    if (previous !== undefined) this.threadIndex.delete(`${bridge}\u0000${previous}`);
    if (threadId === null) delete threads[bridge];
    else {
      threads[bridge] = threadId;
      this.threadIndex.set(`${bridge}\u0000${threadId}`, sessionId);
    }
    await this.updateSession(sessionId, { bridgeThreads: threads });
  }

  async findSessionByBridgeThread(bridge: string, threadId: string): Promise<Session | null> {
    if (this.storage.findSessionByBridgeThread) {
      const s = await this.call('findSessionByBridgeThread', () =>
        this.storage.findSessionByBridgeThread!(bridge, threadId),
      );
      return s ?? null;
    }
    this.warnOnce(
      'findSessionByBridgeThread',
      'storage has no findSessionByBridgeThread(): thread → session lookups only work for threads created since this process started',
    );
    const id = this.threadIndex.get(`${bridge}\u0000${threadId}`);
    return id ? this.getSession(id) : null;
  }

  async saveBridgeMessageId(sessionId: string, messageId: string, bridge: string, platformId: string): Promise<void> {
    if (this.storage.saveBridgeMessageId) {
      await this.call('saveBridgeMessageId', () => this.storage.saveBridgeMessageId!(messageId, bridge, platformId));
      return;
    }
    const m = await this.getMessage(sessionId, messageId);
    if (!m) return;
    this.bridgeMessageIndex.set(`${bridge}\u0000${platformId}`, `${sessionId}\u0000${messageId}`);
    await this.updateMessage(sessionId, messageId, {
      bridgeMessageIds: { ...(m.bridgeMessageIds ?? {}), [bridge]: platformId },
    });
  }

  async findMessageByBridgeId(bridge: string, platformId: string): Promise<Message | null> {
    if (this.storage.findMessageByBridgeId) {
      const m = await this.call('findMessageByBridgeId', () => this.storage.findMessageByBridgeId!(bridge, platformId));
      return m ?? null;
    }
    this.warnOnce(
      'findMessageByBridgeId',
      'storage has no findMessageByBridgeId(): operator edits and deletes only sync for messages sent since this process started',
    );
    const ref = this.bridgeMessageIndex.get(`${bridge}\u0000${platformId}`);
    if (!ref) return null;
    const [sessionId, messageId] = ref.split('\u0000') as [string, string];
    return this.getMessage(sessionId, messageId);
  }

  async saveAttachment(attachment: Attachment): Promise<void> {
    if (this.storage.saveAttachment) {
      await this.call('saveAttachment', () => this.storage.saveAttachment!(attachment));
      return;
    }
    this.warnOnce(
      'saveAttachment',
      'storage has no saveAttachment(): pending uploads are tracked in process memory (sent attachments are kept with their messages)',
    );
    // Bounded so a long-running process with such a storage does not grow without limit.
    if (this.attachmentFallback.size > 10_000) {
      const first = this.attachmentFallback.keys().next().value;
      if (first !== undefined) this.attachmentFallback.delete(first);
    }
    this.attachmentFallback.set(attachment.id, structuredClone(attachment));
  }

  async getAttachment(attachmentId: string): Promise<Attachment | null> {
    if (this.storage.getAttachment) {
      const a = await this.call('getAttachment', () => this.storage.getAttachment!(attachmentId));
      return a ?? null;
    }
    const a = this.attachmentFallback.get(attachmentId);
    return a ? structuredClone(a) : null;
  }

  async updateAttachment(attachmentId: string, patch: AttachmentPatch): Promise<Attachment | null> {
    if (this.storage.updateAttachment) {
      const a = await this.call('updateAttachment', () => this.storage.updateAttachment!(attachmentId, patch));
      return a ?? null;
    }
    const current = await this.getAttachment(attachmentId);
    if (!current) return null;
    const next = merge(current, patch as Partial<Attachment>);
    if (this.storage.saveAttachment) await this.saveAttachment(next);
    else this.attachmentFallback.set(attachmentId, next);
    return next;
  }
}
