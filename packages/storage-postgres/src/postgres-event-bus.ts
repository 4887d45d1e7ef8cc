import type { BusMessage, EventBus } from '@pocketping/core';
import { ValidationError } from '@pocketping/core';
import pg, { type ClientConfig, type Pool } from 'pg';
import { isUnreachable, PACKAGE_NAME, unreachableError, wrapError } from './errors.js';
import { runMigrations } from './migrations.js';
import { type TableNames, tableNames } from './names.js';
import {
  type PostgresEventBusOptions,
  PostgresEventBusOptionsSchema,
  type PostgresEventBusSettings,
} from './options.js';

const MAX_RECONNECT_DELAY_MS = 30_000;
/** Most messages sent in one statement, so one statement's parameters stay reasonable. */
const MAX_BATCH_MESSAGES = 500;
/** Most payload bytes sent in one statement (about 1 MB). */
const MAX_BATCH_BYTES = 1_000_000;

/**
 * The publish statements commit without waiting for the WAL flush (`synchronous_commit` off
 * for their own transaction only: `set_config(..., true)` ends with it). A notification is
 * ephemeral anyway: PostgreSQL empties the notification queue on restart and every listener
 * is disconnected, and the widget resyncs on reconnect, so waiting for the disk bought nothing
 * but CPU and a pool connection held per event.
 */
const ASYNC_COMMIT = `set_config('synchronous_commit', 'off', true) = 'off'`;

/** What travels in a NOTIFY: the message itself, or the id of the row that holds it. */
type Envelope = BusMessage | { ref: string };

/** A published message waiting for the statement that carries it. */
interface Pending {
  json: string;
  bytes: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Carries realtime events between PocketPing instances that share one PostgreSQL database,
 * with LISTEN/NOTIFY. A dedicated connection (outside the pool) listens and reconnects by
 * itself; messages too large for a NOTIFY (8000 bytes) are written to a small table and only
 * their id is notified. The channel is derived from the schema and table prefix, so two
 * deployments on one database never see each other's events.
 *
 * Publishing is cheap and ordered: messages are queued, and one statement at a time sends
 * everything queued so far (one NOTIFY each, in publish order), so two events of one session
 * never overtake each other and a burst costs a few statements instead of one per event.
 *
 * Events published while the listening connection is down are not replayed: the widget's
 * own resync (history on reconnect, the `after` delta) covers that gap.
 *
 * @example
 * ```ts
 * const storage = new PostgresStorage(process.env.DATABASE_URL!);
 * const eventBus = new PostgresEventBus({ pool: storage.pool });
 * const pp = new PocketPing({ storage, eventBus });
 * ```
 */
export class PostgresEventBus implements EventBus {
  /** Validated options with defaults applied. */
  readonly settings: Readonly<Omit<PostgresEventBusSettings, 'pool'>>;
  /** The NOTIFY channel of this deployment. */
  readonly channel: string;
  private readonly pool: Pool;
  private readonly ownsPool: boolean;
  private readonly t: TableNames;
  private readonly handlers = new Set<(message: BusMessage) => void>();
  private listener?: pg.Client;
  private connecting?: Promise<void>;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private reconnectDelay: number;
  private receiving: Promise<void> = Promise.resolve();
  private lastCleanup = 0;
  private closed = false;
  private readonly queue: Pending[] = [];
  private flushing?: Promise<void>;
  private readonly batchSql: string;
  private readonly byReferenceSql: string;

