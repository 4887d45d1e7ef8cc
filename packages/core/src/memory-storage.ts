import type { Attachment, Message, Session } from './models.js';
import {
  type AttachmentPatch,
  applyMessageQuery,
  compareMessages,
  type MessagePatch,
  type MessageQuery,
  type OutboxClaim,
  type OutboxRecord,
  type SessionPatch,
  type SessionQuery,
  type SessionTouch,
  type Storage,
} from './storage.js';

/**
 * Deep copy of stored records: plain objects, arrays and Dates are copied by hand (several
 * times cheaper than `structuredClone` for these small records, and this runs on every read and
 * write); anything else goes through `structuredClone`.
 */
function clone<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = clone(value[i]);
    return out as T;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = clone((value as Record<string, unknown>)[key]);
  return out as T;
}

function assignDefined<T extends object>(target: T, patch: Partial<T>): T {
  for (const [key, value] of Object.entries(patch)) {
    if (value !== undefined) (target as Record<string, unknown>)[key] = value;
  }
  return target;
}

/**
 * Keeps everything in process memory. The default storage: fast, zero setup, and gone on
 * restart. Implements every optional Storage method.
 *
 * @example
 * ```ts
 * const pp = new PocketPing({ storage: new MemoryStorage() });
 * ```
 */
export class MemoryStorage implements Storage {
  private readonly sessions = new Map<string, Session>();
  /** Per session, messages kept sorted ascending (timestamp, id). */
  private readonly sessionMessages = new Map<string, Message[]>();
  private readonly messages = new Map<string, Message>();
  private readonly visitorSessions = new Map<string, string>();
  private readonly threads = new Map<string, string>();
  private readonly bridgeMessages = new Map<string, string>();
  private readonly attachments = new Map<string, Attachment>();
  private readonly outbox = new Map<string, OutboxRecord>();
  private readonly leases = new Map<string, { owner: string; until: number }>();
  /** Latest message sequence number per session (see `Message.seq`). */
  private readonly seqs = new Map<string, number>();

  private nextSeq(sessionId: string): number {
    const seq = (this.seqs.get(sessionId) ?? 0) + 1;
    this.seqs.set(sessionId, seq);
    return seq;
  }

  private readSession(s: Session): Session {
    const copy = clone(s);
    copy.seq = this.seqs.get(s.id) ?? 0;
    return copy;
  }

  async createSession(session: Session): Promise<void> {
    const copy = clone(session);
    delete copy.seq;
    this.sessions.set(copy.id, copy);
    this.indexVisitor(copy);
    for (const [bridge, threadId] of Object.entries(copy.bridgeThreads ?? {})) {
      this.threads.set(`${bridge}\u0000${threadId}`, copy.id);
    }
  }

  async createSessionForVisitor(session: Session): Promise<{ session: Session; created: boolean }> {
    const existing = await this.getSessionByVisitorId(session.visitorId);
    if (existing) return { session: existing, created: false };
    await this.createSession(session);
    return { session: (await this.getSession(session.id))!, created: true };
  }

  async getSession(sessionId: string): Promise<Session | null> {
    const s = this.sessions.get(sessionId);
    return s ? this.readSession(s) : null;
  }

  async updateSession(sessionId: string, patch: SessionPatch): Promise<Session | null> {
    const s = this.sessions.get(sessionId);
    if (!s) return null;
    const { seq: _readOnly, ...rest } = patch as SessionPatch & { seq?: number };
    assignDefined(s, clone(rest));
    this.indexVisitor(s);
    return this.readSession(s);
  }

  async touchSession(sessionId: string, visitorId: string, touch: SessionTouch): Promise<Session | null> {
    const s = this.sessions.get(sessionId);
    if (!s || s.visitorId !== visitorId) return null;
    const stored = s.metadata ?? {};
    const metadata = { ...stored, ...clone(touch.metadata) };
    for (const key of touch.keepKeys) if (stored[key] !== undefined) metadata[key] = stored[key];
    s.metadata = metadata;
    s.lastActivity = new Date(touch.lastActivity.getTime());
    return this.readSession(s);
  }

  async saveMessageWithSession(
    message: Message,
    sessionPatch: SessionPatch,
  ): Promise<{ message: Message; session: Session } | null> {
    const s = this.sessions.get(message.sessionId);
    if (!s) return null;
    const stored = this.storeMessage(message);
    // A patch cannot move the session to another visitor or creation time (SessionPatch has
    // neither), so the visitor index stays as it is.
    for (const key in sessionPatch) {
      const value = (sessionPatch as Record<string, unknown>)[key];
      if (value !== undefined && key !== 'seq') (s as unknown as Record<string, unknown>)[key] = clone(value);
    }
    return { message: clone(stored), session: this.readSession(s) };
  }

  async getSessionByVisitorId(visitorId: string): Promise<Session | null> {
    const id = this.visitorSessions.get(visitorId);
    return id ? this.getSession(id) : null;
  }

