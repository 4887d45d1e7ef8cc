import type { Pool } from 'pg';
import type { TableNames } from './names.js';

/** One schema change, applied once in its own transaction. */
export interface Migration {
  /** Increasing version number, recorded in the migrations table. */
  version: number;
  /** Short description, recorded next to the version. */
  name: string;
  /** Statements to run, in order. */
  statements(t: TableNames): string[];
}

/**
 * Every schema change, oldest first. Never edit a released migration: add a new one.
 * Ids use the "C" collation so the database orders them exactly like JavaScript does
 * (core breaks timestamp ties by comparing ids as strings).
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sessions, messages, bridge references, attachments',
    statements: (t) => [
      `CREATE TABLE ${t.sessions} (
        id text COLLATE "C" PRIMARY KEY,
        visitor_id text NOT NULL,
        created_at timestamptz NOT NULL,
        last_activity timestamptz NOT NULL,
        status text NOT NULL,
        closed_at timestamptz,
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        identity jsonb,
        has_visitor_message boolean,
        ai_active boolean,
        last_operator_activity timestamptz,
        pre_chat jsonb,
        csat jsonb,
        screenshot_requests jsonb,
        bridge_threads jsonb
      )`,
      `CREATE INDEX ${t.index('sessions_visitor_idx')} ON ${t.sessions} (visitor_id, created_at DESC)`,
      `CREATE INDEX ${t.index('sessions_activity_idx')} ON ${t.sessions} (last_activity DESC, id)`,
      `CREATE INDEX ${t.index('sessions_status_activity_idx')} ON ${t.sessions} (status, last_activity DESC, id)`,
      `CREATE TABLE ${t.messages} (
        id text COLLATE "C" PRIMARY KEY,
        session_id text COLLATE "C" NOT NULL,
        content text NOT NULL,
        sender text NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        status text NOT NULL,
        delivered_at timestamptz,
        read_at timestamptz,
        edited_at timestamptz,
        deleted_at timestamptz,
        reply_to text,
        attachments jsonb,
        metadata jsonb,
        operator_name text,
        source text,
        bridge_message_ids jsonb
      )`,
      `CREATE INDEX ${t.index('messages_history_idx')} ON ${t.messages} (session_id, created_at, id)`,
      `CREATE INDEX ${t.index('messages_delta_idx')} ON ${t.messages} (session_id, updated_at)`,
      `CREATE TABLE ${t.bridgeThreads} (
        session_id text COLLATE "C" NOT NULL,
        bridge text NOT NULL,
        thread_id text NOT NULL,
        PRIMARY KEY (session_id, bridge),
        UNIQUE (bridge, thread_id)
      )`,
      `CREATE TABLE ${t.bridgeMessages} (
        message_id text COLLATE "C" NOT NULL,
        session_id text COLLATE "C" NOT NULL,
        bridge text NOT NULL,
        platform_message_id text NOT NULL,
        PRIMARY KEY (message_id, bridge),
        UNIQUE (bridge, platform_message_id)
      )`,
      `CREATE INDEX ${t.index('bridge_messages_session_idx')} ON ${t.bridgeMessages} (session_id)`,
      `CREATE TABLE ${t.attachments} (
        id text COLLATE "C" PRIMARY KEY,
        session_id text COLLATE "C" NOT NULL,
        message_id text,
        filename text NOT NULL,
        mime_type text NOT NULL,
        size bigint NOT NULL,
        url text NOT NULL,
        thumbnail_url text,
        status text NOT NULL,
        storage_key text NOT NULL,
        uploaded_from text,
        bridge_file_id text,
        created_at timestamptz NOT NULL,
        expires_at timestamptz
      )`,
      `CREATE INDEX ${t.index('attachments_session_idx')} ON ${t.attachments} (session_id)`,
    ],
  },
  {
    version: 2,
    name: 'event bus payloads too large for NOTIFY',
    statements: (t) => [
      `CREATE TABLE ${t.busPayloads} (
        id bigserial PRIMARY KEY,
        payload text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      `CREATE INDEX ${t.index('bus_payloads_created_idx')} ON ${t.busPayloads} (created_at)`,
    ],
  },
  {
    version: 3,
    name: 'durable outbox of bridge deliveries',
    statements: (t) => [
      `CREATE TABLE ${t.outbox} (
        id text COLLATE "C" PRIMARY KEY,
        bridge text NOT NULL,
        session_id text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        operation jsonb NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        status text NOT NULL,
        next_attempt_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL,
        last_error text,
        lease_owner text,
        lease_until timestamptz
      )`,
      // The claim walks due pending records in claim order and keeps the lane heads (no
      // pending record of the lane with a lower seq): both lookups use partial indexes that
      // hold only pending records.
      `CREATE INDEX ${t.index('outbox_due_idx')} ON ${t.outbox} (next_attempt_at, seq) WHERE status = 'pending'`,
      `CREATE INDEX ${t.index('outbox_lane_idx')} ON ${t.outbox} (bridge, session_id, seq) WHERE status = 'pending'`,
      `CREATE INDEX ${t.index('outbox_status_created_idx')} ON ${t.outbox} (status, created_at, seq)`,
      `CREATE INDEX ${t.index('outbox_session_idx')} ON ${t.outbox} (session_id)`,
    ],
  },
  {
    version: 4,
    name: 'leases of singleton jobs',
    statements: (t) => [
      `CREATE TABLE ${t.leases} (
        name text PRIMARY KEY,
        owner text NOT NULL,
        expires_at timestamptz NOT NULL
      )`,
    ],
  },
  {
    version: 5,
    name: 'message sequence numbers and stream resume records',
    statements: (t) => [
      `ALTER TABLE ${t.sessions} ADD COLUMN seq bigint NOT NULL DEFAULT 0, ADD COLUMN stream_resume jsonb`,
      `ALTER TABLE ${t.messages} ADD COLUMN seq bigint`,
      // Existing messages are numbered per session in the order they last changed, and each
      // session continues after its highest number, so `afterSeq` sees no gap across the upgrade.
      `UPDATE ${t.messages} m SET seq = n.seq
       FROM (SELECT id, row_number() OVER (PARTITION BY session_id ORDER BY updated_at, created_at, id) AS seq
             FROM ${t.messages}) n
       WHERE m.id = n.id`,
      `UPDATE ${t.sessions} s SET seq = n.seq
       FROM (SELECT session_id, max(seq) AS seq FROM ${t.messages} GROUP BY session_id) n
       WHERE s.id = n.session_id`,
      `CREATE INDEX ${t.index('messages_seq_idx')} ON ${t.messages} (session_id, seq)`,
    ],
  },
  {
    version: 6,
    name: 'session activity indexed by the minute, so touches are HOT updates',
    statements: (t) => [
      // Every /connect and message moves last_activity. Indexed directly, each move wrote new
      // entries into every index of the table (a non-HOT update). The indexes now hold the
      // minute of the last activity, a generated column that changes at most once a minute per
      // session; queries order by it, then by last_activity within the minute. The free space
      // left on each page lets the updated row stay on its page (a HOT update needs that too).
      // The column is added after the fillfactor is set, so the table rewrite leaves that room.
      `ALTER TABLE ${t.sessions} SET (fillfactor = 80)`,
      `ALTER TABLE ${t.sessions} ADD COLUMN activity_minute timestamp
        GENERATED ALWAYS AS (date_trunc('minute', last_activity AT TIME ZONE 'UTC')) STORED`,
      `DROP INDEX ${t.qschema}.${t.index('sessions_activity_idx')}`,
      `DROP INDEX ${t.qschema}.${t.index('sessions_status_activity_idx')}`,
      `CREATE INDEX ${t.index('sessions_activity_minute_idx')} ON ${t.sessions} (activity_minute DESC)`,
      `CREATE INDEX ${t.index('sessions_status_activity_minute_idx')} ON ${t.sessions} (status, activity_minute DESC)`,
    ],
  },
];

/** What `migrate()` did. */
export interface MigrationResult {
  /** Versions applied by this call (empty when the schema was already up to date). */
  applied: number[];
  /** The schema version after the call. */
  version: number;
}

