import type { ServerEvent } from './events.js';

/** A realtime event travelling between PocketPing instances. */
export type BusMessage =
  | { kind: 'session'; origin: string; sessionId: string; event: ServerEvent; seq?: number }
  | { kind: 'broadcast'; origin: string; event: ServerEvent }
  | { kind: 'presence'; origin: string; online: boolean };

/**
 * Carries realtime events between PocketPing instances, so that a widget connected to one
 * instance gets what happened on another. Core delivers to its own sockets directly and
 * publishes with its `origin`; instances ignore their own messages.
 *
 * Implementations: `InProcessEventBus` (here), `RedisEventBus` (@pocketping/storage-redis),
 * `PostgresEventBus` (@pocketping/storage-postgres).
 */
export interface EventBus {
  /** Connects (e.g. opens the subscriber connection). */
  init?(): Promise<void>;
  /** Sends a message to every subscriber of every instance. */
  publish(message: BusMessage): Promise<void>;
  /** Receives messages; returns the unsubscribe function. */
  subscribe(handler: (message: BusMessage) => void): () => void;
  /** Closes connections. Safe to call twice. */
  close?(): Promise<void>;
}

/**
 * An event bus inside one process. Several PocketPing instances sharing one object behave like
 * instances sharing Redis (useful in tests and for several apps in one process).
 */
export class InProcessEventBus implements EventBus {
  private readonly handlers = new Set<(message: BusMessage) => void>();

  async publish(message: BusMessage): Promise<void> {
    for (const handler of [...this.handlers]) {
      try {
        handler(message);
      } catch {
        // One failing subscriber must not stop the others.
      }
    }
  }

  subscribe(handler: (message: BusMessage) => void): () => void {
    this.handlers.add(handler);
    return () => {
      this.handlers.delete(handler);
    };
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
