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
import { toJsonWithDates, ValidationError } from '@pocketping/core';
import { createHash } from 'node:crypto';
import pg, { type Pool, type PoolClient, type QueryConfig } from 'pg';
import { Batcher } from './batcher.js';
import { isUnreachable, PACKAGE_NAME, unreachableError, wrapError } from './errors.js';
import { type MigrationResult, runMigrations } from './migrations.js';
import { type TableNames, tableNames } from './names.js';
import {
  ATTACHMENT_COLUMNS,
  attachmentFromRow,
  type Column,
  MESSAGE_COLUMNS,
  MESSAGE_READ_COLUMNS,
  messageFromRow,
  OUTBOX_COLUMNS,
  outboxFromRow,
  patchColumns,
  placeholder,
  rowParams,
  SESSION_COLUMNS,
  SESSION_READ_COLUMNS,
  selectList,
  sessionFromRow,
  toParam,
} from './rows.js';
import {
  isPool,
  type PostgresStorageOptions,
  PostgresStorageOptionsSchema,
  type PostgresStorageSettings,
} from './options.js';

type Row = Record<string, unknown>;

const SESSION_SELECT = selectList(SESSION_READ_COLUMNS);
const MESSAGE_SELECT = selectList(MESSAGE_READ_COLUMNS);
const OUTBOX_SELECT = selectList(OUTBOX_COLUMNS);
/** Outbox rows per INSERT: 12 parameters each stays far below PostgreSQL's 65,535. */
const OUTBOX_BATCH = 1000;

/** Claim order, like MemoryStorage: the longest-due head first. */
function byDue(a: OutboxRecord, b: OutboxRecord): number {
  return a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime() || a.seq - b.seq;
}

/** A lease lifetime in whole milliseconds (at least 1), or a ValidationError. */
function leaseMs(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new ValidationError(`${PACKAGE_NAME}: leaseAcquire ttlMs must be a positive number of milliseconds`);
  }
  return Math.max(1, Math.ceil(ttlMs));
}

