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

/** What travels in a NOTIFY: the message itself, or the id of the row that holds it. */
type Envelope = BusMessage | { ref: string };

/**
 * Carries realtime events between PocketPing instances that share one PostgreSQL database,
 * with LISTEN/NOTIFY. A dedicated connection (outside the pool) listens and reconnects by
 * itself; messages too large for a NOTIFY (8000 bytes) are written to a small table and only
 * their id is notified. The channel is derived from the schema and table prefix, so two
 * deployments on one database never see each other's events.
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

  /** Sends a message to every instance listening on this deployment's channel (this one included). */
  async publish(message: BusMessage): Promise<void> {
    const json = JSON.stringify(message);
    try {
      if (Buffer.byteLength(json, 'utf8') <= this.settings.maxNotifyBytes) {
        await this.pool.query('SELECT pg_notify($1, $2)', [this.channel, json]);
        return;
      }
      // The notification is sent when the statement commits, so the row is visible to
      // every receiver by the time they hear about it.
      await this.pool.query(
        `WITH p AS (INSERT INTO ${this.t.busPayloads} (payload) VALUES ($2) RETURNING id)
         SELECT pg_notify($1, json_build_object('ref', id::text)::text) FROM p`,
        [this.channel, json],
      );
      await this.cleanupPayloads();
    } catch (err) {
      throw wrapError('event bus publish', err);
    }
  }

  /** Receives every message of the channel; returns the unsubscribe function. */
  subscribe(handler: (message: BusMessage) => void): () => void {
    this.handlers.add(handler);
    return () => {
      this.handlers.delete(handler);
    };
  }

  /** Stops listening and ends the pool when it was created here. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
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
