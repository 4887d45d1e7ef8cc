import {
  type Attachment,
  type AttachmentPatch,
  isPocketPingError,
  type Message,
  type MessagePatch,
  type MessageQuery,
  type OutboxClaim,
  type OutboxRecord,
  type Session,
  type SessionPatch,
  type SessionQuery,
  type SessionTouch,
  type Storage,
  StorageError,
  ValidationError,
  wrapStorageError,
} from '@pocketping/core';
import { type Collection, type Db, type Document, type Filter, MongoClient, type UpdateFilter } from 'mongodb';
import {
  type BridgeMessageDoc,
  type BridgeThreadDoc,
  COLLECTIONS,
  type CollectionKey,
  INDEXES,
} from './collections.js';
import { type LeaseDoc, MongoLeases } from './leases.js';
import { MongoOutbox, type OutboxDoc } from './outbox.js';
import { isMongoClient, type MongoStorageOptions, MongoStorageOptionsSchema, parseOptions } from './options.js';
import { SEQUENCE_KEYS, SESSION_PROJECTION, type SessionDoc, SessionSequencer, toSession } from './session-sequence.js';

const PACKAGE_NAME = '@pocketping/storage-mongo';

/** Every read leaves MongoDB's own `_id` out: callers only ever see our models. */
const WITHOUT_ID = { projection: { _id: 0 } } as const;

/** Keys a patch may not change (the storage's keys, creation facts and sequence numbers). */
const FIXED_SESSION_KEYS = new Set(['_id', 'id', 'visitorId', 'createdAt', ...SEQUENCE_KEYS]);
const FIXED_MESSAGE_KEYS = new Set(['_id', 'id', 'sessionId', 'timestamp', 'sender', 'seq']);
const FIXED_ATTACHMENT_KEYS = new Set(['_id', 'id', 'sessionId', 'createdAt']);

/** Reads of sessions: without `_id` and the storage's own counter. */
const SESSION_READ = { projection: SESSION_PROJECTION } as const;

/** How often `createSession` and `updateMessage` start over when a concurrent write moved the record. */
const WRITE_ATTEMPTS = 3;

/** How many sessions `cleanupOldSessions` deletes per round. */
const CLEANUP_BATCH = 200;

/**
 * Documents per round trip for unbounded reads. The driver's default first batch is 101; whole
 * histories are read in fewer round trips with more (the server still caps a batch at 16 MiB).
 */
const READ_BATCH = 1_000;

/** How long `ping()` waits for the server before answering false. */
const PING_TIMEOUT_MS = 5_000;

/**
 * Whether `name` can be the last step of a field path (`bridgeThreads.<name>`,
 * `metadata.<name>`): non-empty, no `.` (a path separator), no leading `$` (an operator).
 */
function isFieldName(name: string): boolean {
  return name.length > 0 && !name.includes('.') && !name.startsWith('$') && !name.includes('\0');
}

/** A bridge name becomes part of a field path (`bridgeThreads.telegram`). */
function isValidBridgeName(bridge: string): boolean {
  return isFieldName(bridge);
}

function assertBridgeName(bridge: string): void {
  if (!isValidBridgeName(bridge)) {
    throw new ValidationError(
      `${PACKAGE_NAME}: bridge name ${JSON.stringify(bridge)} is not supported: it must be non-empty, contain no "." and not start with "$"`,
    );
  }
}

function assertBridgeNames(map: Record<string, string> | undefined): void {
  for (const bridge of Object.keys(map ?? {})) assertBridgeName(bridge);
}

/**
 * The `$set` document of a patch: the given top-level keys replace the stored ones, keys set
 * to `undefined` are left alone (like MemoryStorage), and the fixed keys are never touched.
 * Returns `undefined` when nothing is to change.
 */
function toSet(patch: object, fixed: ReadonlySet<string>): Document | undefined {
  const set: Document = {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined || fixed.has(key)) continue;
    if (key.includes('.') || key.startsWith('$')) {
      throw new ValidationError(`${PACKAGE_NAME}: patch key ${JSON.stringify(key)} is not a field name`);
    }
    set[key] = value;
  }
  return Object.keys(set).length > 0 ? set : undefined;
}

