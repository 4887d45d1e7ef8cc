import type {
  Attachment,
  AttachmentPatch,
  Message,
  MessagePatch,
  MessageQuery,
  OutboxClaim,
  OutboxRecord,
  Session,
  SessionPatch,
  SessionQuery,
  SessionTouch,
  Storage,
} from '@pocketping/core';
import { compareMessages, toJsonWithDates, ValidationError } from '@pocketping/core';
import type { Redis } from 'ioredis';
import { createClient } from './client.js';
import {
  decodeAttachment,
  decodeMessage,
  decodeOutbox,
  decodeSession,
  encodeBridgeMap,
  encodeFields,
  encodeOutbox,
  encodePatch,
  pairsToHash,
} from './codec.js';
import { PACKAGE_NAME, unreachableError, wrapError } from './errors.js';
import { encodeBridge, Keys } from './keys.js';
import {
  isRedisClient,
  type RedisStorageOptions,
  RedisStorageOptionsSchema,
  type RedisStorageSettings,
} from './options.js';
import { SCRIPTS } from './scripts.js';

/** Parses constructor input into settings, or throws a ValidationError naming the option. */
function parseOptions(input: string | RedisStorageOptions | Redis): RedisStorageSettings {
  const raw = typeof input === 'string' ? { url: input } : isRedisClient(input) ? { client: input } : input;
  const parsed = RedisStorageOptionsSchema.safeParse(raw);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'options'} ${i.message}`).join('; ');
    throw new ValidationError(`${PACKAGE_NAME}: invalid options: ${detail}`, { code: 'CONFIG_INVALID' });
  }
  return parsed.data;
}

const ms = (d: Date | undefined): string => (d ? String(d.getTime()) : '');

/** A lease lifetime in whole milliseconds (at least 1), or a ValidationError. */
function leaseMs(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new ValidationError(`${PACKAGE_NAME}: leaseAcquire ttlMs must be a positive number of milliseconds`);
  }
  return Math.max(1, Math.ceil(ttlMs));
}

/** Script arguments of a whole message (see `putMessage` in scripts.ts). */
function messageArgs(message: Message): (string | number)[] {
  const ids = encodeBridgeMap(message.bridgeMessageIds);
  return [
    message.id,
    message.sessionId,
    ms(message.timestamp),
    ms(message.updatedAt ?? message.timestamp),
    ids.length / 2,
    ...ids,
    ...encodeFields(message),
  ];
}

/** Script arguments of a session patch (see `patchSession` in scripts.ts). */
function sessionPatchArgs(patch: SessionPatch): (string | number)[] {
  const threads = encodeBridgeMap(patch.bridgeThreads);
  return [
    ms(patch.lastActivity),
    patch.status ?? '',
    patch.bridgeThreads !== undefined ? '1' : '0',
    threads.length / 2,
    ...threads,
    ...encodePatch(patch),
  ];
}

/** Outbox records per add script, so one call never blocks Redis for long. */
const OUTBOX_BATCH = 500;

/** Claim order, like MemoryStorage: the longest-due head first. */
function byDue(a: OutboxRecord, b: OutboxRecord): number {
  return a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime() || a.seq - b.seq;
}

/** Listing order: oldest first, then by seq (and id, for a stable order). */
function byCreated(a: OutboxRecord, b: OutboxRecord): number {
  return a.createdAt.getTime() - b.createdAt.getTime() || a.seq - b.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * PocketPing storage on Redis. Every optional Storage method is implemented. Each session is
 * a hash, its history a sorted set by timestamp (equal timestamps order by id) plus one by
 * `updatedAt` for the `after` delta and one by `seq` for the `afterSeq` delta, each message a
 * hash; multi-key writes and patches run as Lua scripts, so they are atomic. Every message
 * write gets the session's next sequence number in the same script. With `ttlDays`, a whole conversation expires after that
 * many days without activity.
 *
 * @example
 * ```ts
 * import { PocketPing } from '@pocketping/core';
 * import { RedisEventBus, RedisStorage } from '@pocketping/storage-redis';
 *
 * const storage = new RedisStorage({ url: process.env.REDIS_URL!, ttlDays: 90 });
 * const pp = new PocketPing({ storage, eventBus: new RedisEventBus({ client: storage.client }) });
 * await pp.init();
 * ```
 */
export class RedisStorage implements Storage {
  /** The ioredis client (created from `url`, or the one given). */
  readonly client: Redis;
  /** Validated options with defaults applied. */
  readonly settings: Readonly<Omit<RedisStorageSettings, 'client'>>;
  private readonly ownsClient: boolean;
  private readonly lastError: () => Error | undefined;
  private readonly keys: Keys;
  /** Prefix as the scripts see it: the client's own `keyPrefix` applies to KEYS, not to ARGV. */
  private readonly scriptPrefix: string;
  private readonly ttlSeconds: number;
  private closed = false;

  /**
   * @param options A `redis://` URL, a ready-made ioredis client, or `RedisStorageOptions`.
   * @example
   * ```ts
   * new RedisStorage('redis://localhost:6379');
   * new RedisStorage({ url: process.env.REDIS_URL, keyPrefix: 'support:', ttlDays: 30 });
   * new RedisStorage(existingIoredisClient);
   * ```
   */
  constructor(options: string | RedisStorageOptions | Redis) {
    const { client, ...settings } = parseOptions(options);
    this.settings = Object.freeze(settings);
    if (client) {
      this.client = client;
      this.ownsClient = false;
      this.lastError = () => undefined;
    } else {
      const created = createClient(settings.url!);
      this.client = created.client;
      this.lastError = created.lastError;
      this.ownsClient = true;
    }
    this.keys = new Keys(settings.keyPrefix);
    this.scriptPrefix = (this.client.options.keyPrefix ?? '') + settings.keyPrefix;
    this.ttlSeconds = settings.ttlDays === undefined ? 0 : Math.max(1, Math.ceil(settings.ttlDays * 86_400));
  }

  // ───────────────────────────── lifecycle ─────────────────────────────

  /** Connects (when the client was created here) and checks that Redis answers. */
  async init(): Promise<void> {
    try {
      if (this.client.status === 'wait') await this.client.connect();
      await this.client.ping();
    } catch (err) {
      throw unreachableError(this.settings.url, this.lastError() ?? err);
    }
  }

  /** Closes the client when it was created here; a client that was given is left open. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.ownsClient) return;
    if (this.client.status === 'ready') await this.client.quit().catch(() => this.client.disconnect());
    else this.client.disconnect();
  }

  /** True when Redis answers PING. */
  async ping(): Promise<boolean> {
    try {
      return (await this.client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  // ───────────────────────────── helpers ─────────────────────────────

  private async run(operation: string, script: keyof typeof SCRIPTS, args: (string | number)[]): Promise<unknown> {
    try {
      return await SCRIPTS[script].run(this.client, [this.scriptPrefix, this.ttlSeconds, ...args]);
    } catch (err) {
      throw wrapError(operation, err);
    }
  }

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw wrapError(operation, err);
    }
  }

  /** HGETALL of many keys in one round trip; missing keys give empty objects. */
  private async hashes(operation: string, keys: string[]): Promise<Record<string, string>[]> {
    if (keys.length === 0) return [];
    const results = await this.call(operation, () => {
      const pipeline = this.client.pipeline();
      for (const key of keys) pipeline.hgetall(key);
      return pipeline.exec();
    });
    return (results ?? []).map(([err, value]) => {
      if (err) throw wrapError(operation, err);
      return (value ?? {}) as Record<string, string>;
    });
  }

  // ───────────────────────────── sessions ─────────────────────────────

  /** Stores a session (an upsert: saving the same id again replaces it). */
  async createSession(session: Session): Promise<void> {
    const threads = encodeBridgeMap(session.bridgeThreads);
    await this.run('createSession', 'putSession', [
      session.id,
      session.visitorId,
      ms(session.createdAt),
      ms(session.lastActivity),
      session.status,
      threads.length / 2,
      ...threads,
      ...encodeFields({ ...session, metadata: session.metadata ?? {} }),
    ]);
  }

  /** Reads a session, or `null`. */
  async getSession(sessionId: string): Promise<Session | null> {
    const hash = await this.call('getSession', () => this.client.hgetall(this.keys.session(sessionId)));
    return decodeSession(hash);
  }

  /**
   * Replaces the given top-level fields atomically (one script) and returns the session, or
   * `null`. `seq` is read-only (counted by the message writes): a `seq` in the patch is ignored.
   */
  async updateSession(sessionId: string, patch: SessionPatch): Promise<Session | null> {
    const result = await this.run('updateSession', 'patchSession', [sessionId, ...sessionPatchArgs(patch)]);
    return result ? decodeSession(pairsToHash(result)) : null;
  }

  /**
   * A returning visitor's `/connect` in one script (see `Storage.touchSession`): when the
   * session exists and belongs to `visitorId`, merges `touch.metadata` into the stored metadata
   * member by member (stored values of `touch.keepKeys` stay), sets `lastActivity` and returns
   * the session; otherwise `null`, with nothing changed.
   */
  async touchSession(sessionId: string, visitorId: string, touch: SessionTouch): Promise<Session | null> {
    const members: string[] = [];
    for (const [key, value] of Object.entries(touch.metadata ?? {})) {
      if (value !== undefined) members.push(key, toJsonWithDates(value));
    }
    const result = await this.run('touchSession', 'touchSession', [
      sessionId,
      visitorId,
      touch.lastActivity.getTime(),
      toJsonWithDates(touch.lastActivity),
      touch.keepKeys.length,
      ...touch.keepKeys,
      ...members,
    ]);
    return result ? decodeSession(pairsToHash(result)) : null;
  }

  /** The newest session (by creation) of a visitor, or `null`. */
  async getSessionByVisitorId(visitorId: string): Promise<Session | null> {
    const key = this.keys.visitor(visitorId);
    const ids = await this.call('getSessionByVisitorId', () => this.client.zrange(key, 0, -1, 'REV'));
    for (const id of ids) {
      const session = await this.getSession(id);
      if (session) return session;
      // The session expired (ttlDays): drop the stale index entry.
      await this.call('getSessionByVisitorId', () => this.client.zrem(key, id));
    }
    return null;
  }

  /** Sessions by most recent activity first. */
  async listSessions(query: SessionQuery = {}): Promise<Session[]> {
    const key = this.keys.sessions(query.status);
    const max = query.before ? `(${query.before.getTime()}` : '+inf';
    const min = query.since ? String(query.since.getTime()) : '-inf';
    const limit = query.limit === undefined ? Number.POSITIVE_INFINITY : Math.max(0, Math.floor(query.limit));
    const out: Session[] = [];
    let offset = 0;
    while (out.length < limit) {
      const want = Math.min(500, limit - out.length);
      const ids = await this.call('listSessions', () =>
        this.client.zrange(key, max, min, 'BYSCORE', 'REV', 'LIMIT', offset, want),
      );
      if (ids.length === 0) break;
      offset += ids.length;
      const hashes = await this.hashes(
        'listSessions',
        ids.map((id) => this.keys.session(id)),
      );
      const stale: string[] = [];
      hashes.forEach((hash, i) => {
        const session = decodeSession(hash);
        if (session) out.push(session);
        else stale.push(ids[i]!);
      });
      if (stale.length > 0) {
        // Expired sessions (ttlDays) leave their index entries behind; clean them up here.
        await this.call('listSessions', () =>
          this.client
            .multi()
            .zrem(this.keys.sessions(), ...stale)
            .zrem(this.keys.sessions('open'), ...stale)
            .zrem(this.keys.sessions('closed'), ...stale)
            .exec(),
        );
        offset -= stale.length;
      }
      if (ids.length < want) break;
    }
    return out.sort((a, b) => b.lastActivity.getTime() - a.lastActivity.getTime() || (a.id < b.id ? -1 : 1));
  }

  /**
   * Deletes a session with its messages, attachments, bridge references and outbox records (one
   * script). Outbox records of the id go even when the session itself is already gone.
   */
  async deleteSession(sessionId: string): Promise<boolean> {
    return (await this.run('deleteSession', 'deleteSession', [sessionId])) === 1;
  }

  /** Deletes every session last active before `olderThan`, with everything attached; returns how many. */
  async cleanupOldSessions(olderThan: Date): Promise<number> {
    const key = this.keys.sessions();
    let removed = 0;
    for (;;) {
      const ids = await this.call('cleanupOldSessions', () =>
        this.client.zrange(key, '-inf', `(${olderThan.getTime()}`, 'BYSCORE', 'LIMIT', 0, 100),
      );
      if (ids.length === 0) return removed;
      const results = await Promise.all(ids.map((id) => this.deleteSession(id)));
      removed += results.filter(Boolean).length;
    }
  }

  // ───────────────────────────── messages ─────────────────────────────

  /**
   * Stores a message (an upsert: saving the same id again replaces it) and returns it with the
   * `seq` it was given: the session's next sequence number, assigned in the same script as the
   * write. A `seq` in `message` is ignored.
   */
  async saveMessage(message: Message): Promise<Message> {
    const seq = await this.run('saveMessage', 'putMessage', messageArgs(message));
    return { ...message, seq: Number(seq) };
  }

  /**
   * Stores a message and applies `sessionPatch` to its session in one script (atomic, one
   * round trip): the message gets the session's next `seq`, the session its new fields and
   * index positions. For an unknown session nothing is stored and the answer is `null`.
   */
  async saveMessageWithSession(
    message: Message,
    sessionPatch: SessionPatch,
  ): Promise<{ message: Message; session: Session } | null> {
    const args = messageArgs(message);
    const result = (await this.run('saveMessageWithSession', 'saveMessageWithSession', [
      args.length,
      ...args,
      ...sessionPatchArgs(sessionPatch),
    ])) as [unknown, unknown] | null;
    if (!result) return null;
    const session = decodeSession(pairsToHash(result[1]));
    return session ? { message: { ...message, seq: Number(result[0]) }, session } : null;
  }

  /**
   * Messages of a session ascending by (timestamp, id). `after` keeps those with
   * `updatedAt > after`, `afterSeq` those with `seq > afterSeq` (messages stored before this
   * package assigned sequence numbers have none and are left out), `before` those with
   * `timestamp < before`, `limit` the newest ones.
   */
  async getMessages(sessionId: string, query: MessageQuery = {}): Promise<Message[]> {
    const limit = query.limit !== undefined && query.limit >= 0 ? Math.floor(query.limit) : undefined;
    const { after, afterSeq, before } = query;
    if (afterSeq !== undefined && !Number.isFinite(afterSeq)) {
      throw new ValidationError(`${PACKAGE_NAME}: getMessages afterSeq must be a finite number, got ${afterSeq}`);
    }
    if (after || afterSeq !== undefined) {
      // The delta is small: read it by seq (or updatedAt) from its index, then order and trim here.
      const ids = await this.call('getMessages', () =>
        afterSeq !== undefined
          ? this.client.zrange(this.keys.seqs(sessionId), `(${afterSeq}`, '+inf', 'BYSCORE')
          : this.client.zrange(this.keys.changes(sessionId), `(${after!.getTime()}`, '+inf', 'BYSCORE'),
      );
      let list = await this.messagesById(ids);
      if (after && afterSeq !== undefined) list = list.filter((m) => m.updatedAt.getTime() > after.getTime());
      if (before) list = list.filter((m) => m.timestamp.getTime() < before.getTime());
      list.sort(compareMessages);
      return limit !== undefined && list.length > limit ? list.slice(list.length - limit) : list;
    }
    if (limit === 0) return [];
    const key = this.keys.history(sessionId);
    const max = before ? `(${before.getTime()}` : '+inf';
    const ids = await this.call('getMessages', () =>
      limit === undefined
        ? this.client.zrange(key, '-inf', max, 'BYSCORE')
        : this.client.zrange(key, max, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, limit),
    );
    if (limit !== undefined) ids.reverse();
    return this.messagesById(ids);
  }

  private async messagesById(ids: string[]): Promise<Message[]> {
    const hashes = await this.hashes(
      'getMessages',
      ids.map((id) => this.keys.message(id)),
    );
    const out: Message[] = [];
    for (const hash of hashes) {
      const m = decodeMessage(hash);
      if (m) out.push(m);
    }
    return out;
  }

  /** Reads one message by id, or `null`. */
  async getMessage(messageId: string): Promise<Message | null> {
    const hash = await this.call('getMessage', () => this.client.hgetall(this.keys.message(messageId)));
    return decodeMessage(hash);
  }

  /**
   * Replaces the given top-level fields atomically (one script) and returns the message, or
   * `null`. The message gets its session's next `seq` in the same script; a `seq` in the patch
   * is ignored.
   */
  async updateMessage(messageId: string, patch: MessagePatch): Promise<Message | null> {
    const replaceIds = patch.bridgeMessageIds !== undefined;
    const ids = encodeBridgeMap(patch.bridgeMessageIds);
    const result = await this.run('updateMessage', 'patchMessage', [
      messageId,
      ms(patch.updatedAt),
      replaceIds ? '1' : '0',
      ids.length / 2,
      ...ids,
      ...encodePatch(patch),
    ]);
    return result ? decodeMessage(pairsToHash(result)) : null;
  }

  // ───────────────────────────── bridge references ─────────────────────────────

  /** Remembers (or forgets, with `null`) the thread of a session on one bridge. */
  async setBridgeThread(sessionId: string, bridge: string, threadId: string | null): Promise<void> {
    await this.run('setBridgeThread', 'setThread', [
      sessionId,
      encodeBridge(bridge),
      threadId === null ? '0' : '1',
      threadId ?? '',
    ]);
  }

  /** The session whose thread on `bridge` is `threadId`, or `null`. */
  async findSessionByBridgeThread(bridge: string, threadId: string): Promise<Session | null> {
    const id = await this.call('findSessionByBridgeThread', () => this.client.get(this.keys.thread(bridge, threadId)));
    return id ? this.getSession(id) : null;
  }

  /** Remembers the platform message id of one of our messages on one bridge. */
  async saveBridgeMessageId(messageId: string, bridge: string, platformMessageId: string): Promise<void> {
    await this.run('saveBridgeMessageId', 'setBridgeMessage', [messageId, encodeBridge(bridge), platformMessageId]);
  }

  /** Our message whose id on `bridge` is `platformMessageId`, or `null`. */
  async findMessageByBridgeId(bridge: string, platformMessageId: string): Promise<Message | null> {
    const id = await this.call('findMessageByBridgeId', () =>
      this.client.get(this.keys.bridgeMessage(bridge, platformMessageId)),
    );
    return id ? this.getMessage(id) : null;
  }

  // ───────────────────────────── attachments ─────────────────────────────

  /** Stores attachment metadata (an upsert). */
  async saveAttachment(attachment: Attachment): Promise<void> {
    await this.run('saveAttachment', 'putAttachment', [
      attachment.id,
      attachment.sessionId,
      ...encodeFields(attachment),
    ]);
  }

  /** Reads attachment metadata, or `null`. */
  async getAttachment(attachmentId: string): Promise<Attachment | null> {
    const hash = await this.call('getAttachment', () => this.client.hgetall(this.keys.attachment(attachmentId)));
    return decodeAttachment(hash);
  }

  /** Replaces the given fields atomically and returns the attachment, or `null`. */
  async updateAttachment(attachmentId: string, patch: AttachmentPatch): Promise<Attachment | null> {
    const result = await this.run('updateAttachment', 'patchAttachment', [attachmentId, ...encodePatch(patch)]);
    return result ? decodeAttachment(pairsToHash(result)) : null;
  }

  // ───────────────────────────── durable outbox ─────────────────────────────

  /**
   * Stores new outbox records (one script per 500 records). A record whose id is already
   * stored is left as it is, so adding the same batch twice is harmless.
   */
  async outboxAdd(records: OutboxRecord[]): Promise<void> {
    for (let start = 0; start < records.length; start += OUTBOX_BATCH) {
      const batch = records.slice(start, start + OUTBOX_BATCH);
      await this.run('outboxAdd', 'outboxAdd', [batch.length, ...batch.flatMap(encodeOutbox)]);
    }
  }

  /**
   * Leases up to `limit` due lane heads in one script (atomic: concurrent claimers, in this
   * process or others, never get the same record or two records of one lane). Costs
   * O(log lanes + limit), however many lanes wait in backoff (see outbox-lua.ts).
   */
  async outboxClaim(claim: OutboxClaim): Promise<OutboxRecord[]> {
    const limit = Math.max(0, Math.floor(claim.limit));
    if (limit === 0) return [];
    // A lease of at least 1 ms moves each leased lane out of the claimable range.
    const leaseMs = Math.max(1, Math.ceil(claim.leaseMs));
    const now = claim.now.getTime();
    const result = await this.run('outboxClaim', 'outboxClaim', [claim.owner, now, now + leaseMs, leaseMs, limit]);
    const out: OutboxRecord[] = [];
    for (const pairs of (result ?? []) as unknown[]) {
      const record = decodeOutbox(pairsToHash(pairs));
      if (record) out.push(record);
    }
    return out.sort(byDue);
  }

  /** Removes a delivered record (unknown ids are ignored). */
  async outboxComplete(id: string): Promise<void> {
    await this.run('outboxComplete', 'outboxComplete', [id]);
  }

  /** Records a failed attempt and releases the lease; `lastError` is kept when not given. */
  async outboxReschedule(
    id: string,
    update: { attempts: number; nextAttemptAt: Date; lastError?: string; status: 'pending' | 'dead' },
  ): Promise<void> {
    await this.run('outboxReschedule', 'outboxReschedule', [
      id,
      update.attempts,
      update.nextAttemptAt.getTime(),
      update.status,
      update.lastError === undefined ? '' : `=${update.lastError}`,
    ]);
  }

  /** Records of one status, oldest first (by `createdAt`, then `seq`). */
  async outboxList(query: { status: 'pending' | 'dead'; limit?: number }): Promise<OutboxRecord[]> {
    const key = this.keys.outboxByStatus(query.status);
    const limit = query.limit === undefined ? undefined : Math.max(0, Math.floor(query.limit));
    if (limit === 0) return [];
    let ids: string[];
    if (limit === undefined) {
      ids = await this.call('outboxList', () => this.client.zrange(key, 0, -1));
    } else {
      const withScores = await this.call('outboxList', () => this.client.zrange(key, 0, limit - 1, 'WITHSCORES'));
      ids = withScores.filter((_, i) => i % 2 === 0);
      if (ids.length === limit) {
        // The index orders equal createdAt by id; fetch every record of the last instant so
        // the ones with the lowest seq are kept.
        const last = withScores[withScores.length - 1]!;
        const ties = await this.call('outboxList', () => this.client.zrange(key, last, last, 'BYSCORE'));
        ids = [...new Set([...ids, ...ties])];
      }
    }
    const hashes = await this.hashes(
      'outboxList',
      ids.map((id) => this.keys.outboxRecord(id)),
    );
    const list: OutboxRecord[] = [];
    for (const hash of hashes) {
      const record = decodeOutbox(hash);
      if (record && record.status === query.status) list.push(record);
    }
    list.sort(byCreated);
    return limit === undefined ? list : list.slice(0, limit);
  }

  /**
   * Puts a dead record back to pending: attempts 0, due now (this process' clock, like the
   * claims), error and lease cleared. False when the id is unknown or the record is not dead.
   */
  async outboxRetry(id: string): Promise<boolean> {
    return (await this.run('outboxRetry', 'outboxRetry', [id, Date.now()])) === 1;
  }

  // ───────────────────────────── leases ─────────────────────────────

  /**
   * Takes the lease `name` for `owner` until `ttlMs` from now when it is free, expired or
   * already `owner`'s (a renewal); true when `owner` holds it afterwards. One Lua script, so
   * among owners asking at once exactly one wins; the lease is a key with a PX expiry, so it
   * ends on the Redis clock, whatever the instances' own clocks say.
   */
  async leaseAcquire(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.run('leaseAcquire', 'leaseAcquire', [name, owner, leaseMs(ttlMs)])) === 1;
  }

  /** Gives the lease up if `owner` holds it (otherwise nothing changes). */
  async leaseRelease(name: string, owner: string): Promise<void> {
    await this.run('leaseRelease', 'leaseRelease', [name, owner]);
  }
}