/**
 * Applies the pending migrations. Runs under a PostgreSQL advisory lock, so several instances
 * starting at once apply each migration exactly once; the others wait and then find nothing
 * to do.
 */
export async function runMigrations(pool: Pool, t: TableNames): Promise<MigrationResult> {
  const client = await pool.connect();
  let released = false;
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [t.lockKey]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${t.qschema}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${t.migrations} (
          version integer PRIMARY KEY,
          name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`,
      );
      const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${t.migrations}`);
      const done = new Set(rows.map((r) => r.version));
      const applied: number[] = [];
      for (const migration of MIGRATIONS) {
        if (done.has(migration.version)) continue;
        await client.query('BEGIN');
        try {
          // A migration lost in a crash right after COMMIT is lost with its version row, so it
          // simply runs again: no need to wait for the WAL flush (much faster for many DDLs).
          await client.query('SET LOCAL synchronous_commit TO OFF');
          for (const sql of migration.statements(t)) await client.query(sql);
          await client.query(`INSERT INTO ${t.migrations} (version, name) VALUES ($1, $2)`, [
            migration.version,
            migration.name,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          throw err;
        }
        applied.push(migration.version);
      }
      const version = Math.max(0, ...done, ...applied);
      return { applied, version };
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [t.lockKey]).catch((err: unknown) => {
        // A connection that cannot unlock is broken: drop it so the lock dies with it.
        client.release(err instanceof Error ? err : new Error(String(err)));
        released = true;
      });
    }
  } finally {
    if (!released) client.release();
  }
}