  async listSessions(query: SessionQuery = {}): Promise<Session[]> {
    let list = [...this.sessions.values()];
    if (query.status) list = list.filter((s) => s.status === query.status);
    if (query.before) list = list.filter((s) => s.lastActivity.getTime() < query.before!.getTime());
    if (query.since) list = list.filter((s) => s.lastActivity.getTime() >= query.since!.getTime());
    list.sort((a, b) => b.lastActivity.getTime() - a.lastActivity.getTime() || (a.id < b.id ? -1 : 1));
    if (query.limit !== undefined) list = list.slice(0, query.limit);
    return list.map((s) => this.readSession(s));
  }

  async deleteSession(sessionId: string): Promise<boolean> {
    const s = this.sessions.get(sessionId);
    if (!s) return false;
    this.sessions.delete(sessionId);
    if (this.visitorSessions.get(s.visitorId) === sessionId) {
      this.visitorSessions.delete(s.visitorId);
      // The visitor's next-newest session becomes the one a returning visitor resumes.
      for (const other of this.sessions.values()) if (other.visitorId === s.visitorId) this.indexVisitor(other);
    }
    for (const [id, r] of this.outbox) if (r.sessionId === sessionId) this.outbox.delete(id);
    for (const [bridge, threadId] of Object.entries(s.bridgeThreads ?? {})) {
      this.threads.delete(`${bridge}\u0000${threadId}`);
    }
    for (const m of this.sessionMessages.get(sessionId) ?? []) {
      this.messages.delete(m.id);
      for (const [bridge, pid] of Object.entries(m.bridgeMessageIds ?? {})) {
        this.bridgeMessages.delete(`${bridge}\u0000${pid}`);
      }
    }
    this.sessionMessages.delete(sessionId);
    this.seqs.delete(sessionId);
    for (const [id, a] of this.attachments) if (a.sessionId === sessionId) this.attachments.delete(id);
    return true;
  }

  async cleanupOldSessions(olderThan: Date): Promise<number> {
    let count = 0;
    for (const s of [...this.sessions.values()]) {
      if (s.lastActivity.getTime() < olderThan.getTime()) {
        await this.deleteSession(s.id);
        count++;
      }
    }
    return count;
  }

  async saveMessage(message: Message): Promise<Message> {
    return clone(this.storeMessage(message));
  }