/**
 * PocketPing storage on MongoDB, through the official `mongodb` driver. Implements every
 * optional Storage method, the durable outbox included. Sessions, messages, bridge references,
 * attachment metadata, outbox records and leases live in seven collections (see the README);
 * `init()` creates their indexes.
 *
 * Every change is a single atomic document operation (`$set` on top-level keys or on
 * `bridgeThreads.<bridge>` / `bridgeMessageIds.<bridge>`), so concurrent writers never lose
 * each other's changes. Reverse bridge lookups are checked against the session or message
 * itself, so they stay right even where unique indexes are not enforced. Message writes take
 * their session's next sequence number first (see `SessionSequencer` for what is guaranteed).
 *
 * @example
 * ```ts
 * import { PocketPing } from '@pocketping/core';
 * import { MongoStorage } from '@pocketping/storage-mongo';
 *
 * const storage = new MongoStorage(process.env.MONGO_URL!);
 * // or: new MongoStorage({ url, database: 'support', collectionPrefix: 'pp_' })
 * // or: new MongoStorage(existingMongoClient)
 * const pp = new PocketPing({ storage });
 * await pp.init();
 * ```
 */
export class MongoStorage implements Storage {
  private readonly client: MongoClient;
  private readonly ownsClient: boolean;
  private readonly db: Db;
  private readonly prefix: string;
  private readonly sessions: Collection<SessionDoc>;
  private readonly messages: Collection<Message>;
  private readonly bridgeThreads: Collection<BridgeThreadDoc>;
  private readonly bridgeMessages: Collection<BridgeMessageDoc>;
  private readonly attachments: Collection<Attachment>;
  private readonly outbox: MongoOutbox;
  private readonly leases: MongoLeases;
  private readonly sequencer: SessionSequencer;
  private closing: Promise<void> | undefined;

  /**
   * @param urlOrOptions a connection string, a ready-made `MongoClient`, or `MongoStorageOptions`.
   * @throws ValidationError when the options are invalid. Does no I/O.
   */
  constructor(urlOrOptions: string | MongoClient | MongoStorageOptions) {
    const input =
      typeof urlOrOptions === 'string'
        ? { url: urlOrOptions }
        : isMongoClient(urlOrOptions)
          ? { client: urlOrOptions }
          : urlOrOptions;
    const options = parseOptions(MongoStorageOptionsSchema, input, '');
    if (options.client) {
      this.client = options.client;
      this.ownsClient = false;
    } else {
      try {
        this.client = new MongoClient(options.url!);
      } catch (err) {
        throw new ValidationError(
          `${PACKAGE_NAME}: invalid options: url: not a usable MongoDB connection string (${err instanceof Error ? err.message : String(err)})`,
          { code: 'CONFIG_INVALID', cause: err },
        );
      }
      this.ownsClient = true;
    }
    this.prefix = options.collectionPrefix;
    // Without ignoreUndefined the driver would store `undefined` as null, and optional fields
    // would come back as null instead of missing.
    this.db = this.client.db(options.database, { ignoreUndefined: true });
    this.sessions = this.collection<SessionDoc>('sessions');
    this.messages = this.collection<Message>('messages');
    this.bridgeThreads = this.collection<BridgeThreadDoc>('bridgeThreads');
    this.bridgeMessages = this.collection<BridgeMessageDoc>('bridgeMessages');
    this.attachments = this.collection<Attachment>('attachments');
    this.outbox = new MongoOutbox(this.collection<OutboxDoc>('outbox'));
    this.leases = new MongoLeases(this.collection<LeaseDoc>('leases'));
    this.sequencer = new SessionSequencer(this.sessions);
  }

  private collection<T extends Document>(key: CollectionKey): Collection<T> {
    return this.db.collection<T>(`${this.prefix}${COLLECTIONS[key]}`);
  }

