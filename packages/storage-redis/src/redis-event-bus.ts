import type { BusMessage, EventBus } from '@pocketping/core';
import { ValidationError } from '@pocketping/core';
import type { Redis } from 'ioredis';
import { PACKAGE_NAME, unreachableError, wrapError } from './errors.js';
import { type RedisEventBusOptions, RedisEventBusOptionsSchema, type RedisEventBusSettings } from './options.js';
import { createClient } from './client.js';

/**
 * Carries realtime events between PocketPing instances through Redis pub/sub. Publishing uses
 * the given (or created) client; receiving uses a dedicated subscriber connection, a duplicate
 * of it, which ioredis reconnects and resubscribes by itself. The channel is derived from the
 * key prefix, so deployments with different prefixes never see each other's events.
 *
 * Events published while the subscriber is disconnected are not replayed: the widget's own
 * resync (history on reconnect, the `after` delta) covers that gap.
 *
 * @example
 * ```ts
 * const storage = new RedisStorage(process.env.REDIS_URL!);
 * const eventBus = new RedisEventBus({ client: storage.client });
 * const pp = new PocketPing({ storage, eventBus });
 * ```
 */
export class RedisEventBus implements EventBus {
  /** Validated options with defaults applied. */
  readonly settings: Readonly<Omit<RedisEventBusSettings, 'client'>>;
  /** The pub/sub channel of this deployment. */
  readonly channel: string;
  private readonly publisher: Redis;
  private readonly ownsPublisher: boolean;
  private readonly lastError: () => Error | undefined;
  private subscriber?: Redis;
  private readonly handlers = new Set<(message: BusMessage) => void>();
  private closed = false;

  /**
   * @param options A `redis://` URL, or `RedisEventBusOptions` (`url` or a `client`, plus the
   * same `keyPrefix` as the storage).
   * @example
   * ```ts
   * new RedisEventBus({ client: storage.client, keyPrefix: 'support:' });
   * new RedisEventBus(process.env.REDIS_URL!);
   * ```
   */
  constructor(options: string | RedisEventBusOptions) {
    const parsed = RedisEventBusOptionsSchema.safeParse(typeof options === 'string' ? { url: options } : options);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'options'} ${i.message}`).join('; ');
      throw new ValidationError(`${PACKAGE_NAME}: invalid event bus options: ${detail}`, { code: 'CONFIG_INVALID' });
    }
    const { client, ...settings } = parsed.data;
    this.settings = Object.freeze(settings);
    if (client) {
      this.publisher = client;
      this.ownsPublisher = false;
      this.lastError = () => undefined;
    } else {
      const created = createClient(settings.url!);
      this.publisher = created.client;
      this.lastError = created.lastError;
      this.ownsPublisher = true;
    }
    // ioredis' keyPrefix does not apply to channels: include it so it still separates deployments.
    this.channel = `${this.publisher.options.keyPrefix ?? ''}${settings.keyPrefix}events`;
  }

  /** Opens the subscriber connection and subscribes to the channel. */
  async init(): Promise<void> {
    if (this.closed) throw wrapError('event bus init', new Error('the event bus is closed'));
    if (this.subscriber) return;
    const subscriber = this.publisher.duplicate({ lazyConnect: true });
    let lastError: Error | undefined;
    subscriber.on('error', (err: Error) => {
      lastError = err;
    });
    subscriber.on('message', (channel: string, payload: string) => {
      if (channel === this.channel) this.receive(payload);
    });
    this.subscriber = subscriber;
    try {
      await subscriber.connect();
      await subscriber.subscribe(this.channel);
    } catch (err) {
      this.subscriber = undefined;
      subscriber.disconnect();
      throw unreachableError(this.settings.url, lastError ?? this.lastError() ?? err);
    }
  }

  /** Sends a message to every instance subscribed to this deployment's channel (this one included). */
  async publish(message: BusMessage): Promise<void> {
    try {
      await this.publisher.publish(this.channel, JSON.stringify(message));
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

  /** Closes the subscriber connection, and the publisher when it was created here. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handlers.clear();
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
    if (this.ownsPublisher) {
      if (this.publisher.status === 'ready') await this.publisher.quit().catch(() => this.publisher.disconnect());
      else this.publisher.disconnect();
    }
  }

  private receive(payload: string): void {
    let message: BusMessage;
    try {
      message = JSON.parse(payload) as BusMessage;
    } catch {
      return; // Not ours (someone else published on the channel); ignore it.
    }
    for (const handler of [...this.handlers]) {
      try {
        handler(message);
      } catch {
        // One failing subscriber must not stop the others.
      }
    }
  }
}