  /** Stores a copy of `message` with the session's next seq; returns the stored copy itself. */
  private storeMessage(message: Message): Message {
    const copy = clone(message);
    copy.seq = this.nextSeq(copy.sessionId);
    const existing = this.messages.get(copy.id);
    let list = this.sessionMessages.get(copy.sessionId);
    if (!list) {
      list = [];
      this.sessionMessages.set(copy.sessionId, list);
    }
    if (existing) {
      // Saved again: the old copy leaves its list (its own session's, should the id move).
      const old = existing.sessionId === copy.sessionId ? list : this.sessionMessages.get(existing.sessionId);
      const idx = old ? old.indexOf(existing) : -1;
      if (idx >= 0) old!.splice(idx, 1);
    }
    const last = list[list.length - 1];
    if (last === undefined || compareMessages(last, copy) <= 0) {
      // The usual case: the newest message of its session.
      list.push(copy);
    } else {
      // Binary insertion keeps the list sorted.
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (compareMessages(list[mid]!, copy) <= 0) lo = mid + 1;
        else hi = mid;
      }
      list.splice(lo, 0, copy);
    }
    this.messages.set(copy.id, copy);
    if (copy.bridgeMessageIds) {
      for (const [bridge, pid] of Object.entries(copy.bridgeMessageIds)) {
        this.bridgeMessages.set(`${bridge}\u0000${pid}`, copy.id);
      }
    }
    return copy;
  }

  async getMessages(sessionId: string, query: MessageQuery = {}): Promise<Message[]> {
    const list = this.sessionMessages.get(sessionId) ?? [];
    if (!query.after && !query.before && query.afterSeq === undefined) {
      const slice =
        query.limit !== undefined && list.length > query.limit ? list.slice(list.length - query.limit) : list;
      return slice.map(clone);
    }
    return applyMessageQuery(list, query).map(clone);
  }

  async getMessage(messageId: string): Promise<Message | null> {
    const m = this.messages.get(messageId);
    return m ? clone(m) : null;
  }

  async updateMessage(messageId: string, patch: MessagePatch): Promise<Message | null> {
    const m = this.messages.get(messageId);
    if (!m) return null;
    const { seq: _assignedHere, ...rest } = patch as MessagePatch & { seq?: number };
    assignDefined(m, clone(rest));
    m.seq = this.nextSeq(m.sessionId);
    for (const [bridge, pid] of Object.entries(m.bridgeMessageIds ?? {})) {
      this.bridgeMessages.set(`${bridge}\u0000${pid}`, m.id);
    }
    return clone(m);
  }

  async setBridgeThread(sessionId: string, bridge: string, threadId: string | null): Promise<void> {
    const s = this.sessions.get(sessionId);
    if (!s) return;
    const previous = s.bridgeThreads?.[bridge];
    if (previous !== undefined) this.threads.delete(`${bridge}\u0000${previous}`);
    const threads = { ...(s.bridgeThreads ?? {}) };
    if (threadId === null) delete threads[bridge];
    else {
      threads[bridge] = threadId;
      this.threads.set(`${bridge}\u0000${threadId}`, sessionId);
    }
    s.bridgeThreads = threads;
  }

  async findSessionByBridgeThread(bridge: string, threadId: string): Promise<Session | null> {
    const id = this.threads.get(`${bridge}\u0000${threadId}`);
    return id ? this.getSession(id) : null;
  }

  async saveBridgeMessageId(messageId: string, bridge: string, platformMessageId: string): Promise<void> {
    const m = this.messages.get(messageId);
    if (!m) return;
    m.bridgeMessageIds = { ...(m.bridgeMessageIds ?? {}), [bridge]: platformMessageId };
    this.bridgeMessages.set(`${bridge}\u0000${platformMessageId}`, messageId);
  }

  async findMessageByBridgeId(bridge: string, platformMessageId: string): Promise<Message | null> {
    const id = this.bridgeMessages.get(`${bridge}\u0000${platformMessageId}`);
    return id ? this.getMessage(id) : null;
  }

  async saveAttachment(attachment: Attachment): Promise<void> {
    this.attachments.set(attachment.id, clone(attachment));
  }

  async getAttachment(attachmentId: string): Promise<Attachment | null> {
    const a = this.attachments.get(attachmentId);
    return a ? clone(a) : null;
  }

  async updateAttachment(attachmentId: string, patch: AttachmentPatch): Promise<Attachment | null> {
    const a = this.attachments.get(attachmentId);
    if (!a) return null;
    assignDefined(a, clone(patch));
    return clone(a);
  }

  async outboxAdd(records: OutboxRecord[]): Promise<void> {
    for (const r of records) if (!this.outbox.has(r.id)) this.outbox.set(r.id, clone(r));
  }

  async outboxClaim(claim: OutboxClaim): Promise<OutboxRecord[]> {
    const heads = new Map<string, OutboxRecord>();
    for (const r of this.outbox.values()) {
      if (r.status !== 'pending') continue;
      const lane = `${r.bridge}\u0000${r.sessionId}`;
      const head = heads.get(lane);
      if (!head || r.seq < head.seq) heads.set(lane, r);
    }
    const now = claim.now.getTime();
    const out: OutboxRecord[] = [];
    for (const r of [...heads.values()].sort(
      (a, b) => a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime() || a.seq - b.seq,
    )) {
      if (out.length >= claim.limit) break;
      if (r.nextAttemptAt.getTime() > now) continue;
      if (r.leaseOwner && r.leaseOwner !== claim.owner && r.leaseUntil && r.leaseUntil.getTime() > now) continue;
      r.leaseOwner = claim.owner;
      r.leaseUntil = new Date(now + claim.leaseMs);
      out.push(clone(r));
    }
    return out;
  }

  async outboxComplete(id: string): Promise<void> {
    this.outbox.delete(id);
  }

  async outboxReschedule(
    id: string,
    update: { attempts: number; nextAttemptAt: Date; lastError?: string; status: 'pending' | 'dead' },
  ): Promise<void> {
    const r = this.outbox.get(id);
    if (!r) return;
    r.attempts = update.attempts;
    r.nextAttemptAt = new Date(update.nextAttemptAt);
    r.status = update.status;
    if (update.lastError !== undefined) r.lastError = update.lastError;
    delete r.leaseOwner;
    delete r.leaseUntil;
  }

  async outboxList(query: { status: 'pending' | 'dead'; limit?: number }): Promise<OutboxRecord[]> {
    const list = [...this.outbox.values()]
      .filter((r) => r.status === query.status)
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.seq - b.seq);
    return (query.limit !== undefined ? list.slice(0, query.limit) : list).map(clone);
  }

  async outboxRetry(id: string): Promise<boolean> {
    const r = this.outbox.get(id);
    if (!r || r.status !== 'dead') return false;
    r.status = 'pending';
    r.attempts = 0;
    r.nextAttemptAt = new Date();
    delete r.lastError;
    return true;
  }

  async leaseAcquire(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const held = this.leases.get(name);
    if (held && held.owner !== owner && held.until > now) return false;
    this.leases.set(name, { owner, until: now + ttlMs });
    return true;
  }

  async leaseRelease(name: string, owner: string): Promise<void> {
    if (this.leases.get(name)?.owner === owner) this.leases.delete(name);
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {}

  private indexVisitor(s: Session): void {
    const currentId = this.visitorSessions.get(s.visitorId);
    const current = currentId ? this.sessions.get(currentId) : undefined;
    if (!current || current.id === s.id || current.createdAt.getTime() <= s.createdAt.getTime()) {
      this.visitorSessions.set(s.visitorId, s.id);
    }
  }
}