/** Parses constructor input into settings, or throws a ValidationError naming the option. */
export function parseStorageOptions(input: string | PostgresStorageOptions | Pool): PostgresStorageSettings {
  const raw = typeof input === 'string' ? { url: input } : isPool(input) ? { pool: input } : input;
  const parsed = PostgresStorageOptionsSchema.safeParse(raw);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'options'} ${i.message}`).join('; ');
    throw new ValidationError(`${PACKAGE_NAME}: invalid options: ${detail}`, { code: 'CONFIG_INVALID' });
  }
  return parsed.data;
}

function upsertSql(table: string, columns: readonly Column[]): string {
  const names = columns.map((c) => c.column).join(', ');
  const values = columns.map((c, i) => placeholder(c, i + 1)).join(', ');
  const updates = columns
    .filter((c) => c.column !== 'id')
    .map((c) => `${c.column} = EXCLUDED.${c.column}`)
    .join(', ');
  return `INSERT INTO ${table} (${names}) VALUES (${values}) ON CONFLICT (id) DO UPDATE SET ${updates}`;
}

/** The pieces of a message upsert: parameter of `session_id`, columns, placeholders, updates. */
const MESSAGE_UPSERT = {
  sessionParam: MESSAGE_COLUMNS.findIndex((c) => c.key === 'sessionId') + 1,
  names: MESSAGE_COLUMNS.map((c) => c.column).join(', '),
  values: MESSAGE_COLUMNS.map((c, i) => placeholder(c, i + 1)).join(', '),
  updates: MESSAGE_COLUMNS.filter((c) => c.column !== 'id')
    .map((c) => `${c.column} = EXCLUDED.${c.column}`)
    .join(', '),
};

/**
 * The message upsert that also takes the session's next sequence number, in one statement:
 * the CTE bumps `sessions.seq` (locking the session row until commit), so writers of one
 * session commit in seq order and a reader that saw seq N never sees a new N-1 later. A
 * message of an unknown session is still stored, without a seq.
 */
function saveMessageSql(t: TableNames): string {
  const { sessionParam, names, values, updates } = MESSAGE_UPSERT;
  return `WITH s AS (UPDATE ${t.sessions} SET seq = seq + 1 WHERE id = $${sessionParam} RETURNING seq)
    INSERT INTO ${t.messages} (${names}, seq) VALUES (${values}, (SELECT seq FROM s))
    ON CONFLICT (id) DO UPDATE SET ${updates}, seq = EXCLUDED.seq
    RETURNING (xmax = 0) AS inserted, seq`;
}

/**
 * The returning visitor's `/connect` in one statement: checks the visitor, merges the new
 * metadata over the stored one except the `keepKeys` ($5) the stored metadata already has, sets
 * `lastActivity`, and returns the session as `getSession` reads it (bridge threads live in
 * their own column, so no join is needed).
 */
function touchSessionSql(t: TableNames, durable: boolean): string {
  // Unless `durableTouches`, this one statement's commit does not wait for the WAL flush
  // (synchronous_commit off for its own transaction): a touch only moves lastActivity and page
  // metadata, so a database crash can lose the last few touches, never a message.
  const asyncCommit = durable ? '' : ` AND set_config('synchronous_commit', 'off', true) = 'off'`;
  return `UPDATE ${t.sessions}
    SET last_activity = $3,
        metadata = metadata || ($4::jsonb - ARRAY(SELECT k FROM unnest($5::text[]) AS k WHERE metadata ? k))
    WHERE id = $1 AND visitor_id = $2${asyncCommit}
    RETURNING ${SESSION_SELECT}`;
}

/**
 * `touchSessionSql` for many sessions at once (see `PostgresStorage.touchSession`): $1 ids,
 * $2 visitor ids, $3 times, $4 metadata (arrays, one element per session), $5 the keep keys
 * they share. Answers the updated sessions (not those that do not exist or belong to another
 * visitor).
 */
function touchSessionsSql(t: TableNames, durable: boolean): string {
  const asyncCommit = durable ? '' : ` AND set_config('synchronous_commit', 'off', true) = 'off'`;
  // The rows are locked in id order first (a sorted FOR UPDATE, read as the update needs it):
  // two batches that share sessions then wait for each other instead of deadlocking, whatever
  // join order the planner picks for the update itself.
  return `WITH v AS (SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::jsonb[]) AS v(id, vid, la, md)),
    l AS MATERIALIZED (SELECT id FROM ${t.sessions} WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE)
    UPDATE ${t.sessions} AS s
    SET last_activity = v.la,
        metadata = s.metadata || (v.md - ARRAY(SELECT k FROM unnest($5::text[]) AS k WHERE s.metadata ? k))
    FROM v JOIN l ON l.id = v.id
    WHERE s.id = l.id AND s.id = ANY($1::text[]) AND s.visitor_id = v.vid${asyncCommit}
    RETURNING ${selectList(SESSION_READ_COLUMNS, 's')}`;
}

/** The PostgreSQL array type of a column's values (for `unnest` of batched parameters). */
const ARRAY_TYPE: Record<Column['kind'], string> = {
  text: 'text[]',
  bool: 'boolean[]',
  date: 'timestamptz[]',
  json: 'jsonb[]',
  int: 'bigint[]',
};

/**
 * `saveMessageWithSessionSql` for many messages of distinct sessions at once: one array
 * parameter per message column, then one per patched session column (`patch`, the same
 * columns for every message). The sessions are locked in id order first, so concurrent
 * batches cannot deadlock; each session's `seq` moves by one and its message gets that
 * number. Messages of unknown sessions are not stored and have no row in the answer.
 */
function saveMessagesWithSessionsSql(t: TableNames, patch: readonly Column[]): string {
  const all = [...MESSAGE_COLUMNS, ...patch];
  const arrays = all.map((c, i) => `$${i + 1}::${ARRAY_TYPE[c.kind]}`).join(', ');
  const names = [...MESSAGE_COLUMNS.map((c) => c.column), ...patch.map((c) => `p_${c.column}`)].join(', ');
  const sets = patch.map((c) => `, ${c.column} = v.p_${c.column}`).join('');
  const { updates } = MESSAGE_UPSERT;
  return `WITH v AS (SELECT * FROM unnest(${arrays}) AS v(${names})),
    l AS MATERIALIZED (SELECT id FROM ${t.sessions} WHERE id = ANY($${MESSAGE_UPSERT.sessionParam}::text[])
      ORDER BY id FOR UPDATE),
    s AS (UPDATE ${t.sessions} AS x SET seq = x.seq + 1${sets}
      FROM v JOIN l ON l.id = v.session_id
      WHERE x.id = l.id AND x.id = ANY($${MESSAGE_UPSERT.sessionParam}::text[])
      RETURNING ${selectList(SESSION_READ_COLUMNS, 'x')}),
    m AS (INSERT INTO ${t.messages} (${MESSAGE_UPSERT.names}, seq)
      SELECT ${MESSAGE_COLUMNS.map((c) => `v.${c.column}`).join(', ')}, s.seq FROM v JOIN s ON s.id = v.session_id
      ON CONFLICT (id) DO UPDATE SET ${updates}, seq = EXCLUDED.seq
      RETURNING id AS message_id, session_id AS message_session, (xmax = 0) AS message_inserted, seq AS message_seq)
    SELECT m.message_id, m.message_inserted, m.message_seq, ${selectList(SESSION_READ_COLUMNS, 's')}
    FROM m JOIN s ON s.id = m.message_session`;
}

/**
 * `createSessionForVisitorSql` for many new sessions of distinct visitors at once: one array
 * parameter per session column. One row per given session: `proposed_id`, `created`, and the
 * visitor's newest existing session's columns (null when the given one was stored).
 */
function createSessionsForVisitorsSql(t: TableNames): string {
  const arrays = SESSION_COLUMNS.map((c, i) => `$${i + 1}::${ARRAY_TYPE[c.kind]}`).join(', ');
  const names = SESSION_COLUMNS.map((c) => c.column).join(', ');
  return `WITH v AS (SELECT * FROM unnest(${arrays}) AS v(${names})),
    e AS (SELECT x.* FROM v, LATERAL (SELECT ${SESSION_SELECT} FROM ${t.sessions} AS s
      WHERE s.visitor_id = v.visitor_id ORDER BY s.created_at DESC, s.id DESC LIMIT 1) AS x),
    i AS (INSERT INTO ${t.sessions} (${names})
      SELECT ${SESSION_COLUMNS.map((c) => `v.${c.column}`).join(', ')} FROM v
      WHERE NOT EXISTS (SELECT 1 FROM e WHERE e.visitor_id = v.visitor_id) RETURNING id)
    SELECT v.id AS proposed_id, EXISTS (SELECT 1 FROM i WHERE i.id = v.id) AS created,
      ${selectList(SESSION_READ_COLUMNS, 'e')}
    FROM v LEFT JOIN e ON e.visitor_id = v.visitor_id`;
}

/**
 * Batched statements of one kind running at once per storage. One is the fastest measured
 * (returning visitors 0.36 → 0.46, messages 0.24 → 0.28 of the bare-Fastify rate, against five
 * at a time): the calls that arrive during a round trip all go in the next statement, and the
 * database has fewer backends competing for the same rows and CPU. A call never waits longer
 * than the statement in flight.
 */
const BATCHES_IN_FLIGHT = 1;

/** What `saveMessageWithSession` answers for a session that exists. */
type MessageSaved = { message: Message; session: Session };

/** One message save (hot path: no bridge references) waiting for its batch. */
interface MessageCall {
  message: Message;
  patch: SessionPatch;
}

/** One returning visitor's touch waiting for its batch. */
interface TouchCall {
  sessionId: string;
  visitorId: string;
  touch: SessionTouch;
}

/**
 * `/connect` without a known session, in one statement: the visitor's newest session if there
 * is one (as `getSessionByVisitorId` finds it), else the new row ($1.. in column order) is
 * inserted. The outer select always yields one row: `created`, and the existing session's
 * columns (all null when the row was inserted).
 */
function createSessionForVisitorSql(t: TableNames): string {
  const names = SESSION_COLUMNS.map((c) => c.column).join(', ');
  const values = SESSION_COLUMNS.map((c, i) => placeholder(c, i + 1)).join(', ');
  const visitorParam = SESSION_COLUMNS.findIndex((c) => c.key === 'visitorId') + 1;
  return `WITH e AS (SELECT ${SESSION_SELECT} FROM ${t.sessions} WHERE visitor_id = $${visitorParam}
      ORDER BY created_at DESC, id DESC LIMIT 1),
    i AS (INSERT INTO ${t.sessions} (${names}) SELECT ${values} WHERE NOT EXISTS (SELECT 1 FROM e) RETURNING id)
    SELECT EXISTS (SELECT 1 FROM i) AS created, ${selectList(SESSION_READ_COLUMNS, 'e')}
    FROM (SELECT 1) AS one LEFT JOIN e ON true`;
}

/**
 * `saveMessageSql` plus a session patch, in one statement: the CTE that takes the session's
 * next sequence number also writes the patched columns (parameters after the message's) and
 * returns the updated session; the message is inserted only from that CTE's row, so for an
 * unknown session nothing is stored and the statement yields no row. Otherwise one row: the
 * message's `inserted` flag and `seq`, and the session's columns.
 */
function saveMessageWithSessionSql(t: TableNames, sets: string): string {
  const { sessionParam, names, values, updates } = MESSAGE_UPSERT;
  return `WITH s AS (UPDATE ${t.sessions} SET seq = seq + 1${sets ? `, ${sets}` : ''} WHERE id = $${sessionParam}
      RETURNING ${SESSION_SELECT}),
    m AS (INSERT INTO ${t.messages} (${names}, seq) SELECT ${values}, s.seq FROM s
      ON CONFLICT (id) DO UPDATE SET ${updates}, seq = EXCLUDED.seq
      RETURNING (xmax = 0) AS inserted, seq)
    SELECT m.inserted AS message_inserted, m.seq AS message_seq, ${selectList(SESSION_READ_COLUMNS, 's')}
    FROM s JOIN m ON true`;
}

/** The SQL of `sessions.activity_minute` for a timestamptz expression (the generated column's formula). */
const ACTIVITY_MINUTE = (expr: string) => `date_trunc('minute', ${expr} AT TIME ZONE 'UTC')`;

/**
 * After a batched statement failed (nothing of it was stored: it was one transaction), each
 * call runs again on its own, so that one bad call (a duplicate id, a deadlock victim) does
 * not fail the others it happened to travel with. Waits until all have settled, so the
 * batcher's count of running statements stays right; each call gets its own outcome.
 */
async function eachAlone<I, O>(items: I[], one: (item: I) => Promise<O>): Promise<Promise<O>[]> {
  const outcomes = items.map((item) => one(item));
  await Promise.allSettled(outcomes);
  return outcomes;
}

/** The answer for a session stored as new: as given, with no message numbered yet. */
function created(session: Session): { session: Session; created: true } {
  return { session: { ...session, seq: 0 }, created: true };
}

/** The session columns a patch changes, as a key (patches of equal shape share a statement). */
function patchShape(patch: SessionPatch): string {
  return patchColumns(SESSION_COLUMNS, patch)
    .map((c) => c.column.column)
    .join(',');
}

/** The message as stored: the given one with the sequence number the database assigned. */
function withSeq(message: Message, seq: unknown): Message {
  const stored = { ...message };
  if (seq === null || seq === undefined) delete stored.seq;
  else stored.seq = Number(seq);
  return stored;
}

/** Distinct patch shapes whose statement text is kept (and prepared); more are built per call. */
const PATCH_CACHE_LIMIT = 256;

/**
 * PocketPing storage on PostgreSQL. Every optional Storage method is implemented; sessions,
 * messages, bridge references and attachment metadata live in their own tables of one schema,
 * created by versioned migrations at `init()`.
 *
 * @example
 * ```ts
 * import { PocketPing } from '@pocketping/core';
 * import { PostgresEventBus, PostgresStorage } from '@pocketping/storage-postgres';
 *
 * const storage = new PostgresStorage(process.env.DATABASE_URL!);
 * const pp = new PocketPing({ storage, eventBus: new PostgresEventBus({ pool: storage.pool }) });
 * await pp.init(); // applies pending migrations
 * ```
 */
export class PostgresStorage implements Storage {
  /** The connection pool (created from `url`, or the one given). */
  readonly pool: Pool;
  /** Validated options with defaults applied. */
  readonly settings: Readonly<Omit<PostgresStorageSettings, 'pool'>>;
  private readonly ownsPool: boolean;
  private readonly t: TableNames;
  private closed = false;
  private readonly statementNames = new Map<string, string>();
  private readonly sql: {
    upsertSession: string;
    createSessionForVisitor: string;
    createSessionsForVisitors: string;
    saveMessage: string;
    touchSession: string;
    touchSessions: string;
    upsertAttachment: string;
  };
  /** Groups concurrent touches into one statement under load (see `batchSize`). */
  private readonly touches?: Batcher<TouchCall, Session | null>;
  /** Groups concurrent new sessions of distinct visitors into one statement under load. */
  private readonly sessionCreates?: Batcher<Session, { session: Session; created: boolean }>;
  /** Groups concurrent message saves of distinct sessions into one statement under load. */
  private readonly messageSaves?: Batcher<MessageCall, MessageSaved | null>;
  /** Statement text of each patch shape (table and changed columns). */
  private readonly patchTexts = new Map<string, string>();
  /** Prepared `getMessages` statements by filter combination (see `messageQueryText`). */
  private readonly messageQueries: (QueryConfig | undefined)[] = [];

  /**
   * @param options A connection string, a ready-made `pg.Pool`, or `PostgresStorageOptions`.
   * @example
   * ```ts
   * new PostgresStorage('postgres://pocketping:secret@localhost:5432/app');
   * new PostgresStorage({ url: process.env.DATABASE_URL, schema: 'support', poolSize: 20 });
   * new PostgresStorage(existingPool);
   * ```
   */
  constructor(options: string | PostgresStorageOptions | Pool) {
    const { pool, ...settings } = parseStorageOptions(options);
    this.settings = Object.freeze(settings);
    if (pool) {
      this.pool = pool;
      this.ownsPool = false;
    } else {
      this.pool = new pg.Pool({
        connectionString: settings.url,
        max: settings.poolSize,
        connectionTimeoutMillis: settings.connectionTimeoutMs,
      });
      // An idle connection that dies (server restart) emits 'error' on the pool; the next
      // query reconnects and reports its own error, so there is nothing to do here.
      this.pool.on('error', () => {});
      this.ownsPool = true;
    }
    this.t = tableNames(settings.schema, settings.tablePrefix);
    const t = this.t;
    this.sql = {
      upsertSession: upsertSql(t.sessions, SESSION_COLUMNS),
      createSessionForVisitor: createSessionForVisitorSql(t),
      createSessionsForVisitors: createSessionsForVisitorsSql(t),
      saveMessage: saveMessageSql(t),
      touchSession: touchSessionSql(t, settings.durableTouches),
      touchSessions: touchSessionsSql(t, settings.durableTouches),
      upsertAttachment: upsertSql(t.attachments, ATTACHMENT_COLUMNS),
    };
    if (settings.batchSize > 1) {
      this.touches = new Batcher((calls) => this.touchBatch(calls), {
        maxBatch: settings.batchSize,
        maxInFlight: BATCHES_IN_FLIGHT,
        key: (call) => call.sessionId,
        shape: (call) => call.touch.keepKeys.join('\u0000'),
      });
      this.sessionCreates = new Batcher((sessions) => this.createSessionBatch(sessions), {
        maxBatch: settings.batchSize,
        maxInFlight: BATCHES_IN_FLIGHT,
        key: (session) => session.visitorId,
        shape: () => '',
      });
      this.messageSaves = new Batcher((calls) => this.saveMessageBatch(calls), {
        maxBatch: settings.batchSize,
        maxInFlight: BATCHES_IN_FLIGHT,
        key: (call) => call.message.sessionId,
        shape: (call) => patchShape(call.patch),
      });
    }
  }

  // ───────────────────────────── lifecycle ─────────────────────────────

  /** Applies pending migrations. Throws a `SetupError` with a guide when the database cannot be reached. */
  async init(): Promise<void> {
    await this.migrate();
  }

  /**
   * Applies pending migrations (idempotent; safe when several instances run it at once).
   * Throws a `SetupError` with a guide when the database cannot be reached.
   */
  async migrate(): Promise<MigrationResult> {
    try {
      return await runMigrations(this.pool, this.t);
    } catch (err) {
      if (isUnreachable(err)) throw unreachableError(this.settings.url, err);
      throw wrapError('migrate', err);
    }
  }

  /** Ends the pool when it was created here; a pool that was given is left open. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsPool) await this.pool.end().catch(() => {});
  }

  /** True when the database answers `SELECT 1`. */
  async ping(): Promise<boolean> {
    try {
      await this.pool.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  // ───────────────────────────── helpers ─────────────────────────────

  /**
   * A named statement for a hot query with fixed text: each connection parses and plans it
   * once. Names are derived from the text, so different schemas never share a name.
   */
  private prepared(text: string): QueryConfig {
    let name = this.statementNames.get(text);
    if (!name) {
      name = `pocketping_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
      this.statementNames.set(text, name);
    }
    return { name, text };
  }

  private async query(operation: string, text: string | QueryConfig, params: unknown[] = []): Promise<Row[]> {
    try {
      const result = await this.pool.query(text, params);
      return result.rows as Row[];
    } catch (err) {
      throw wrapError(operation, err);
    }
  }

  private async transaction<T>(operation: string, fn: (client: PoolClient) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw wrapError(operation, err);
    }
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
        client.release();
      } catch (rollbackError) {
        client.release(rollbackError instanceof Error ? rollbackError : true);
      }
      throw wrapError(operation, err);
    }
  }

  /**
   * `UPDATE ... SET` for only the patched columns (`$1` is the id), returning the updated row as
   * read. The text of each shape is built once and prepared, so a patch that recurs (the
   * `lastActivity` bump of every message, receipts) is parsed and planned once per connection.
   * A message update also takes the session's next sequence number, in the same statement
   * (see `saveMessageSql`); a message whose session is gone keeps its seq.
   */
  private patchStatement(
    table: 'sessions' | 'messages' | 'attachments',
    changes: { column: Column; value: unknown }[],
  ): { config: string | QueryConfig; params: unknown[] } {
    const params: unknown[] = [];
    let key = table;
    for (const { column, value } of changes) {
      params.push(toParam(column, value));
      key += `,${column.column}`;
    }
    let text = this.patchTexts.get(key);
    if (text === undefined) {
      const t = this.t;
      const sets = changes.map(({ column }, i) => `${column.column} = ${placeholder(column, i + 2)}`).join(', ');
      if (table === 'sessions') {
        text = `UPDATE ${t.sessions} SET ${sets} WHERE id = $1 RETURNING ${SESSION_SELECT}`;
      } else if (table === 'messages') {
        text = `WITH s AS (UPDATE ${t.sessions} SET seq = seq + 1
                  WHERE id = (SELECT session_id FROM ${t.messages} WHERE id = $1) RETURNING seq)
                UPDATE ${t.messages} SET ${sets}, seq = COALESCE((SELECT seq FROM s), seq)
                WHERE id = $1 RETURNING ${MESSAGE_SELECT}`;
      } else {
        text = `UPDATE ${t.attachments} SET ${sets} WHERE id = $1 RETURNING ${selectList(ATTACHMENT_COLUMNS)}`;
      }
      if (this.patchTexts.size >= PATCH_CACHE_LIMIT) return { config: text, params };
      this.patchTexts.set(key, text);
    }
    return { config: this.prepared(text), params };
  }

  private async replaceThreadRefs(
    client: PoolClient,
    sessionId: string,
    threads: Record<string, string>,
  ): Promise<void> {
    await client.query(`DELETE FROM ${this.t.bridgeThreads} WHERE session_id = $1`, [sessionId]);
    if (Object.keys(threads).length === 0) return;
    await client.query(
      `INSERT INTO ${this.t.bridgeThreads} (session_id, bridge, thread_id)
       SELECT $1, key, value FROM jsonb_each_text($2::jsonb)
       ON CONFLICT (bridge, thread_id) DO UPDATE SET session_id = EXCLUDED.session_id`,
      [sessionId, JSON.stringify(threads)],
    );
  }

  private async replaceMessageRefs(
    client: PoolClient,
    messageId: string,
    sessionId: string,
    ids: Record<string, string>,
  ): Promise<void> {
    await client.query(`DELETE FROM ${this.t.bridgeMessages} WHERE message_id = $1`, [messageId]);
    if (Object.keys(ids).length === 0) return;
    await client.query(
      `INSERT INTO ${this.t.bridgeMessages} (message_id, session_id, bridge, platform_message_id)
       SELECT $1, $2, key, value FROM jsonb_each_text($3::jsonb)
       ON CONFLICT (bridge, platform_message_id)
       DO UPDATE SET message_id = EXCLUDED.message_id, session_id = EXCLUDED.session_id`,
      [messageId, sessionId, JSON.stringify(ids)],
    );
  }

  // ───────────────────────────── sessions ─────────────────────────────

  /** Stores a session (an upsert: saving the same id again replaces it). */
  async createSession(session: Session): Promise<void> {
    const params = rowParams(SESSION_COLUMNS, { ...session, metadata: session.metadata ?? {} });
    if (Object.keys(session.bridgeThreads ?? {}).length === 0) {
      // A new session has no thread yet: one statement instead of a transaction (the hot path of /connect).
      await this.query('createSession', this.prepared(this.sql.upsertSession), params);
      return;
    }
    await this.transaction('createSession', async (client) => {
      await client.query(this.sql.upsertSession, params);
      await this.replaceThreadRefs(client, session.id, session.bridgeThreads ?? {});
    });
  }

  /**
   * The visitor's newest session (`created: false`, nothing stored), or `session` stored as new
   * when the visitor has none: one statement (see `createSessionForVisitorSql`). A session that
   * comes with bridge threads takes the lookup-then-`createSession` way.
   */
  async createSessionForVisitor(session: Session): Promise<{ session: Session; created: boolean }> {
    const hot = Object.keys(session.bridgeThreads ?? {}).length === 0;
    if (hot && this.sessionCreates) return this.sessionCreates.submit(session);
    return this.createSessionForVisitorOne(session);
  }

  /** New sessions of distinct visitors (no bridge threads) in one statement (see `createSessionsForVisitorsSql`). */
  private async createSessionBatch(
    sessions: Session[],
  ): Promise<({ session: Session; created: boolean } | Promise<{ session: Session; created: boolean }>)[]> {
    if (sessions.length === 1) return [await this.createSessionForVisitorOne(sessions[0]!)];
    const params = SESSION_COLUMNS.map((c) =>
      sessions.map((x) =>
        toParam(c, c.key === 'metadata' ? (x.metadata ?? {}) : (x as unknown as Record<string, unknown>)[c.key]),
      ),
    );
    let rows: Row[];
    try {
      rows = (await this.pool.query(this.prepared(this.sql.createSessionsForVisitors), params)).rows as Row[];
    } catch {
      return eachAlone(sessions, (x) => this.createSessionForVisitorOne(x));
    }
    const byId = new Map<string, Row>();
    for (const row of rows) byId.set(row.proposed_id as string, row);
    return sessions.map((session) => {
      const row = byId.get(session.id);
      if (!row) throw wrapError('createSessionForVisitor', new Error(`no answer for session ${session.id}`));
      if (row.created) {
        return created(session);
      }
      return { session: sessionFromRow(row), created: false };
    });
  }

  private async createSessionForVisitorOne(session: Session): Promise<{ session: Session; created: boolean }> {
    if (Object.keys(session.bridgeThreads ?? {}).length > 0) {
      const existing = await this.getSessionByVisitorId(session.visitorId);
      if (existing) return { session: existing, created: false };
      await this.createSession(session);
      return created(session);
    }
    const params = rowParams(SESSION_COLUMNS, { ...session, metadata: session.metadata ?? {} });
    const [row] = await this.query('createSessionForVisitor', this.prepared(this.sql.createSessionForVisitor), params);
    if (row?.created) {
      return created(session);
    }
    return { session: sessionFromRow(row!), created: false };
  }

  /** Reads a session, or `null`. */
  async getSession(sessionId: string): Promise<Session | null> {
    const rows = await this.query(
      'getSession',
      this.prepared(`SELECT ${SESSION_SELECT} FROM ${this.t.sessions} WHERE id = $1`),
      [sessionId],
    );
    return rows[0] ? sessionFromRow(rows[0]) : null;
  }

  /** Replaces the given top-level fields in one UPDATE and returns the session, or `null`. */
  async updateSession(sessionId: string, patch: SessionPatch): Promise<Session | null> {
    const changes = patchColumns(SESSION_COLUMNS, patch);
    if (changes.length === 0) return this.getSession(sessionId);
    const { config: text, params } = this.patchStatement('sessions', changes);
    if (patch.bridgeThreads === undefined) {
      const rows = await this.query('updateSession', text, [sessionId, ...params]);
      return rows[0] ? sessionFromRow(rows[0]) : null;
    }
    return this.transaction('updateSession', async (client) => {
      const { rows } = await client.query(text, [sessionId, ...params]);
      if (!rows[0]) return null;
      await this.replaceThreadRefs(client, sessionId, patch.bridgeThreads ?? {});
      return sessionFromRow(rows[0]);
    });
  }

  /**
   * A returning visitor's `/connect` in one statement (see `Storage.touchSession`): when the
   * session exists and belongs to `visitorId`, merges `touch.metadata` into the stored metadata
   * (stored values of `touch.keepKeys` stay), sets `lastActivity` and returns the session;
   * otherwise `null`, with nothing changed.
   */
  async touchSession(sessionId: string, visitorId: string, touch: SessionTouch): Promise<Session | null> {
    const call = { sessionId, visitorId, touch };
    return this.touches ? this.touches.submit(call) : this.touchOne(call);
  }

  private async touchOne({ sessionId, visitorId, touch }: TouchCall): Promise<Session | null> {
    const rows = await this.query('touchSession', this.prepared(this.sql.touchSession), [
      sessionId,
      visitorId,
      touch.lastActivity,
      toJsonWithDates(touch.metadata ?? {}),
      [...touch.keepKeys],
    ]);
    return rows[0] ? sessionFromRow(rows[0]) : null;
  }

  /**
   * Touches of several sessions (distinct ids, same keep keys) in one statement. Rows are
   * locked in id order, so two batches running at once (here or on another instance) cannot
   * deadlock on each other; when the statement fails anyway, each touch runs again on its own.
   */
  private async touchBatch(calls: TouchCall[]): Promise<(Session | null | Promise<Session | null>)[]> {
    if (calls.length === 1) return [await this.touchOne(calls[0]!)];
    const sorted = [...calls].sort((a, b) => (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0));
    let rows: Row[];
    try {
      const result = await this.pool.query(this.prepared(this.sql.touchSessions), [
        sorted.map((c) => c.sessionId),
        sorted.map((c) => c.visitorId),
        sorted.map((c) => c.touch.lastActivity),
        sorted.map((c) => toJsonWithDates(c.touch.metadata ?? {})),
        [...calls[0]!.touch.keepKeys],
      ]);
      rows = result.rows as Row[];
    } catch {
      return eachAlone(calls, (c) => this.touchOne(c));
    }
    const byId = new Map<string, Row>();
    for (const row of rows) byId.set(row.id as string, row);
    return calls.map((c) => {
      const row = byId.get(c.sessionId);
      return row ? sessionFromRow(row) : null;
    });
  }

  /** The newest session (by creation) of a visitor, or `null`. */
  async getSessionByVisitorId(visitorId: string): Promise<Session | null> {
    const rows = await this.query(
      'getSessionByVisitorId',
      this.prepared(
        `SELECT ${SESSION_SELECT} FROM ${this.t.sessions} WHERE visitor_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1`,
      ),
      [visitorId],
    );
    return rows[0] ? sessionFromRow(rows[0]) : null;
  }

  /**
   * Sessions by most recent activity first (ties by id). The activity indexes hold the minute
   * of `last_activity` (see migration 6): each bound is also applied to that minute so the
   * index range is used, and the rows of one minute are sorted by the exact time.
   */
  async listSessions(query: SessionQuery = {}): Promise<Session[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.status) {
      params.push(query.status);
      where.push(`status = $${params.length}`);
    }
    if (query.before) {
      params.push(query.before);
      const p = `$${params.length}::timestamptz`;
      where.push(`last_activity < ${p}`, `activity_minute <= ${ACTIVITY_MINUTE(p)}`);
    }
    if (query.since) {
      params.push(query.since);
      const p = `$${params.length}::timestamptz`;
      where.push(`last_activity >= ${p}`, `activity_minute >= ${ACTIVITY_MINUTE(p)}`);
    }
    let text = `SELECT ${SESSION_SELECT} FROM ${this.t.sessions}`;
    if (where.length > 0) text += ` WHERE ${where.join(' AND ')}`;
    text += ' ORDER BY activity_minute DESC, last_activity DESC, id ASC';
    if (query.limit !== undefined) {
      params.push(Math.max(0, Math.floor(query.limit)));
      text += ` LIMIT $${params.length}`;
    }
    const rows = await this.query('listSessions', text, params);
    return rows.map(sessionFromRow);
  }

  /**
   * Deletes a session with its messages, attachments, bridge references and outbox records, in
   * one statement. Outbox records of the id go even when the session row is already gone.
   */
  async deleteSession(sessionId: string): Promise<boolean> {
    const t = this.t;
    const rows = await this.query(
      'deleteSession',
      `WITH s AS (DELETE FROM ${t.sessions} WHERE id = $1 RETURNING id),
        m AS (DELETE FROM ${t.messages} WHERE session_id IN (SELECT id FROM s)),
        bm AS (DELETE FROM ${t.bridgeMessages} WHERE session_id IN (SELECT id FROM s)),
        bt AS (DELETE FROM ${t.bridgeThreads} WHERE session_id IN (SELECT id FROM s)),
        a AS (DELETE FROM ${t.attachments} WHERE session_id IN (SELECT id FROM s)),
        o AS (DELETE FROM ${t.outbox} WHERE session_id = $1)
       SELECT count(*)::int AS n FROM s`,
      [sessionId],
    );
    return (rows[0]?.n as number) > 0;
  }

  /** Deletes every session last active before `olderThan`, with everything attached (outbox records too); returns how many. */
  async cleanupOldSessions(olderThan: Date): Promise<number> {
    const t = this.t;
    const rows = await this.query(
      'cleanupOldSessions',
      `WITH s AS (DELETE FROM ${t.sessions}
          WHERE activity_minute <= ${ACTIVITY_MINUTE('$1::timestamptz')} AND last_activity < $1 RETURNING id),
        m AS (DELETE FROM ${t.messages} WHERE session_id IN (SELECT id FROM s)),
        bm AS (DELETE FROM ${t.bridgeMessages} WHERE session_id IN (SELECT id FROM s)),
        bt AS (DELETE FROM ${t.bridgeThreads} WHERE session_id IN (SELECT id FROM s)),
        a AS (DELETE FROM ${t.attachments} WHERE session_id IN (SELECT id FROM s)),
        o AS (DELETE FROM ${t.outbox} WHERE session_id IN (SELECT id FROM s))
       SELECT count(*)::int AS n FROM s`,
      [olderThan],
    );
    return (rows[0]?.n as number) ?? 0;
  }

  // ───────────────────────────── messages ─────────────────────────────

  /**
   * Stores a message (an upsert: saving the same id again replaces it) and returns it with the
   * session's next sequence number (`seq`), assigned in the same statement; without a seq when
   * the session row does not exist.
   */
  async saveMessage(message: Message): Promise<Message> {
    const params = rowParams(MESSAGE_COLUMNS, message);
    const ids = message.bridgeMessageIds ?? {};
    if (Object.keys(ids).length === 0) {
      // The common case, a new message without bridge ids, is one statement; only a message
      // saved again over an existing one needs its old bridge references dropped.
      const [row] = await this.query('saveMessage', this.prepared(this.sql.saveMessage), params);
      if (!row?.inserted) {
        await this.query('saveMessage', `DELETE FROM ${this.t.bridgeMessages} WHERE message_id = $1`, [message.id]);
      }
      return withSeq(message, row?.seq);
    }
    const seq = await this.transaction('saveMessage', async (client) => {
      const { rows } = await client.query(this.prepared(this.sql.saveMessage), params);
      await this.replaceMessageRefs(client, message.id, message.sessionId, ids);
      return rows[0]?.seq;
    });
    return withSeq(message, seq);
  }

  /**
   * Stores a message and applies `sessionPatch` to its session in one statement (see
   * `saveMessageWithSessionSql`): the message gets the session's next `seq`, and the session
   * row stays locked from that number to the commit, so commits follow seq order. Returns the
   * message as stored and the updated session; for an unknown session nothing is stored and
   * the answer is `null`. Bridge references (message ids, a `bridgeThreads` patch) are written
   * in the same transaction, after the statement.
   */
  async saveMessageWithSession(
    message: Message,
    sessionPatch: SessionPatch,
  ): Promise<{ message: Message; session: Session } | null> {
    const hot = Object.keys(message.bridgeMessageIds ?? {}).length === 0 && sessionPatch.bridgeThreads === undefined;
    if (hot && this.messageSaves) return this.messageSaves.submit({ message, patch: sessionPatch });
    return this.saveMessageWithSessionOne(message, sessionPatch);
  }

  /**
   * Hot-path saves (no bridge references) of messages of distinct sessions, all with the same
   * patched columns, in one statement (see `saveMessagesWithSessionsSql`). A message saved
   * again over an existing one has its old bridge references dropped afterwards, like
   * `saveMessage`. When the statement fails (nothing of it was stored), each save runs again on
   * its own.
   */
  private async saveMessageBatch(
    calls: MessageCall[],
  ): Promise<(MessageSaved | null | Promise<MessageSaved | null>)[]> {
    if (calls.length === 1) return [await this.saveMessageWithSessionOne(calls[0]!.message, calls[0]!.patch)];
    const patch = patchColumns(SESSION_COLUMNS, calls[0]!.patch).map((c) => c.column);
    const key = `batch:${patchShape(calls[0]!.patch)}`;
    let text = this.patchTexts.get(key);
    if (text === undefined) {
      text = saveMessagesWithSessionsSql(this.t, patch);
      if (this.patchTexts.size < PATCH_CACHE_LIMIT) this.patchTexts.set(key, text);
    }
    const columns = [...MESSAGE_COLUMNS, ...patch];
    const params = columns.map((c, i) =>
      calls.map((call) =>
        i < MESSAGE_COLUMNS.length
          ? toParam(c, (call.message as unknown as Record<string, unknown>)[c.key])
          : toParam(c, (call.patch as Record<string, unknown>)[c.key]),
      ),
    );
    let rows: Row[];
    try {
      rows = (await this.pool.query(this.prepared(text), params)).rows as Row[];
    } catch {
      return eachAlone(calls, (c) => this.saveMessageWithSessionOne(c.message, c.patch));
    }
    const byId = new Map<string, Row>();
    for (const row of rows) byId.set(row.message_id as string, row);
    const replaced = rows.filter((r) => !r.message_inserted).map((r) => r.message_id as string);
    if (replaced.length > 0) {
      await this.query(
        'saveMessageWithSession',
        `DELETE FROM ${this.t.bridgeMessages} WHERE message_id = ANY($1::text[])`,
        [replaced],
      );
    }
    return calls.map(({ message }) => {
      const row = byId.get(message.id);
      return row ? { message: withSeq(message, row.message_seq), session: sessionFromRow(row) } : null;
    });
  }

  private async saveMessageWithSessionOne(
    message: Message,
    sessionPatch: SessionPatch,
  ): Promise<{ message: Message; session: Session } | null> {
    const changes = patchColumns(SESSION_COLUMNS, sessionPatch);
    const params = rowParams(MESSAGE_COLUMNS, message);
    let key = 'message+session';
    for (const { column, value } of changes) {
      params.push(toParam(column, value));
      key += `,${column.column}`;
    }
    // One statement text per patch shape, built once and prepared (like `patchStatement`).
    let text = this.patchTexts.get(key);
    let config: string | QueryConfig;
    if (text !== undefined) {
      config = this.prepared(text);
    } else {
      const first = MESSAGE_COLUMNS.length + 1;
      const sets = changes.map(({ column }, i) => `${column.column} = ${placeholder(column, first + i)}`).join(', ');
      text = saveMessageWithSessionSql(this.t, sets);
      if (this.patchTexts.size < PATCH_CACHE_LIMIT) {
        this.patchTexts.set(key, text);
        config = this.prepared(text);
      } else {
        config = text;
      }
    }
    const result = (row: Row | undefined) =>
      row ? { message: withSeq(message, row.message_seq), session: sessionFromRow(row) } : null;
    const ids = message.bridgeMessageIds ?? {};
    const hasIds = Object.keys(ids).length > 0;
    if (!hasIds && sessionPatch.bridgeThreads === undefined) {
      // The hot path (a visitor or operator message): one statement, one commit.
      const [row] = await this.query('saveMessageWithSession', config, params);
      if (row && !row.message_inserted) {
        await this.query('saveMessageWithSession', `DELETE FROM ${this.t.bridgeMessages} WHERE message_id = $1`, [
          message.id,
        ]);
      }
      return result(row);
    }
    return this.transaction('saveMessageWithSession', async (client) => {
      const { rows } = await client.query(config, params);
      const row = rows[0] as Row | undefined;
      if (!row) return null;
      if (hasIds || !row.message_inserted) {
        await this.replaceMessageRefs(client, message.id, message.sessionId, ids);
      }
      const out = result(row);
      if (out && sessionPatch.bridgeThreads !== undefined) {
        await this.replaceThreadRefs(client, message.sessionId, sessionPatch.bridgeThreads ?? {});
      }
      return out;
    });
  }

  /**
   * Stores many messages at once (imports, migrations from another storage): one multi-row
   * INSERT per 1,000 messages, in one transaction. Same upsert semantics as `saveMessage`.
   */
  async saveMessages(messages: readonly Message[]): Promise<void> {
    const unique = [...new Map(messages.map((m) => [m.id, m])).values()];
    if (unique.length === 0) return;
    const t = this.t;
    const names = MESSAGE_COLUMNS.map((c) => c.column).join(', ');
    const updates = MESSAGE_COLUMNS.filter((c) => c.column !== 'id')
      .map((c) => `${c.column} = EXCLUDED.${c.column}`)
      .join(', ');
    await this.transaction('saveMessages', async (client) => {
      for (let start = 0; start < unique.length; start += 1000) {
        const batch = unique.slice(start, start + 1000);
        const params: unknown[] = [];
        const rows = batch.map((m) => {
          const values = rowParams(MESSAGE_COLUMNS, m).map((value, i) => {
            params.push(value);
            return placeholder(MESSAGE_COLUMNS[i]!, params.length);
          });
          return `(${values.join(', ')})`;
        });
        await client.query(
          `INSERT INTO ${t.messages} (${names}) VALUES ${rows.join(', ')} ON CONFLICT (id) DO UPDATE SET ${updates}`,
          params,
        );
        await client.query(`DELETE FROM ${t.bridgeMessages} WHERE message_id = ANY($1::text[])`, [
          batch.map((m) => m.id),
        ]);
        for (const m of batch) {
          if (m.bridgeMessageIds && Object.keys(m.bridgeMessageIds).length > 0) {
            await this.replaceMessageRefs(client, m.id, m.sessionId, m.bridgeMessageIds);
          }
        }
      }
      // Sequence numbers last: the sessions are locked (in id order, so two imports never
      // deadlock) from here to the commit, which keeps commit order equal to seq order. Each
      // session's imported messages take its next numbers in the order they last changed.
      const sessionIds = [...new Set(unique.map((m) => m.sessionId))];
      await client.query(`SELECT 1 FROM ${t.sessions} WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`, [sessionIds]);
      await client.query(
        `WITH ordered AS (
           SELECT id, session_id,
                  row_number() OVER (PARTITION BY session_id ORDER BY updated_at, created_at, id) AS n
           FROM ${t.messages} WHERE id = ANY($1::text[])
         ), counts AS (SELECT session_id, count(*) AS total FROM ordered GROUP BY session_id),
         bumped AS (
           UPDATE ${t.sessions} s SET seq = s.seq + c.total FROM counts c WHERE s.id = c.session_id
           RETURNING s.id, s.seq - c.total AS base
         )
         UPDATE ${t.messages} m SET seq = b.base + o.n
         FROM ordered o JOIN bumped b ON b.id = o.session_id WHERE m.id = o.id`,
        [unique.map((m) => m.id)],
      );
    });
  }

  /**
   * Messages of a session ascending by (timestamp, id). `after` keeps those with
   * `updatedAt > after`, `afterSeq` those with `seq > afterSeq`, `before` those with
   * `timestamp < before`, `limit` the newest ones.
   */
  async getMessages(sessionId: string, query: MessageQuery = {}): Promise<Message[]> {
    const params: unknown[] = [sessionId];
    // One statement text per combination of filters (16 at most), built once and prepared.
    let shape = 0;
    if (query.after) {
      params.push(query.after);
      shape |= 1;
    }
    if (query.afterSeq !== undefined) {
      params.push(Math.floor(query.afterSeq));
      shape |= 2;
    }
    if (query.before) {
      params.push(query.before);
      shape |= 4;
    }
    if (query.limit !== undefined && query.limit >= 0) {
      params.push(Math.floor(query.limit));
      shape |= 8;
    }
    let statement = this.messageQueries[shape];
    if (!statement) {
      statement = this.prepared(this.messageQueryText(shape));
      this.messageQueries[shape] = statement;
    }
    const rows = await this.query('getMessages', statement, params);
    return rows.map(messageFromRow);
  }

  /** The `getMessages` statement for one combination of filters (bits: after, afterSeq, before, limit). */
  private messageQueryText(shape: number): string {
    const where = ['session_id = $1'];
    let n = 1;
    if (shape & 1) where.push(`updated_at > $${++n}`);
    if (shape & 2) where.push(`seq > $${++n}`);
    if (shape & 4) where.push(`created_at < $${++n}`);
    const base = `SELECT ${MESSAGE_SELECT} FROM ${this.t.messages} WHERE ${where.join(' AND ')}`;
    if (shape & 8) {
      return `SELECT ${MESSAGE_SELECT} FROM (${base} ORDER BY created_at DESC, id DESC LIMIT $${++n}) page ORDER BY created_at, id`;
    }
    return `${base} ORDER BY created_at, id`;
  }

  /** Reads one message by id, or `null`. */
  async getMessage(messageId: string): Promise<Message | null> {
    const rows = await this.query(
      'getMessage',
      this.prepared(`SELECT ${MESSAGE_SELECT} FROM ${this.t.messages} WHERE id = $1`),
      [messageId],
    );
    return rows[0] ? messageFromRow(rows[0]) : null;
  }

  /** Replaces the given top-level fields in one UPDATE and returns the message, or `null`. */
  async updateMessage(messageId: string, patch: MessagePatch): Promise<Message | null> {
    const changes = patchColumns(MESSAGE_COLUMNS, patch);
    if (changes.length === 0) return this.getMessage(messageId);
    const { config: text, params } = this.patchStatement('messages', changes);
    if (patch.bridgeMessageIds === undefined) {
      const rows = await this.query('updateMessage', text, [messageId, ...params]);
      return rows[0] ? messageFromRow(rows[0]) : null;
    }
    return this.transaction('updateMessage', async (client) => {
      const { rows } = await client.query(text, [messageId, ...params]);
      if (!rows[0]) return null;
      const message = messageFromRow(rows[0]);
      await this.replaceMessageRefs(client, messageId, message.sessionId, patch.bridgeMessageIds ?? {});
      return message;
    });
  }

  // ───────────────────────────── bridge references ─────────────────────────────

  /** Remembers (or forgets, with `null`) the thread of a session on one bridge. */
  async setBridgeThread(sessionId: string, bridge: string, threadId: string | null): Promise<void> {
    const t = this.t;
    await this.transaction('setBridgeThread', async (client) => {
      // Updating the session row first locks it, so concurrent calls for other bridges queue
      // here and each one merges into the latest map.
      const { rowCount } = await client.query(
        threadId === null
          ? `UPDATE ${t.sessions} SET bridge_threads = COALESCE(bridge_threads, '{}'::jsonb) - $2::text WHERE id = $1`
          : `UPDATE ${t.sessions} SET bridge_threads = (COALESCE(bridge_threads, '{}'::jsonb) - $2::text) || jsonb_build_object($2::text, $3::text) WHERE id = $1`,
        threadId === null ? [sessionId, bridge] : [sessionId, bridge, threadId],
      );
      if (!rowCount) return;
      await client.query(`DELETE FROM ${t.bridgeThreads} WHERE session_id = $1 AND bridge = $2`, [sessionId, bridge]);
      if (threadId === null) return;
      await client.query(
        `INSERT INTO ${t.bridgeThreads} (session_id, bridge, thread_id) VALUES ($1, $2, $3)
         ON CONFLICT (bridge, thread_id) DO UPDATE SET session_id = EXCLUDED.session_id`,
        [sessionId, bridge, threadId],
      );
    });
  }

  /** The session whose thread on `bridge` is `threadId`, or `null`. */
  async findSessionByBridgeThread(bridge: string, threadId: string): Promise<Session | null> {
    const rows = await this.query(
      'findSessionByBridgeThread',
      `SELECT ${selectList(SESSION_READ_COLUMNS, 's')} FROM ${this.t.bridgeThreads} b JOIN ${this.t.sessions} s ON s.id = b.session_id
       WHERE b.bridge = $1 AND b.thread_id = $2`,
      [bridge, threadId],
    );
    return rows[0] ? sessionFromRow(rows[0]) : null;
  }

  /** Remembers the platform message id of one of our messages on one bridge. */
  async saveBridgeMessageId(messageId: string, bridge: string, platformMessageId: string): Promise<void> {
    const t = this.t;
    await this.transaction('saveBridgeMessageId', async (client) => {
      const { rows } = await client.query(
        `UPDATE ${t.messages}
         SET bridge_message_ids = COALESCE(bridge_message_ids, '{}'::jsonb) || jsonb_build_object($2::text, $3::text)
         WHERE id = $1 RETURNING session_id`,
        [messageId, bridge, platformMessageId],
      );
      const sessionId = rows[0]?.session_id;
      if (sessionId === undefined) return;
      await client.query(`DELETE FROM ${t.bridgeMessages} WHERE message_id = $1 AND bridge = $2`, [messageId, bridge]);
      await client.query(
        `INSERT INTO ${t.bridgeMessages} (message_id, session_id, bridge, platform_message_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (bridge, platform_message_id)
         DO UPDATE SET message_id = EXCLUDED.message_id, session_id = EXCLUDED.session_id`,
        [messageId, sessionId, bridge, platformMessageId],
      );
    });
  }

  /** Our message whose id on `bridge` is `platformMessageId`, or `null`. */
  async findMessageByBridgeId(bridge: string, platformMessageId: string): Promise<Message | null> {
    const rows = await this.query(
      'findMessageByBridgeId',
      `SELECT ${selectList(MESSAGE_READ_COLUMNS, 'm')} FROM ${this.t.bridgeMessages} b JOIN ${this.t.messages} m ON m.id = b.message_id
       WHERE b.bridge = $1 AND b.platform_message_id = $2`,
      [bridge, platformMessageId],
    );
    return rows[0] ? messageFromRow(rows[0]) : null;
  }

  // ───────────────────────────── attachments ─────────────────────────────

  /** Stores attachment metadata (an upsert). */
  async saveAttachment(attachment: Attachment): Promise<void> {
    await this.query('saveAttachment', this.sql.upsertAttachment, rowParams(ATTACHMENT_COLUMNS, attachment));
  }

  /** Reads attachment metadata, or `null`. */
  async getAttachment(attachmentId: string): Promise<Attachment | null> {
    const rows = await this.query(
      'getAttachment',
      `SELECT ${selectList(ATTACHMENT_COLUMNS)} FROM ${this.t.attachments} WHERE id = $1`,
      [attachmentId],
    );
    return rows[0] ? attachmentFromRow(rows[0]) : null;
  }

  /** Replaces the given fields in one UPDATE and returns the attachment, or `null`. */
  async updateAttachment(attachmentId: string, patch: AttachmentPatch): Promise<Attachment | null> {
    const changes = patchColumns(ATTACHMENT_COLUMNS, patch);
    if (changes.length === 0) return this.getAttachment(attachmentId);
    const { config: text, params } = this.patchStatement('attachments', changes);
    const rows = await this.query('updateAttachment', text, [attachmentId, ...params]);
    return rows[0] ? attachmentFromRow(rows[0]) : null;
  }

  // ───────────────────────────── durable outbox ─────────────────────────────

  /**
   * Stores new outbox records (multi-row INSERTs in one transaction). A record whose id is
   * already stored is left as it is, so adding the same batch twice is harmless.
   */
  async outboxAdd(records: OutboxRecord[]): Promise<void> {
    if (records.length === 0) return;
    const names = OUTBOX_COLUMNS.map((c) => c.column).join(', ');
    const insert = async (client: Pick<PoolClient, 'query'>, batch: OutboxRecord[]) => {
      const params: unknown[] = [];
      const rows = batch.map((r) => {
        const values = rowParams(OUTBOX_COLUMNS, r).map((value, i) => {
          params.push(value);
          return placeholder(OUTBOX_COLUMNS[i]!, params.length);
        });
        return `(${values.join(', ')})`;
      });
      await client.query(
        `INSERT INTO ${this.t.outbox} (${names}) VALUES ${rows.join(', ')} ON CONFLICT (id) DO NOTHING`,
        params,
      );
    };
    if (records.length <= OUTBOX_BATCH) {
      try {
        await insert(this.pool, records);
      } catch (err) {
        throw wrapError('outboxAdd', err);
      }
      return;
    }
    await this.transaction('outboxAdd', async (client) => {
      for (let start = 0; start < records.length; start += OUTBOX_BATCH) {
        await insert(client, records.slice(start, start + OUTBOX_BATCH));
      }
    });
  }

  /**
   * Leases up to `limit` due lane heads in one statement. Due pending records are read in claim
   * order (partial index on `next_attempt_at, seq`); a record is a head when no pending record
   * of its lane has a lower `seq` (one probe of the lane index), so the scan stops as soon as
   * `limit` heads are found. Chosen rows are locked with `FOR UPDATE SKIP LOCKED`: a concurrent
   * claimer skips them instead of waiting, and a row that another claimer leased, completed or
   * dead-lettered after this statement's snapshot is re-checked against its new version and
   * dropped. Two claimers therefore never lease the same record, and a lane never has two
   * records leased at once.
   */
  async outboxClaim(claim: OutboxClaim): Promise<OutboxRecord[]> {
    const limit = Math.max(0, Math.floor(claim.limit));
    if (limit === 0) return [];
    const t = this.t;
    const rows = await this.query(
      'outboxClaim',
      this.prepared(
        `WITH picked AS (
           SELECT o.id FROM ${t.outbox} o
           WHERE o.status = 'pending'
             AND o.next_attempt_at <= $2
             AND (o.lease_owner IS NULL OR o.lease_owner = $1 OR o.lease_until IS NULL OR o.lease_until <= $2)
             AND NOT EXISTS (
               SELECT 1 FROM ${t.outbox} p
               WHERE p.status = 'pending' AND p.bridge = o.bridge AND p.session_id = o.session_id AND p.seq < o.seq
             )
           ORDER BY o.next_attempt_at, o.seq
           LIMIT $4
           FOR UPDATE OF o SKIP LOCKED
         )
         UPDATE ${t.outbox} o SET lease_owner = $1, lease_until = $3
         FROM picked WHERE o.id = picked.id
         RETURNING ${selectList(OUTBOX_COLUMNS, 'o')}`,
      ),
      [claim.owner, claim.now, new Date(claim.now.getTime() + claim.leaseMs), limit],
    );
    return rows.map(outboxFromRow).sort(byDue);
  }

  /** Removes a delivered record (unknown ids are ignored). */
  async outboxComplete(id: string): Promise<void> {
    await this.query('outboxComplete', this.prepared(`DELETE FROM ${this.t.outbox} WHERE id = $1`), [id]);
  }

  /** Records a failed attempt and releases the lease; `lastError` is kept when not given. */
  async outboxReschedule(
    id: string,
    update: { attempts: number; nextAttemptAt: Date; lastError?: string; status: 'pending' | 'dead' },
  ): Promise<void> {
    await this.query(
      'outboxReschedule',
      this.prepared(
        `UPDATE ${this.t.outbox}
         SET attempts = $2, next_attempt_at = $3, status = $4, last_error = COALESCE($5, last_error),
             lease_owner = NULL, lease_until = NULL
         WHERE id = $1`,
      ),
      [id, update.attempts, update.nextAttemptAt, update.status, update.lastError ?? null],
    );
  }

  /** Records of one status, oldest first (by `createdAt`, then `seq`). */
  async outboxList(query: { status: 'pending' | 'dead'; limit?: number }): Promise<OutboxRecord[]> {
    const params: unknown[] = [query.status];
    let text = `SELECT ${OUTBOX_SELECT} FROM ${this.t.outbox} WHERE status = $1 ORDER BY created_at, seq, id`;
    if (query.limit !== undefined) {
      params.push(Math.max(0, Math.floor(query.limit)));
      text += ' LIMIT $2';
    }
    const rows = await this.query('outboxList', text, params);
    return rows.map(outboxFromRow);
  }

  /**
   * Puts a dead record back to pending: attempts 0, due now (this process' clock, like the
   * claims), error and lease cleared. False when the id is unknown or the record is not dead.
   */
  async outboxRetry(id: string): Promise<boolean> {
    const rows = await this.query(
      'outboxRetry',
      `UPDATE ${this.t.outbox}
       SET status = 'pending', attempts = 0, next_attempt_at = $2, last_error = NULL, lease_owner = NULL, lease_until = NULL
       WHERE id = $1 AND status = 'dead' RETURNING id`,
      [id, new Date()],
    );
    return rows.length > 0;
  }

  // ───────────────────────────── leases ─────────────────────────────

  /**
   * Takes the lease `name` for `owner` until `ttlMs` from now when it is free, expired or
   * already `owner`'s (a renewal); true when `owner` holds it afterwards. One statement: the
   * primary key makes concurrent first takers queue on the row, and the `WHERE` of the update
   * decides against the row as committed, so exactly one owner wins. Expiry is read from the
   * database clock, so instances whose own clocks disagree still agree on who holds a lease.
   */
  async leaseAcquire(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const rows = await this.query(
      'leaseAcquire',
      this.prepared(
        `INSERT INTO ${this.t.leases} AS l (name, owner, expires_at)
         VALUES ($1, $2, clock_timestamp() + $3::bigint * interval '1 millisecond')
         ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
         WHERE l.owner = EXCLUDED.owner OR l.expires_at <= clock_timestamp()
         RETURNING owner`,
      ),
      [name, owner, leaseMs(ttlMs)],
    );
    return rows.length > 0;
  }

  /** Gives the lease up if `owner` holds it (otherwise nothing changes). */
  async leaseRelease(name: string, owner: string): Promise<void> {
    await this.query('leaseRelease', this.prepared(`DELETE FROM ${this.t.leases} WHERE name = $1 AND owner = $2`), [
      name,
      owner,
    ]);
  }
}