  /**
   * @param options A connection string, or `PostgresEventBusOptions` (`url` or a `pool`, plus
   * the same `schema`/`tablePrefix` as the storage).
   * @example
   * ```ts
   * new PostgresEventBus({ pool: storage.pool, schema: 'support' });
   * new PostgresEventBus(process.env.DATABASE_URL!);
   * ```
   */
  constructor(options: string | PostgresEventBusOptions) {
    const parsed = PostgresEventBusOptionsSchema.safeParse(typeof options === 'string' ? { url: options } : options);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'options'} ${i.message}`).join('; ');
      throw new ValidationError(`${PACKAGE_NAME}: invalid event bus options: ${detail}`, { code: 'CONFIG_INVALID' });
    }
    const { pool, ...settings } = parsed.data;
    this.settings = Object.freeze(settings);
    if (pool) {
      this.pool = pool;
      this.ownsPool = false;
    } else {
      this.pool = new pg.Pool({ connectionString: settings.url, max: 2 });
      this.pool.on('error', () => {});
      this.ownsPool = true;
    }
    this.t = tableNames(settings.schema, settings.tablePrefix);
    this.channel = this.t.channel;
    this.reconnectDelay = settings.reconnectDelayMs;
    // unnest yields the array in order and the notifications of one transaction are delivered
    // in the order they were sent, so a batch arrives in publish order.
    this.batchSql = `SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p WHERE ${ASYNC_COMMIT}`;
    // The notification is sent when the statement commits, so the row is visible to every
    // receiver by the time they hear about it.
    this.byReferenceSql = `WITH p AS (INSERT INTO ${this.t.busPayloads} (payload) VALUES ($2) RETURNING id)
      SELECT pg_notify($1, json_build_object('ref', id::text)::text) FROM p WHERE ${ASYNC_COMMIT}`;
  }

  /** Creates the payload table if needed and starts listening. */
  async init(): Promise<void> {
    if (this.closed) throw wrapError('event bus init', new Error('the event bus is closed'));
    try {
      await runMigrations(this.pool, this.t);
    } catch (err) {
      if (isUnreachable(err)) throw unreachableError(this.settings.url, err);
      throw wrapError('event bus init', err);
    }
    try {
      await this.connect();
    } catch (err) {
      if (isUnreachable(err)) throw unreachableError(this.settings.url, err);
      throw wrapError('event bus LISTEN', err);
    }
  }

  /**
   * Sends a message to every instance listening on this deployment's channel (this one
   * included). Resolves once the statement that carries it has completed; messages are sent in
   * the order `publish` was called, even when nobody awaits in between.
   */
  async publish(message: BusMessage): Promise<void> {
    if (this.closed) throw wrapError('event bus publish', new Error('the event bus is closed; publish before close()'));
    const json = JSON.stringify(message);
    const bytes = Buffer.byteLength(json, 'utf8');
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ json, bytes, resolve, reject });
      this.flushing ??= this.drain();
    });
  }

  /** Receives every message of the channel; returns the unsubscribe function. */
  subscribe(handler: (message: BusMessage) => void): () => void {
    this.handlers.add(handler);
    return () => {
      this.handlers.delete(handler);
    };
  }

  /**
   * Sends what is still queued, stops listening and ends the pool when it was created here.
   * Later publishes reject. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // What was published before close is still sent (or rejected, when the pool is gone).
    await this.flushing;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.connecting?.catch(() => {});
    const listener = this.listener;
    this.listener = undefined;
    if (listener) await listener.end().catch(() => {});
    await this.receiving;
    this.handlers.clear();
    if (this.ownsPool) await this.pool.end().catch(() => {});
  }

  private clientConfig(): ClientConfig {
    if (this.settings.url) return { connectionString: this.settings.url };
    // A pool's options are client options plus pool settings, which a Client ignores.
    return { ...(this.pool as Pool & { options: ClientConfig }).options };
  }

  private connect(): Promise<void> {
    this.connecting ??= (async () => {
      const client = new pg.Client(this.clientConfig());
      client.on('notification', (n) => {
        if (n.channel === this.channel && n.payload !== undefined) this.receive(n.payload);
      });
      client.on('error', () => this.lost(client));
      client.on('end', () => this.lost(client));
      try {
        await client.connect();
        await client.query(`LISTEN ${pg.escapeIdentifier(this.channel)}`);
      } catch (err) {
        await client.end().catch(() => {});
        throw err;
      }
      if (this.closed) {
        await client.end().catch(() => {});
        return;
      }
      this.listener = client;
      this.reconnectDelay = this.settings.reconnectDelayMs;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** The listening connection died (server restart, network, idle kill): reconnect with backoff. */
  private lost(client: pg.Client): void {
    if (this.closed || this.listener !== client) return;
    this.listener = undefined;
    client.end().catch(() => {});
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(delay * 2, MAX_RECONNECT_DELAY_MS);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().catch(() => this.scheduleReconnect());
    }, delay);
    this.reconnectTimer.unref?.();
  }

  /** Delivers notifications one after the other, so by-reference payloads keep their order. */
  private receive(payload: string): void {
    this.receiving = this.receiving.then(async () => {
      try {
        const envelope = JSON.parse(payload) as Envelope;
        let message: BusMessage;
        if ('ref' in envelope) {
          const { rows } = await this.pool.query<{ payload: string }>(
            `SELECT payload FROM ${this.t.busPayloads} WHERE id = $1`,
            [envelope.ref],
          );
          if (!rows[0]) return;
          message = JSON.parse(rows[0].payload) as BusMessage;
        } else {
          message = envelope;
        }
        for (const handler of [...this.handlers]) {
          try {
            handler(message);
          } catch {
            // One failing subscriber must not stop the others.
          }
        }
      } catch {
        // A malformed notification or a payload that expired is dropped; the widget resyncs.
      }
    });
  }

  /**
   * Sends the queue, one statement at a time, until it is empty. Only one drain runs per bus
   * (`flushing`), which is what keeps publishes in order across the pool's connections.
   */
  private async drain(): Promise<void> {
    // Publishes of the same tick join the first batch instead of the first one going alone.
    await Promise.resolve();
    try {
      while (this.queue.length > 0) await this.sendNext();
    } finally {
      // Cleared in the same tick as the empty check: a publish after it starts a new drain.
      this.flushing = undefined;
    }
  }

  /** Sends the head of the queue: one large message by reference, or a batch of small ones. */
  private async sendNext(): Promise<void> {
    const max = this.settings.maxNotifyBytes;
    const head = this.queue[0];
    if (head && head.bytes > max) {
      this.queue.shift();
      if (await this.send([head], this.byReferenceSql, [this.channel, head.json])) {
        // The message went out: a failed cleanup leaves only expired rows that the next
        // cleanup removes, so it must not reject this publish.
        await this.cleanupPayloads().catch(() => {});
      }
      return;
    }
    // PostgreSQL delivers a payload only once per transaction (a later duplicate is dropped),
    // so a batch is cut before a repeated message, as it is before a large one.
    const seen = new Set<string>();
    let count = 0;
    let bytes = 0;
    for (const next of this.queue) {
      if (count === MAX_BATCH_MESSAGES || next.bytes > max || seen.has(next.json)) break;
      if (count > 0 && bytes + next.bytes > MAX_BATCH_BYTES) break;
      seen.add(next.json);
      bytes += next.bytes;
      count++;
    }
    const batch = this.queue.splice(0, count);
    await this.send(batch, this.batchSql, [this.channel, batch.map((p) => p.json)]);
  }

  /** Runs one publish statement and settles the publishes it carries; true when it succeeded. */
  private async send(batch: Pending[], sql: string, values: unknown[]): Promise<boolean> {
    try {
      if (this.pool.ending) {
        throw new Error(
          'the pg.Pool was closed before the event bus sent this message; close the event bus before the pool (PocketPing.close() does)',
        );
      }
      await this.pool.query(sql, values);
    } catch (err) {
      for (const p of batch) p.reject(wrapError('event bus publish', err));
      return false;
    }
    for (const p of batch) p.resolve();
    return true;
  }

  private async cleanupPayloads(): Promise<void> {
    const now = Date.now();
    const retention = this.settings.payloadRetentionMs;
    if (now - this.lastCleanup < retention / 2) return;
    this.lastCleanup = now;
    await this.pool.query(
      `DELETE FROM ${this.t.busPayloads} WHERE created_at < now() - make_interval(secs => $1::double precision)`,
      [retention / 1000],
    );
  }
}