  /** Runs one storage operation; driver errors leave as `StorageError` naming this package. */
  private async run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.closing) throw new StorageError(`${PACKAGE_NAME}: ${operation} called after close()`);
    try {
      return await fn();
    } catch (err) {
      if (isPocketPingError(err)) throw err;
      const wrapped = wrapStorageError(PACKAGE_NAME, operation, err);
      // E11000: a unique index refused the write (e.g. the same id created twice at once).
      if ((err as { code?: unknown }).code === 11000) {
        throw new StorageError(wrapped.message, { code: 'STORAGE_CONFLICT', cause: err });
      }
      throw wrapped;
    }
  }

  /** Connects and creates the collections' indexes; safe to call again. */
  init(): Promise<void> {
    return this.run('init', async () => {
      await this.client.connect();
      await Promise.all(
        (Object.keys(INDEXES) as CollectionKey[]).map((key) => this.collection(key).createIndexes(INDEXES[key])),
      );
    });
  }

  /** Closes the client if this storage created it (a client you passed in stays open). Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.ownsClient) return;
      try {
        await this.client.close();
      } catch (err) {
        throw wrapStorageError(PACKAGE_NAME, 'close', err);
      }
    })();
    return this.closing;
  }

  /** True when the server answers a `ping` within a few seconds. */
  async ping(): Promise<boolean> {
    if (this.closing) return false;
    try {
      await this.db.command({ ping: 1 }, { timeoutMS: PING_TIMEOUT_MS });
      return true;
    } catch {
      return false;
    }
  }

  // ---------------------------------------------------------------- sessions

  /**
   * Stores a session (an upsert by `id`: saving it again replaces its fields) and indexes its
   * `bridgeThreads`. The sequence counters are the storage's: a `seq` given here is ignored, and
   * saving an existing session again keeps them.
   */
  createSession(session: Session): Promise<void> {
    return this.run('createSession', async () => {
      assertBridgeNames(session.bridgeThreads);
      const fields: Document = {};
      for (const [key, value] of Object.entries(session)) {
        if (value !== undefined && !SEQUENCE_KEYS.has(key) && key !== '_id') fields[key] = value;
      }
      await this.putSession(session.id, fields);
      await this.indexThreads(session.id, session.bridgeThreads);
    });
  }

  /**
   * Inserts a session, or replaces the fields of a stored one while its sequence counters stay
   * (a `replaceOne` would reset them and hand out numbers twice). Both are single-document
   * writes; the replace sets the given fields and unsets the stored ones that are not given.
   */
  private async putSession(id: string, fields: Document): Promise<void> {
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      // The common case, a new session: one upsert that only writes on insert.
      const inserted = await this.sessions.updateOne({ id }, { $setOnInsert: { ...fields, seq: 0 } }, { upsert: true });
      if (inserted.upsertedCount > 0) return;
      const stored = await this.sessions.findOne({ id }, { projection: { _id: 0 } });
      if (!stored) continue; // Deleted meanwhile: insert it again.
      const unset: Document = {};
      for (const key of Object.keys(stored)) {
        if (!(key in fields) && !SEQUENCE_KEYS.has(key)) unset[key] = '';
      }
      const replaced = await this.sessions.updateOne(
        { id },
        { $set: fields, ...(Object.keys(unset).length > 0 ? { $unset: unset } : {}) },
      );
      if (replaced.matchedCount > 0) return;
    }
    throw new StorageError(
      `${PACKAGE_NAME}: createSession could not store session ${id}: it was deleted and created again concurrently ${WRITE_ATTEMPTS} times; try again`,
    );
  }

  /** Reads a session, or `null`. Its `seq` is 0 before the first message. */
  getSession(sessionId: string): Promise<Session | null> {
    return this.run('getSession', async () => toSession(await this.sessions.findOne({ id: sessionId }, SESSION_READ)));
  }

  /**
   * Replaces the given top-level keys in one `findOneAndUpdate`; `null` for an unknown session.
   * `seq` is read-only (it follows the message writes): a `seq` in the patch is ignored.
   */
  updateSession(sessionId: string, patch: SessionPatch): Promise<Session | null> {
    return this.run('updateSession', async () => {
      assertBridgeNames(patch.bridgeThreads);
      const set = toSet(patch, FIXED_SESSION_KEYS);
      if (!set) return toSession(await this.sessions.findOne({ id: sessionId }, SESSION_READ));
      const updated = await this.sessions.findOneAndUpdate(
        { id: sessionId },
        { $set: set },
        { returnDocument: 'after', ...SESSION_READ },
      );
      if (updated && patch.bridgeThreads) await this.indexThreads(sessionId, patch.bridgeThreads);
      return toSession(updated);
    });
  }

  /**
   * A returning visitor's `/connect`: one `findOneAndUpdate`, filtered by `id` and `visitorId`,
   * that sets `lastActivity` and `metadata.<key>` for each key of `touch.metadata`, except the
   * `touch.keepKeys` the stored metadata already has (their stored values stay). Other stored
   * metadata keys are not touched. `null`, with nothing changed, for an unknown session or
   * another visitor's.
   *
   * Which kept keys are stored is assumed (all of those given, as after a first connect that
   * stored them) and checked in the filter with `$exists`; when the guess is wrong, the session
   * is read and the write runs again with what is stored. Top-level metadata keys must be field
   * names (no `.`, no leading `$`): values, nested objects included, are stored as they are.
   *
   * @throws ValidationError for a metadata key that is not a field name (nothing is changed).
   */
  touchSession(sessionId: string, visitorId: string, touch: SessionTouch): Promise<Session | null> {
    return this.run('touchSession', async () => {
      const entries = Object.entries(touch.metadata ?? {}).filter(([, value]) => value !== undefined);
      for (const [key] of entries) {
        if (!isFieldName(key)) {
          throw new ValidationError(
            `${PACKAGE_NAME}: touchSession metadata key ${JSON.stringify(key)} is not supported: it must be non-empty, contain no "." and not start with "$" (nested keys inside a value may)`,
          );
        }
      }
      const keepKeys = new Set(touch.keepKeys);
      // The kept keys that matter: those this touch would otherwise overwrite.
      const guarded = entries.map(([key]) => key).filter((key) => keepKeys.has(key));
      let stored: ReadonlySet<string> = new Set(guarded);
      for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
        const filter: Filter<SessionDoc> = { id: sessionId, visitorId };
        for (const key of guarded) filter[`metadata.${key}`] = { $exists: stored.has(key) };
        const set: Document = { lastActivity: touch.lastActivity };
        for (const [key, value] of entries) if (!stored.has(key)) set[`metadata.${key}`] = value;
        const updated = await this.sessions.findOneAndUpdate(
          filter,
          { $set: set },
          { returnDocument: 'after', ...SESSION_READ },
        );
        if (updated) return toSession(updated);
        if (guarded.length === 0) return null;
        // No match: an unknown session, another visitor's, or a wrong guess about the kept keys.
        const current = await this.sessions.findOne(
          { id: sessionId, visitorId },
          { projection: { _id: 0, metadata: 1 } },
        );
        if (!current) return null;
        const metadata: object = current.metadata ?? {};
        stored = new Set(guarded.filter((key) => Object.hasOwn(metadata, key)));
      }
      throw new StorageError(
        `${PACKAGE_NAME}: touchSession could not update session ${sessionId}: which of its metadata keys are stored kept changing under concurrent writes; try again`,
        { code: 'STORAGE_CONFLICT' },
      );
    });
  }

  /** The visitor's most recently active session (ties: newest created), or `null`. */
  getSessionByVisitorId(visitorId: string): Promise<Session | null> {
    return this.run('getSessionByVisitorId', async () =>
      toSession(
        await this.sessions.findOne(
          { visitorId },
          { ...SESSION_READ, sort: { lastActivity: -1, createdAt: -1, id: 1 } },
        ),
      ),
    );
  }

  /** Sessions by `lastActivity` descending (ties by `id`), filtered by `status`, `before`, `since`. */
  listSessions(query: SessionQuery = {}): Promise<Session[]> {
    return this.run('listSessions', async () => {
      const filter: Filter<SessionDoc> = {};
      if (query.status) filter.status = query.status;
      if (query.before || query.since) {
        filter.lastActivity = {
          ...(query.before ? { $lt: query.before } : {}),
          ...(query.since ? { $gte: query.since } : {}),
        };
      }
      const cursor = this.sessions.find(filter, SESSION_READ).sort({ lastActivity: -1, id: 1 });
      let docs: SessionDoc[];
      if (query.limit !== undefined && query.limit >= 0) {
        const limit = Math.floor(query.limit);
        // MongoDB reads limit 0 as "no limit".
        if (limit === 0) return [];
        docs = await cursor.limit(limit).batchSize(limit).toArray();
      } else {
        docs = await cursor.batchSize(READ_BATCH).toArray();
      }
      return docs.map((doc) => toSession(doc)!);
    });
  }

  /** Deletes a session with its messages, attachments and bridge references; false when unknown. */
  deleteSession(sessionId: string): Promise<boolean> {
    return this.run('deleteSession', async () => {
      // Dependents first: if this is interrupted, the session is still there and deleting it
      // again finishes the job.
      await this.deleteDependents([sessionId]);
      const result = await this.sessions.deleteMany({ id: sessionId });
      return result.deletedCount > 0;
    });
  }

  /** Deletes sessions whose `lastActivity` is before `olderThan`, with everything they own; returns how many. */
  cleanupOldSessions(olderThan: Date): Promise<number> {
    return this.run('cleanupOldSessions', async () => {
      let removed = 0;
      for (;;) {
        const batch = await this.sessions
          .find({ lastActivity: { $lt: olderThan } }, { projection: { _id: 0, id: 1 } })
          .limit(CLEANUP_BATCH)
          .toArray();
        if (batch.length === 0) break;
        // Each session is deleted on its own with the cutoff re-checked, so one that became
        // active since it was listed is kept, and only then are its dependents removed.
        const deleted = await Promise.all(
          batch.map((s) =>
            this.sessions.findOneAndDelete(
              { id: s.id, lastActivity: { $lt: olderThan } },
              { projection: { _id: 0, id: 1 } },
            ),
          ),
        );
        const ids = deleted.flatMap((s) => (s ? [s.id] : []));
        if (ids.length === 0) break;
        await this.deleteDependents(ids);
        removed += ids.length;
      }
      return removed;
    });
  }

  private async deleteDependents(sessionIds: string[]): Promise<void> {
    const bySession = { sessionId: { $in: sessionIds } };
    await Promise.all([
      this.messages.deleteMany(bySession),
      this.attachments.deleteMany(bySession),
      this.bridgeThreads.deleteMany(bySession),
      this.bridgeMessages.deleteMany(bySession),
      this.outbox.deleteSessions(sessionIds),
    ]);
  }

  // ---------------------------------------------------------------- messages

  /**
   * Stores a message (an upsert by `id`), indexes its `bridgeMessageIds` and returns it with
   * the `seq` it was given: its session's next sequence number (see `SessionSequencer` for the
   * ordering guarantee). A `seq` in `message` is ignored; a message of an unknown session gets none.
   */
  saveMessage(message: Message): Promise<Message> {
    return this.run('saveMessage', async () => {
      assertBridgeNames(message.bridgeMessageIds);
      const { seq: _assigned, ...fields } = message;
      const stored = await this.sequencer.write(message.sessionId, async (seq) => {
        const doc: Message = seq === undefined ? fields : { ...fields, seq };
        // One document per message, written by id: parallel saves on one session never touch the
        // same document, so none can be lost. An upsert, so a re-save replaces instead of duplicating.
        await this.messages.replaceOne({ id: message.id }, doc, { upsert: true });
        return doc;
      });
      await this.indexBridgeMessages(message.id, message.sessionId, message.bridgeMessageIds);
      return stored;
    });
  }

  /**
   * Stores a new message and patches its session. The patch is `$set` (its top-level keys, as
   * in `updateSession`: keys set to `undefined`, `seq` and the fixed keys are left alone) in the
   * same `findOneAndUpdate` that takes the session's next `seq`, so an unknown session is neither
   * patched nor given a message: nothing is stored and the answer is `null`. Then the message is
   * written with that `seq` (an upsert by `id`, as in `saveMessage`) and the number is published
   * as the session's `seq`. Writes of one session keep `saveMessage`'s order (see
   * `SessionSequencer`). Returns the message as stored and the session after the patch.
   *
   * @throws ValidationError for a patch key that is not a field name or a bridge name with `.`
   * or a leading `$` (nothing is stored).
   */
  saveMessageWithSession(
    message: Message,
    sessionPatch: SessionPatch,
  ): Promise<{ message: Message; session: Session } | null> {
    return this.run('saveMessageWithSession', async () => {
      assertBridgeNames(message.bridgeMessageIds);
      assertBridgeNames(sessionPatch.bridgeThreads);
      const set = toSet(sessionPatch, FIXED_SESSION_KEYS);
      const { seq: _assigned, ...fields } = message;
      const written = await this.sequencer.writePatched(message.sessionId, set, async (seq) => {
        const doc: Message = { ...fields, seq };
        await this.messages.replaceOne({ id: message.id }, doc, { upsert: true });
        return doc;
      });
      if (!written) return null;
      await Promise.all([
        this.indexBridgeMessages(message.id, message.sessionId, message.bridgeMessageIds),
        this.indexThreads(message.sessionId, sessionPatch.bridgeThreads),
      ]);
      return { message: written.result, session: written.session };
    });
  }

  /**
   * Messages ascending by (`timestamp`, `id`): `after` keeps `updatedAt > after`, `afterSeq`
   * keeps `seq > afterSeq` (messages stored without a number, before this version, are left
   * out), `before` keeps `timestamp < before`, `limit` keeps the newest.
   */
  getMessages(sessionId: string, query: MessageQuery = {}): Promise<Message[]> {
    return this.run('getMessages', async () => {
      const filter: Filter<Message> = { sessionId };
      if (query.after) filter.updatedAt = { $gt: query.after };
      if (query.afterSeq !== undefined) {
        if (!Number.isFinite(query.afterSeq)) {
          throw new ValidationError(
            `${PACKAGE_NAME}: getMessages afterSeq must be a finite number, got ${query.afterSeq}`,
          );
        }
        filter.seq = { $gt: query.afterSeq };
      }
      if (query.before) filter.timestamp = { $lt: query.before };
      if (query.limit !== undefined && query.limit >= 0) {
        const limit = Math.floor(query.limit);
        if (limit === 0) return [];
        // The newest `limit`, read backwards along the history index, then put back in order.
        const newest = await this.messages
          .find(filter, WITHOUT_ID)
          .sort({ timestamp: -1, id: -1 })
          .limit(limit)
          .batchSize(limit)
          .toArray();
        return newest.reverse();
      }
      return this.messages.find(filter, WITHOUT_ID).sort({ timestamp: 1, id: 1 }).batchSize(READ_BATCH).toArray();
    });
  }

  /** Reads one message by id, or `null`. */
  getMessage(messageId: string): Promise<Message | null> {
    return this.run('getMessage', () => this.messages.findOne({ id: messageId }, WITHOUT_ID));
  }

  /**
   * Replaces the given top-level keys in one `findOneAndUpdate` that also gives the message its
   * session's next `seq` (a `seq` in the patch is ignored); `null` for an unknown message.
   */
  updateMessage(messageId: string, patch: MessagePatch): Promise<Message | null> {
    return this.run('updateMessage', async () => {
      assertBridgeNames(patch.bridgeMessageIds);
      const set = toSet(patch, FIXED_MESSAGE_KEYS) ?? {};
      for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
        // The session's counter is needed first, so where the message lives is read first.
        const current = await this.messages.findOne({ id: messageId }, { projection: { _id: 0, sessionId: 1 } });
        if (!current) return null;
        const { sessionId } = current;
        const updated = await this.sequencer.write(sessionId, async (seq) => {
          const changes = seq === undefined ? set : { ...set, seq };
          if (Object.keys(changes).length === 0) return this.messages.findOne({ id: messageId, sessionId }, WITHOUT_ID);
          // The session is part of the filter: a message moved to another session meanwhile is
          // not given this session's number (the loop starts over).
          return this.messages.findOneAndUpdate(
            { id: messageId, sessionId },
            { $set: changes },
            { returnDocument: 'after', ...WITHOUT_ID },
          );
        });
        if (!updated) continue;
        if (patch.bridgeMessageIds) await this.indexBridgeMessages(messageId, sessionId, patch.bridgeMessageIds);
        return updated;
      }
      return this.messages.findOne({ id: messageId }, WITHOUT_ID);
    });
  }

  // ---------------------------------------------------------------- bridge references

  /** Sets (or with `null` removes) `bridgeThreads.<bridge>` and points the thread at the session. */
  setBridgeThread(sessionId: string, bridge: string, threadId: string | null): Promise<void> {
    return this.run('setBridgeThread', async () => {
      assertBridgeName(bridge);
      const path = `bridgeThreads.${bridge}`;
      const update: UpdateFilter<Session> =
        threadId === null ? { $unset: { [path]: '' } } : { $set: { [path]: threadId } };
      // A dotted-path update: threads of other bridges, written in parallel, are kept.
      const before = await this.sessions.findOneAndUpdate({ id: sessionId }, update, {
        returnDocument: 'before',
        projection: { _id: 0, bridgeThreads: 1 },
      });
      if (!before) return;
      if (threadId !== null) await this.upsertThreadRef(bridge, threadId, sessionId);
      const previous = before.bridgeThreads?.[bridge];
      if (previous !== undefined && previous !== threadId) {
        // Only while it still points here: the thread may have moved to another session since.
        await this.bridgeThreads.deleteMany({ bridge, threadId: previous, sessionId });
      }
    });
  }

  /** The session whose thread on `bridge` is `threadId` (the last one given it), or `null`. */
  findSessionByBridgeThread(bridge: string, threadId: string): Promise<Session | null> {
    return this.run('findSessionByBridgeThread', async () => {
      if (!isValidBridgeName(bridge)) return null;
      const refs = await this.bridgeThreads
        .find({ bridge, threadId }, { projection: { _id: 0, sessionId: 1, at: 1 } })
        .sort({ at: -1 })
        .toArray();
      const ids = [...new Set(refs.map((r) => r.sessionId))];
      if (ids.length === 0) return null;
      // The reference is only an index; the session's own bridgeThreads is the truth. This keeps
      // lookups right where a unique index is not enforced (duplicate references) or a stale
      // reference was left behind by an interrupted write.
      const sessions = await this.sessions
        .find({ id: { $in: ids }, [`bridgeThreads.${bridge}`]: threadId }, SESSION_READ)
        .toArray();
      for (const id of ids) {
        const session = sessions.find((s) => s.id === id);
        if (session) return toSession(session);
      }
      return null;
    });
  }

  /** Sets `bridgeMessageIds.<bridge>` and points the platform id at the message. */
  saveBridgeMessageId(messageId: string, bridge: string, platformMessageId: string): Promise<void> {
    return this.run('saveBridgeMessageId', async () => {
      assertBridgeName(bridge);
      const before = await this.messages.findOneAndUpdate(
        { id: messageId },
        { $set: { [`bridgeMessageIds.${bridge}`]: platformMessageId } },
        { returnDocument: 'before', projection: { _id: 0, sessionId: 1, bridgeMessageIds: 1 } },
      );
      if (!before) return;
      await this.upsertMessageRef(bridge, platformMessageId, messageId, before.sessionId);
      const previous = before.bridgeMessageIds?.[bridge];
      if (previous !== undefined && previous !== platformMessageId) {
        await this.bridgeMessages.deleteMany({ bridge, platformMessageId: previous, messageId });
      }
    });
  }

  /** The message whose id on `bridge` is `platformMessageId` (the last one given it), or `null`. */
  findMessageByBridgeId(bridge: string, platformMessageId: string): Promise<Message | null> {
    return this.run('findMessageByBridgeId', async () => {
      if (!isValidBridgeName(bridge)) return null;
      const refs = await this.bridgeMessages
        .find({ bridge, platformMessageId }, { projection: { _id: 0, messageId: 1, at: 1 } })
        .sort({ at: -1 })
        .toArray();
      const ids = [...new Set(refs.map((r) => r.messageId))];
      if (ids.length === 0) return null;
      // Checked against the message itself, as in findSessionByBridgeThread.
      const messages = await this.messages
        .find({ id: { $in: ids }, [`bridgeMessageIds.${bridge}`]: platformMessageId }, WITHOUT_ID)
        .toArray();
      for (const id of ids) {
        const message = messages.find((m) => m.id === id);
        if (message) return message;
      }
      return null;
    });
  }

  /**
   * Points `(bridge, threadId)` at the session: an upsert by that key, so a thread that moves to
   * another session is re-pointed rather than listed twice.
   */
  private async upsertThreadRef(bridge: string, threadId: string, sessionId: string): Promise<void> {
    await this.bridgeThreads.updateOne({ bridge, threadId }, { $set: { sessionId, at: new Date() } }, { upsert: true });
  }

  private async upsertMessageRef(
    bridge: string,
    platformMessageId: string,
    messageId: string,
    sessionId: string,
  ): Promise<void> {
    await this.bridgeMessages.updateOne(
      { bridge, platformMessageId },
      { $set: { messageId, sessionId, at: new Date() } },
      { upsert: true },
    );
  }

  private async indexThreads(sessionId: string, threads: Record<string, string> | undefined): Promise<void> {
    if (!threads) return;
    await Promise.all(
      Object.entries(threads).map(([bridge, threadId]) => this.upsertThreadRef(bridge, threadId, sessionId)),
    );
  }

  private async indexBridgeMessages(
    messageId: string,
    sessionId: string,
    ids: Record<string, string> | undefined,
  ): Promise<void> {
    if (!ids) return;
    await Promise.all(
      Object.entries(ids).map(([bridge, pid]) => this.upsertMessageRef(bridge, pid, messageId, sessionId)),
    );
  }

  // ---------------------------------------------------------------- attachments

  /** Stores attachment metadata (an upsert by `id`). */
  saveAttachment(attachment: Attachment): Promise<void> {
    return this.run('saveAttachment', async () => {
      await this.attachments.replaceOne({ id: attachment.id }, attachment, { upsert: true });
    });
  }

  /** Reads attachment metadata, or `null`. */
  getAttachment(attachmentId: string): Promise<Attachment | null> {
    return this.run('getAttachment', () => this.attachments.findOne({ id: attachmentId }, WITHOUT_ID));
  }

  /** Replaces the given top-level keys; `null` for an unknown attachment. */
  updateAttachment(attachmentId: string, patch: AttachmentPatch): Promise<Attachment | null> {
    return this.run('updateAttachment', async () => {
      const set = toSet(patch, FIXED_ATTACHMENT_KEYS);
      if (!set) return this.attachments.findOne({ id: attachmentId }, WITHOUT_ID);
      return this.attachments.findOneAndUpdate(
        { id: attachmentId },
        { $set: set },
        { returnDocument: 'after', ...WITHOUT_ID },
      );
    });
  }

  // ---------------------------------------------------------------- durable outbox

  /** Stores new outbox records; a record whose `id` is already stored is left as it is. */
  outboxAdd(records: OutboxRecord[]): Promise<void> {
    return this.run('outboxAdd', () => this.outbox.add(records));
  }

  /**
   * Leases up to `limit` due lane heads, one per lane, skipping lanes another owner is working.
   * Safe across processes: see the README's "Durable outbox" section.
   */
  outboxClaim(claim: OutboxClaim): Promise<OutboxRecord[]> {
    return this.run('outboxClaim', () => this.outbox.claim(claim));
  }

  /** Removes a delivered record. */
  outboxComplete(id: string): Promise<void> {
    return this.run('outboxComplete', () => this.outbox.complete(id));
  }

  /** Records a failed attempt (attempts, next try, error, or `dead`) and releases the lease. */
  outboxReschedule(
    id: string,
    update: { attempts: number; nextAttemptAt: Date; lastError?: string; status: 'pending' | 'dead' },
  ): Promise<void> {
    return this.run('outboxReschedule', () => this.outbox.reschedule(id, update));
  }

  /** Records by status, oldest first (`createdAt`, then `seq`). */
  outboxList(query: { status: 'pending' | 'dead'; limit?: number }): Promise<OutboxRecord[]> {
    return this.run('outboxList', () => this.outbox.list(query));
  }

  /** Puts a dead record back to pending (attempts 0, due now); false when unknown or not dead. */
  outboxRetry(id: string): Promise<boolean> {
    return this.run('outboxRetry', () => this.outbox.retry(id));
  }

  // ---------------------------------------------------------------- leases

  /**
   * Takes the lease `name` for `owner` until `ttlMs` from now when it is free, expired or
   * already `owner`'s (a renewal); true when `owner` holds it afterwards. Among owners asking at
   * once, on any number of clients, exactly one wins (see the README's "Leases" section).
   */
  leaseAcquire(name: string, owner: string, ttlMs: number): Promise<boolean> {
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
      return Promise.reject(
        new ValidationError(`${PACKAGE_NAME}: leaseAcquire ttlMs must be a positive number of milliseconds`),
      );
    }
    return this.run('leaseAcquire', () => this.leases.acquire(name, owner, Math.ceil(ttlMs)));
  }

  /** Gives the lease up if `owner` holds it (otherwise nothing changes). */
  leaseRelease(name: string, owner: string): Promise<void> {
    return this.run('leaseRelease', () => this.leases.release(name, owner));
  }
}
