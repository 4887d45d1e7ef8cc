import type { AttachmentStore } from './attachment-store.js';
import type { Bridge, BridgeContext, BridgeMessageContext, IncomingFile, OperatorMessageInput } from './bridge.js';
import {
  DEFAULT_RETRY_POLICY,
  type DeliveryJob,
  type DeliveryOperation,
  type DeliveryQueue,
  MemoryDeliveryQueue,
} from './delivery.js';
import {
  BridgeError,
  isPocketPingError,
  isSetupError,
  PocketPingError,
  SetupError,
  ValidationError,
} from './errors.js';
import { type BusMessage, type EventBus, InProcessEventBus } from './event-bus.js';
import type { PocketPingEvent, PocketPingEventOf, PocketPingEventType, ServerEvent, VersionWarning } from './events.js';
import { generateId, isUrlSafeId, monotonicNow } from './ids.js';
import { consoleLogger, type Logger } from './logger.js';
import { MemoryStorage } from './memory-storage.js';
import type {
  Attachment,
  CsatState,
  CustomEvent,
  Message,
  ScreenshotRequest,
  Session,
  TrackedElement,
  UserIdentity,
} from './models.js';
import {
  mimeAllowed,
  type PocketPingHooks,
  type PocketPingOptions,
  type PocketPingSettings,
  PocketPingSettingsSchema,
} from './options.js';
import {
  ClientFrameSchema,
  ConnectRequestSchema,
  CsatRequestSchema,
  DeleteMessageQuerySchema,
  DisconnectRequestSchema,
  EditMessageRequestSchema,
  GetMessagesQuerySchema,
  IdentifyRequestSchema,
  MAX_MESSAGE_LENGTH,
  parseInput,
  PreChatRequestSchema,
  ReadRequestSchema,
  ScreenshotRequestsQuerySchema,
  ScreenshotUploadCompleteRequestSchema,
  ScreenshotUploadRequestSchema,
  SendMessageRequestSchema,
  TypingRequestSchema,
  UploadCompleteRequestSchema,
  UploadRequestSchema,
  VisibilityRequestSchema,
} from './protocol-schemas.js';
import { type OutgoingFrame, RealtimeHub, type RealtimeListener, toFrame } from './realtime-hub.js';
import { OUTBOX_METHODS, type MessageQuery, type SessionPatch, type SessionQuery, type Storage } from './storage.js';
import { StorageDeliveryQueue } from './outbox-queue.js';
import { StorageAccess } from './storage-access.js';
import { OutgoingWebhookSchema, OutgoingWebhooks } from './outgoing-webhooks.js';
import { LeaseKeeper, type SingletonJob, type SingletonOptions } from './leases.js';
import { RemoteBridge } from './remote-bridge.js';
import { identityHash, ipMatchesAny, isBot, matchesAnyPattern } from './security.js';
import { parseUserAgent } from './user-agent.js';
import { checkWidgetVersion, type VersionCheckResult } from './version.js';
import { toWireAttachment, toWireMessage, type WireAttachment, type WireMessage } from './wire.js';

/** Facts about the HTTP request behind a handler call, supplied by the server adapter. */
export interface RequestContext {
  /** Absolute base URL of the widget endpoints as this request reached them. */
  baseUrl?: string;
  /** Client IP (after trusted proxy handling). */
  ip?: string;
  userAgent?: string;
  /** `X-PocketPing-Version` header. */
  widgetVersion?: string;
}

/** The `/connect` response (PROTOCOL.md §3.1). */
export interface ConnectResponse {
  sessionId: string;
  visitorId: string;
  operatorOnline: boolean;
  operatorReachable: boolean;
  messages: WireMessage[];
  identity?: UserIdentity;
  preChatForm?: {
    enabled: boolean;
    required: boolean;
    timing: string;
    fields: string;
    completed: boolean;
  };
  trackedElements?: TrackedElement[];
  inspectorMode?: boolean;
  welcomeMessage?: string;
  [branding: string]: unknown;
}

/** Options of `sendMessage` (operator and AI replies). */
export interface SendMessageOptions {
  content: string;
  /** `operator` (default) or `ai`. */
  type?: 'operator' | 'ai';
  operatorName?: string;
  /** Id of the message replied to. */
  replyTo?: string;
  attachments?: Attachment[];
  /** The bridge the reply came from; it is not mirrored back there. */
  sourceBridge?: string;
  /** Platform id of the reply on `sourceBridge`. */
  platformMessageId?: string;
  metadata?: Record<string, unknown>;
}

type CustomEventHandler = (event: CustomEvent, session: Session) => void | Promise<void>;
type AnyEventHandler = (event: PocketPingEvent) => void | Promise<void>;

const SCREENSHOT_MIME = 'image/png';

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** Metadata fields the widget sends (PROTOCOL.md §3.1), kept when they are non-empty strings. */
const WIDGET_METADATA_KEYS = [
  'url',
  'referrer',
  'pageTitle',
  'userAgent',
  'timezone',
  'language',
  'screenResolution',
] as const;
/** Metadata the server derives itself; a client cannot set them. */
const SERVER_METADATA_KEYS = new Set(['ip', 'country', 'city', 'deviceType', 'browser', 'os']);

function stringField(value: unknown, max = 2000): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value.slice(0, max) : undefined;
}

/**
 * The PocketPing backend: sessions, messages, realtime fan-out and bridges, independent of any
 * web framework. Mount its protocol with `@pocketping/server` (Fastify) or another adapter.
 *
 * @example
 * ```ts
 * import { PocketPing, MemoryStorage } from '@pocketping/core';
 *
 * const pp = new PocketPing({ storage: new MemoryStorage(), welcomeMessage: 'Hi!' });
 * await pp.init();
 * pp.onEvent('clicked_pricing', (event, session) => console.log(session.id, event.data));
 * await pp.sendMessage(sessionId, { content: 'Hello from the team', operatorName: 'Ana' });
 * ```
 */
export class PocketPing {
  /** Validated settings with defaults applied. */
  readonly settings: PocketPingSettings;
  /** This process' id on the event bus. */
  readonly instanceId: string;
  readonly logger: Logger;
  /** Realtime subscribers of this process. */
  readonly hub = new RealtimeHub();

  private readonly storageAccess: StorageAccess;
  private readonly hooks: PocketPingHooks;
  private readonly bridgeList: Bridge[] = [];
  private readonly bus: EventBus;
  private readonly ownBus: boolean;
  private readonly queue: DeliveryQueue;
  private attachmentStoreRef?: AttachmentStore;
  private operatorOnlineFlag: boolean;
  private observedBaseUrl?: string;
  /** The `baseUrl` that `observedBaseUrl` was derived from (skips the work on repeat calls). */
  private observedBaseUrlFrom?: string;
  private initialized = false;
  private closed = false;
  /** Per session, the tail of the queued resume-record updates (see `withResumeLock`). */
  private readonly resumeLocks = new Map<string, Promise<void>>();
  private busUnsubscribe?: () => void;
  private readonly customHandlers = new Map<string, Set<CustomEventHandler>>();
  private readonly eventHandlers = new Map<string, Set<AnyEventHandler>>();
  private readonly typingState = new Map<
    string,
    { lastBridgeCall: number; bridgesNotified?: boolean; stopTimer?: ReturnType<typeof setTimeout> }
  >();
  private readonly operatorTypingTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly knownSessions = new Map<string, number>();
  private readonly seenDeliveries = new Map<string, number>();
  private readonly openStreams = new Set<() => void>();
  private retentionTimer?: ReturnType<typeof setInterval>;
  private readonly singletons: LeaseKeeper[] = [];
  private readonly webhooks?: OutgoingWebhooks;

  constructor(options: PocketPingOptions = {}) {
    const { storage, bridges, eventBus, deliveryQueue, attachmentStore, logger, instanceId, ...rest } = options;
    const hooks: PocketPingHooks = {};
    for (const key of [
      'onNewSession',
      'onSessionStart',
      'onMessage',
      'onEvent',
      'onIdentify',
      'onVisitorDisconnect',
      'onCsat',
      'validateInspectorToken',
    ] as const) {
      const value = (rest as Record<string, unknown>)[key];
      if (value !== undefined) {
        if (typeof value !== 'function') {
          throw new ValidationError(`PocketPing option ${key} must be a function`, { code: 'CONFIG_INVALID' });
        }
        (hooks as Record<string, unknown>)[key] = value;
      }
      delete (rest as Record<string, unknown>)[key];
    }
    const parsed = PocketPingSettingsSchema.safeParse(rest);
    if (!parsed.success) {
      const detail = parsed.error.issues
        .map((i) =>
          i.code === 'unrecognized_keys'
            ? `unknown option${i.keys.length > 1 ? 's' : ''} ${i.keys.join(', ')} (check the spelling)`
            : `${i.path.join('.') || 'options'}: ${i.message}`,
        )
        .join('; ');
      throw new ValidationError(`Invalid PocketPing options: ${detail}`, { code: 'CONFIG_INVALID' });
    }
    this.settings = parsed.data;
    this.hooks = hooks;
    this.logger = logger ?? consoleLogger;
    this.instanceId = instanceId ?? generateId('ins');
    const store: Storage = storage === undefined || storage === 'memory' ? new MemoryStorage() : storage;
    for (const method of ['createSession', 'getSession', 'saveMessage', 'getMessages'] as const) {
      if (typeof (store as unknown as Record<string, unknown>)[method] !== 'function') {
        throw new ValidationError(
          `PocketPing storage must implement ${method}(); a Storage needs createSession, getSession, saveMessage and getMessages`,
          { code: 'CONFIG_INVALID' },
        );
      }
    }
    this.storageAccess = new StorageAccess(store, this.logger);
    this.ownBus = eventBus === undefined;
    this.bus = eventBus ?? new InProcessEventBus();
    const policy = { ...DEFAULT_RETRY_POLICY, ...this.settings.delivery };
    if (deliveryQueue) this.queue = deliveryQueue;
    else if (OUTBOX_METHODS.every((m) => typeof store[m] === 'function')) {
      // The storage hosts a durable outbox: deliveries survive restarts and are shared by instances.
      this.queue = new StorageDeliveryQueue(store as ConstructorParameters<typeof StorageDeliveryQueue>[0], {
        owner: this.instanceId,
        policy,
        leaseMs: this.settings.delivery.leaseMs,
        pollMs: this.settings.delivery.pollMs,
        logger: this.logger,
      });
    } else {
      this.queue = new MemoryDeliveryQueue(policy);
      if (storage !== undefined && storage !== 'memory') {
        this.logger.warn(
          { storage: store.constructor?.name },
          'storage has no durable outbox (outbox* methods): bridge deliveries wait in memory and a restart loses the queued ones',
        );
      }
    }
    if (attachmentStore) this.attachmentStoreRef = attachmentStore;
    this.operatorOnlineFlag = this.settings.operatorOnline;
    for (const bridge of bridges ?? []) this.registerBridge(bridge);
    if (this.settings.bridgeUrl) {
      if (!this.settings.apiKey) {
        throw new ValidationError('bridgeUrl needs apiKey: the admin key of the central pocketping-server', {
          code: 'CONFIG_INVALID',
        });
      }
      this.registerBridge(
        new RemoteBridge({
          url: this.settings.bridgeUrl,
          apiKey: this.settings.apiKey,
          ...(this.settings.bridgeReceive ? { receive: this.settings.bridgeReceive } : {}),
          ...(this.settings.bridgeWebhookSecret ? { webhookSecret: this.settings.bridgeWebhookSecret } : {}),
        }),
      );
    }
    const targets = [...this.settings.webhooks];
    if (this.settings.webhookUrl) {
      targets.push(
        OutgoingWebhookSchema.parse({
          url: this.settings.webhookUrl,
          ...(this.settings.webhookSecret ? { secret: this.settings.webhookSecret } : {}),
          ...(this.settings.webhookTimeout ? { timeoutMs: this.settings.webhookTimeout } : {}),
        }),
      );
    }
    if (targets.length > 0) {
      const hooks = new OutgoingWebhooks(targets, this.logger);
      this.webhooks = hooks;
      this.on('*', (event) => hooks.notify(event));
    }
  }

  // ───────────────────────────── lifecycle ─────────────────────────────

  /** Connects storage, event bus and bridges, and starts the delivery worker. Idempotent. */
  async init(): Promise<void> {
    if (this.initialized) return;
    await this.storageAccess.init();
    await this.bus.init?.();
    this.busUnsubscribe = this.bus.subscribe((message) => this.onBusMessage(message));
    this.queue.start(
      (job) => this.runDelivery(job),
      (job, error, deadLettered) => {
        this.logger[deadLettered ? 'error' : 'warn'](
          {
            bridge: job.bridge,
            sessionId: job.sessionId,
            operation: job.operation.type,
            attempt: job.attempts,
            err: error,
          },
          deadLettered ? 'bridge delivery failed for good' : 'bridge delivery failed; will retry',
        );
        this.emit({
          type: 'delivery.failed',
          bridge: job.bridge,
          sessionId: job.sessionId,
          operation: job.operation.type,
          error,
          deadLettered,
        });
      },
    );
    this.initialized = true;
    for (const bridge of this.bridgeList) await this.initBridge(bridge);
    if (this.settings.retentionDays) {
      if (
        !this.storageAccess.has('cleanupOldSessions') &&
        !(this.storageAccess.has('listSessions') && this.storageAccess.has('deleteSession'))
      ) {
        throw new SetupError({
          component: 'Retention',
          problem:
            'retentionDays is set but the storage cannot delete sessions (needs listSessions + deleteSession, or cleanupOldSessions)',
          steps: [
            'Use a storage that supports deletion (MemoryStorage, PostgresStorage, RedisStorage, MongoStorage)',
            'Or remove retentionDays',
          ],
          code: 'CONFIG_INVALID',
        });
      }
      // One instance runs retention; the others stand by.
      this.singleton('pocketping:retention', {
        start: () => {
          this.retentionTimer = setInterval(() => {
            this.runRetention().catch((err) => this.logger.warn({ err }, 'retention run failed'));
          }, this.settings.retentionIntervalMs);
          this.retentionTimer.unref?.();
        },
        stop: () => {
          if (this.retentionTimer) clearInterval(this.retentionTimer);
          this.retentionTimer = undefined;
        },
      });
    }
    for (const keeper of this.singletons) keeper.start();
  }

  /**
   * Runs `job` on exactly one of the instances that share this storage (a renewed lease named
   * `name`); another instance takes over within about `ttlMs` when the holder dies. Returns the
   * keeper; PocketPing stops it on close.
   */
  singleton(name: string, job: SingletonJob, options: SingletonOptions = {}): LeaseKeeper {
    const keeper = new LeaseKeeper(this.storageAccess.storage, name, this.instanceId, job, this.logger, options.ttlMs);
    this.singletons.push(keeper);
    if (this.initialized && !this.closed) keeper.start();
    return keeper;
  }

  /**
   * Deletes sessions inactive for longer than `retentionDays` (or `olderThan`), with their files
   * and, where the bridge can, their threads. Returns how many sessions were removed.
   */
  async runRetention(olderThan?: Date): Promise<number> {
    const days = this.settings.retentionDays;
    const cutoff = olderThan ?? (days ? new Date(Date.now() - days * 86_400_000) : undefined);
    if (!cutoff) return 0;
    if (this.storageAccess.has('listSessions') && this.storageAccess.has('deleteSession')) {
      let removed = 0;
      for (;;) {
        const batch = await this.storageAccess.listSessions({ before: cutoff, limit: 100 });
        if (batch.length === 0) return removed;
        for (const s of batch) if (await this.eraseSession(s.id)) removed++;
      }
    }
    return this.storageAccess.cleanupOldSessions(cutoff);
  }

  /** Everything stored about one session: the session and all its messages (privacy export). */
  async exportSession(sessionId: string): Promise<{ session: Session; messages: Message[] }> {
    const session = await this.requireSession(sessionId);
    return { session, messages: await this.storageAccess.getMessages(session.id) };
  }

  /**
   * Erases one session: its files, its thread on every bridge that can delete threads, and the
   * session with its messages. Returns false when it did not exist.
   */
  async eraseSession(sessionId: string): Promise<boolean> {
    const session = isUrlSafeId(sessionId) ? await this.storageAccess.getSession(sessionId) : null;
    if (!session) return false;
    const messages = await this.storageAccess.getMessages(session.id);
    const store = this.attachmentStoreRef;
    if (store) {
      for (const m of messages) {
        for (const a of m.attachments ?? []) if (a.storageKey) await store.delete(a.storageKey).catch(() => {});
      }
    }
    for (const b of this.bridgeList) {
      if (b.onSessionErased && session.bridgeThreads?.[b.name]) {
        try {
          await b.onSessionErased(session);
        } catch (err) {
          this.logger.warn({ bridge: b.name, err }, 'could not remove the thread of an erased session');
        }
      }
    }
    this.knownSessions.delete(session.id);
    return this.storageAccess.deleteSession(session.id);
  }

  /** Every session of one visitor (privacy export/erasure); scans the session list. */
  async sessionsOfVisitor(visitorId: string): Promise<Session[]> {
    const out: Session[] = [];
    let before: Date | undefined;
    for (;;) {
      const page = await this.storageAccess.listSessions({ limit: 200, ...(before ? { before } : {}) });
      out.push(...page.filter((s) => s.visitorId === visitorId));
      if (page.length < 200) return out;
      before = page[page.length - 1]!.lastActivity;
    }
  }

  /** Stops bridges, the delivery worker, the bus and storage. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closeStreams();
    for (const keeper of this.singletons) await keeper.close();
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    for (const t of this.operatorTypingTimers.values()) clearTimeout(t);
    for (const t of this.typingState.values()) if (t.stopTimer) clearTimeout(t.stopTimer);
    await this.queue.stop();
    if (this.webhooks) {
      await Promise.race([this.webhooks.flush(), new Promise((r) => setTimeout(r, 2000))]);
      this.webhooks.close();
    }
    for (const bridge of this.bridgeList) {
      try {
        await bridge.close?.();
      } catch (err) {
        this.logger.warn({ bridge: bridge.name, err }, 'bridge close failed');
      }
    }
    this.busUnsubscribe?.();
    await this.bus.close?.();
    await this.storageAccess.close();
  }

  /** Adds a bridge; when PocketPing is already initialized, the bridge is started now. */
  async addBridge(bridge: Bridge): Promise<void> {
    this.registerBridge(bridge);
    if (this.initialized) await this.initBridge(bridge);
  }

  /** The bridges, in the order they were added. */
  get bridges(): readonly Bridge[] {
    return this.bridgeList;
  }

  /** The storage adapter given at construction. */
  getStorage(): Storage {
    return this.storageAccess.storage;
  }

  /** Where uploaded bytes live, if configured. */
  get attachmentStore(): AttachmentStore | undefined {
    return this.attachmentStoreRef;
  }

  /** Sets the attachment store (the server does this when the user did not pass one). */
  setAttachmentStore(store: AttachmentStore): void {
    this.attachmentStoreRef = store;
  }

  /** Resolves when every queued bridge delivery has run (tests, graceful shutdown). */
  flushDeliveries(): Promise<void> {
    return this.queue.drain();
  }

  /** Bridge deliveries that failed for good. */
  deadLetters(): Promise<DeliveryJob[]> {
    return this.queue.deadLetters();
  }

  /** Re-queues a dead-lettered delivery. */
  retryDeadLetter(jobId: string): Promise<boolean> {
    return this.queue.retryDeadLetter(jobId);
  }

  /** True when storage answers (for readiness probes). */
  async isReady(): Promise<boolean> {
    return this.initialized && !this.closed && (await this.storageAccess.ping());
  }

  private registerBridge(bridge: Bridge): void {
    if (!bridge || typeof bridge.name !== 'string' || bridge.name.length === 0) {
      throw new ValidationError('A bridge must have a non-empty name', { code: 'CONFIG_INVALID' });
    }
    if (this.bridgeList.some((b) => b.name === bridge.name)) {
      throw new ValidationError(
        `Two bridges are named "${bridge.name}"; give each its own name (the key of its stored thread and message ids)`,
        { code: 'CONFIG_INVALID' },
      );
    }
    this.bridgeList.push(bridge);
  }

  private async initBridge(bridge: Bridge): Promise<void> {
    try {
      await bridge.init?.(this.bridgeContext(bridge.name));
    } catch (err) {
      if (isSetupError(err)) throw err;
      throw new SetupError({
        component: `Bridge "${bridge.name}"`,
        problem: err instanceof Error ? err.message : String(err),
        steps: ['Check the bridge options and credentials', 'Run `pocketping-server check` to see what is wrong'],
        cause: err,
      });
    }
  }

  // ───────────────────────────── events ─────────────────────────────

  /**
   * Subscribes to custom events from widgets, by name or `'*'` for all. Returns the
   * unsubscribe function.
   */
  onEvent(name: string, handler: CustomEventHandler): () => void {
    let set = this.customHandlers.get(name);
    if (!set) {
      set = new Set();
      this.customHandlers.set(name, set);
    }
    set.add(handler);
    return () => this.offEvent(name, handler);
  }

  /** Removes a custom event handler. */
  offEvent(name: string, handler: CustomEventHandler): void {
    const set = this.customHandlers.get(name);
    set?.delete(handler);
    if (set && set.size === 0) this.customHandlers.delete(name);
  }

  /** Subscribes to PocketPing lifecycle events (`message.created`, `session.started`, ... or `'*'`). */
  on<T extends PocketPingEventType>(
    type: T | '*',
    handler: (event: PocketPingEventOf<T>) => void | Promise<void>,
  ): () => void {
    let set = this.eventHandlers.get(type);
    if (!set) {
      set = new Set();
      this.eventHandlers.set(type, set);
    }
    set.add(handler as AnyEventHandler);
    return () => {
      set!.delete(handler as AnyEventHandler);
    };
  }

  private emit(event: PocketPingEvent): void {
    for (const key of [event.type, '*']) {
      const set = this.eventHandlers.get(key);
      if (!set) continue;
      for (const handler of set) this.runSafely(`event handler for ${event.type}`, () => handler(event));
    }
  }

  private runSafely(what: string, fn: () => unknown): void {
    try {
      const r = fn();
      if (r && typeof (r as Promise<unknown>).then === 'function') {
        (r as Promise<unknown>).catch((err) => this.logger.error({ err }, `${what} failed`));
      }
    } catch (err) {
      this.logger.error({ err }, `${what} failed`);
    }
  }

  // ───────────────────────────── realtime ─────────────────────────────

  /** Follows one session's realtime events (used by the WebSocket and SSE transports). */
  subscribe(sessionId: string, listener: RealtimeListener): () => void {
    return this.hub.subscribe(sessionId, listener);
  }

  /**
   * Sends an event to every realtime subscriber of a session, on every instance. `seq` is the
   * session's message sequence number the event stands for (a message created or changed); it
   * goes into the envelope and lets each socket know how far its widget has got.
   */
  emitToSession(sessionId: string, event: ServerEvent, seq?: number): void {
    this.hub.deliver(sessionId, toFrame(event, seq));
    if (!this.ownBus)
      this.publish({
        kind: 'session',
        origin: this.instanceId,
        sessionId,
        event,
        ...(seq !== undefined ? { seq } : {}),
      });
  }

  /** Sends an event to every connected widget, on every instance. */
  emitToAll(event: ServerEvent): void {
    this.hub.broadcast(toFrame(event));
    if (!this.ownBus) this.publish({ kind: 'broadcast', origin: this.instanceId, event });
  }

  private publish(message: BusMessage): void {
    this.bus.publish(message).catch((err) => this.logger.warn({ err }, 'event bus publish failed'));
  }

  private onBusMessage(message: BusMessage): void {
    if (message.origin === this.instanceId) return;
    if (message.kind === 'session') this.hub.deliver(message.sessionId, toFrame(message.event, message.seq));
    else if (message.kind === 'broadcast') this.hub.broadcast(toFrame(message.event));
    else if (message.kind === 'presence') {
      this.operatorOnlineFlag = message.online;
      this.hub.broadcast(toFrame({ type: 'presence', data: { online: message.online } }));
    }
  }

  /**
   * Frames to send when a stream opens: messages created or changed after `after` (SSE passes
   * the widget's cursor), then any pending CSAT request and undelivered screenshot requests.
   */
  async streamReplay(
    sessionId: string,
    options: { after?: Date; afterSeq?: number; recentMs?: number } = {},
  ): Promise<OutgoingFrame[]> {
    return (await this.streamCatchUp(sessionId, options)).frames;
  }

  /**
   * What a stream that opens has to send first, and from where it resumed. Messages created or
   * changed after the cursor come first (ascending), then a pending CSAT request and undelivered
   * screenshot requests. The cursor is, in this order: `afterSeq` (a client that kept the `seq`
   * of the envelopes), `after` (the widget's timestamp, with clock-skew slack), the session's
   * resume records (`resume: true`: a reopened WebSocket, which carries no cursor; see
   * `Session.streamResume`), or the last `recentMs`. `seq` is the session's sequence number
   * when the messages were read: the stream has everything up to it once the frames are sent.
   */
  async streamCatchUp(
    sessionId: string,
    options: { after?: Date; afterSeq?: number; resume?: boolean; recentMs?: number } = {},
  ): Promise<{ frames: OutgoingFrame[]; seq?: number; resumedFrom?: number }> {
    const session = await this.storageAccess.getSession(sessionId);
    if (!session) return { frames: [] };
    const frames: OutgoingFrame[] = [];
    const sequenced = session.seq !== undefined;
    let query: MessageQuery | undefined;
    let resumedFrom: number | undefined;
    if (options.afterSeq !== undefined && sequenced) {
      query = { afterSeq: options.afterSeq };
      resumedFrom = options.afterSeq;
    } else if (options.after) {
      query = { after: this.effectiveAfter(options.after) };
    } else if (options.resume && sequenced && session.streamResume?.length) {
      resumedFrom = await this.withResumeLock(sessionId, () => this.resumePoint(sessionId));
      if (resumedFrom !== undefined) query = { afterSeq: resumedFrom };
    }
    if (!query && (options.resume || options.recentMs || options.afterSeq !== undefined)) {
      // No resume point: the widget is current as of its /connect (or of a stream that closed
      // moments ago); replaying what changed recently fills that gap. Repeats are harmless,
      // the widget merges by id.
      query = { after: new Date(Date.now() - (options.recentMs ?? RECENT_REPLAY_MS)) };
    }
    if (query) {
      const messages = await this.storageAccess.getMessages(sessionId, { ...query, limit: this.settings.historyLimit });
      const wire = await this.toWireMessages(messages);
      for (let i = 0; i < wire.length; i++) frames.push(toFrame({ type: 'message', data: wire[i]! }, messages[i]!.seq));
    }
    if (session.csat?.pending && session.csat.score === undefined) {
      frames.push(
        toFrame({
          type: 'csat_request',
          data: session.csat.requestedAt ? { requestedAt: session.csat.requestedAt.toISOString() } : {},
        }),
      );
    }
    for (const r of session.screenshotRequests ?? []) {
      if (!r.deliveredAt && !r.completedAt)
        frames.push(toFrame({ type: 'screenshot_request', data: screenshotData(r) }));
    }
    return {
      frames,
      ...(session.seq !== undefined ? { seq: session.seq } : {}),
      ...(resumedFrom !== undefined ? { resumedFrom } : {}),
    };
  }

  /**
   * The resume point of a socket that opens without a cursor: the lowest recorded one (one
   * record per closed socket; whichever tab's socket this is, nobody resumes past its own
   * point). A socket that looks like a reconnect also uses one record up, the highest, which
   * keeps every other closed socket's own point or a lower one. A socket of a page that just
   * called /connect (session active in the last 15 s) uses none up: it is a new tab, and the
   * records belong to sockets that may still come back.
   */
  private async resumePoint(sessionId: string): Promise<number | undefined> {
    // Read again under the lock: another socket of this session may have changed the records.
    const session = await this.storageAccess.getSession(sessionId);
    if (!session) return undefined;
    const now = Date.now();
    const records = (session.streamResume ?? []).filter((r) => now - r.at.getTime() < RESUME_RECORD_TTL_MS);
    if (records.length === 0) return undefined;
    let low = 0;
    let high = 0;
    for (let i = 1; i < records.length; i++) {
      if (records[i]!.seq < records[low]!.seq) low = i;
      if (records[i]!.seq >= records[high]!.seq) high = i;
    }
    const floor = records[low]!.seq;
    const fresh = now - session.lastActivity.getTime() < FRESH_PAGE_MS;
    if (!fresh) records.splice(high, 1);
    if ((!fresh || records.length !== session.streamResume!.length) && this.storageAccess.has('updateSession'))
      await this.storageAccess.updateSession(session.id, { streamResume: records });
    return floor;
  }

  /**
   * Records where a closed WebSocket stopped: its widget is known to have every change up to
   * `seq` (confirmed by a pong after the frame). The next socket of the session that opens
   * without a cursor resumes from the lowest record (see `streamCatchUp`). Keeps at most 16
   * records of the last 24 hours. Failures are logged, never thrown (this runs on close).
   */
  async recordResumePoint(sessionId: string, seq: number): Promise<void> {
    // On shutdown the sockets close after the storage: their widgets reconnect within seconds
    // elsewhere, where the recent-changes replay covers them.
    if (this.closed || !this.storageAccess.has('updateSession')) return;
    await this.withResumeLock(sessionId, () => this.appendResumePoint(sessionId, seq));
  }

  private async appendResumePoint(sessionId: string, seq: number): Promise<void> {
    try {
      const session = await this.storageAccess.getSession(sessionId);
      if (!session || session.seq === undefined) return;
      const now = Date.now();
      const records = (session.streamResume ?? []).filter((r) => now - r.at.getTime() < RESUME_RECORD_TTL_MS);
      records.push({ seq, at: new Date(now) });
      // Over the cap, the highest record goes: the lower ones cover every socket's point.
      while (records.length > MAX_RESUME_RECORDS) {
        let high = 0;
        for (let i = 1; i < records.length; i++) if (records[i]!.seq >= records[high]!.seq) high = i;
        records.splice(high, 1);
      }
      await this.storageAccess.updateSession(sessionId, { streamResume: records });
    } catch (err) {
      if (!this.closed) this.logger.warn({ err, sessionId }, 'could not record where a WebSocket stopped');
    }
  }

  /**
   * Runs the read-modify-write of a session's resume records one at a time per session in this
   * process (two tabs closing together must not drop each other's record). Across instances the
   * race stays (see docs/deploying.md).
   */
  private withResumeLock<T>(sessionId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.resumeLocks.get(sessionId) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.resumeLocks.set(sessionId, tail);
    void tail.then(() => {
      if (this.resumeLocks.get(sessionId) === tail) this.resumeLocks.delete(sessionId);
    });
    return run;
  }

  /** Registers an open SSE stream so `closeStreams()` can end it on shutdown (used by `openSseStream`). */
  trackStream(stop: () => void): void {
    this.openStreams.add(stop);
  }

  /** Forgets a stream that ended. */
  releaseStream(stop: () => void): void {
    this.openStreams.delete(stop);
  }

  /** Ends every open SSE stream (graceful shutdown). */
  closeStreams(): void {
    for (const stop of [...this.openStreams]) stop();
  }

  /** Number of open SSE streams in this process. */
  get openStreamCount(): number {
    return this.openStreams.size;
  }

  /** True when the session exists (cached briefly, for hot paths like typing and streams). */
  async sessionExists(sessionId: string): Promise<boolean> {
    const cached = this.knownSessions.get(sessionId);
    if (cached !== undefined && cached > Date.now()) return true;
    if (!isUrlSafeId(sessionId)) return false;
    const session = await this.storageAccess.getSession(sessionId);
    if (!session) return false;
    this.rememberSession(sessionId);
    return true;
  }

  private rememberSession(sessionId: string): void {
    if (this.knownSessions.size > 50_000) this.knownSessions.clear();
    this.knownSessions.set(sessionId, Date.now() + 60_000);
  }

  /** Handles one text frame from a widget WebSocket. Invalid frames are ignored. */
  async handleClientFrame(sessionId: string, text: string): Promise<void> {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return;
    }
    const parsed = ClientFrameSchema.safeParse(raw);
    if (!parsed.success) return;
    const frame = parsed.data;
    if (frame.type === 'event') {
      await this.triggerEvent(sessionId, frame.data.name, frame.data.data, frame.data.timestamp);
    } else if (frame.type === 'typing') {
      await this.visitorTyping(sessionId, frame.data?.isTyping ?? frame.isTyping ?? true);
    }
    // inspector_select is a hosted-dashboard feature; nothing here asked for it.
  }

  // ───────────────────────────── widget protocol ─────────────────────────────

  /**
   * IP and User-Agent filters (`security.ipFilter`, `security.uaFilter`). Returns why a client is
   * refused, or undefined when it may pass. Used by every HTTP adapter and the WebSocket.
   */
  checkAccess(client: { ip?: string; userAgent?: string }): string | undefined {
    const { ipFilter, uaFilter } = this.settings.security;
    const ip = client.ip;
    if (ip && ipFilter.block.length > 0 && ipMatchesAny(ip, ipFilter.block)) return 'this network is blocked';
    if (ipFilter.allow.length > 0 && (!ip || !ipMatchesAny(ip, ipFilter.allow))) return 'this network is not allowed';
    const ua = client.userAgent ?? '';
    if (uaFilter.allow.length > 0 && matchesAnyPattern(ua, uaFilter.allow)) return undefined;
    if (uaFilter.block.length > 0 && matchesAnyPattern(ua, uaFilter.block)) return 'this client is blocked';
    if (uaFilter.blockBots && isBot(client.userAgent)) return 'automated clients are not allowed';
    return undefined;
  }

  /**
   * Checks a signed identity (`security.identitySecret`): `identity.hash` must be the hex
   * HMAC-SHA256 of `identity.id`. Returns the identity to store (hash removed, `verified` set),
   * or throws ACCESS_FORBIDDEN for a wrong hash, or a missing one when signatures are required.
   */
  async verifyIdentity(identity: UserIdentity): Promise<UserIdentity> {
    const { identitySecret, requireSignedIdentity } = this.settings.security;
    if (!identitySecret) return identity;
    const { hash, ...rest } = identity as UserIdentity & { hash?: unknown };
    if (typeof hash !== 'string' || hash.length === 0) {
      if (requireSignedIdentity) {
        throw new PocketPingError(
          'ACCESS_FORBIDDEN',
          'identity.hash is required: sign identity.id with your identity secret (HMAC-SHA256, hex)',
        );
      }
      return { ...rest, verified: false } as UserIdentity;
    }
    const expected = await identityHash(identitySecret, identity.id);
    if (!constantTimeEqualStrings(hash.toLowerCase(), expected)) {
      throw new PocketPingError(
        'ACCESS_FORBIDDEN',
        'identity.hash does not match identity.id; compute it with your identity secret',
      );
    }
    return { ...rest, verified: true } as UserIdentity;
  }

  /** `POST /connect`: creates or resumes a session and returns history and widget config. */
  async handleConnect(input: unknown, ctx: RequestContext = {}): Promise<ConnectResponse> {
    const req = parseInput(ConnectRequestSchema, input, '/connect request');
    this.observeBaseUrl(ctx.baseUrl);
    const metadata = this.buildMetadata(req.metadata ?? {}, ctx);
    if (this.settings.security.blockHeadless && metadata.botSignals?.webdriver === true) {
      throw new PocketPingError('ACCESS_FORBIDDEN', 'automated browsers are not allowed to chat here');
    }
    let identity: UserIdentity | undefined;
    if (req.identity) {
      // A bad signature on connect drops the identity instead of failing: a failed connect
      // leaves the widget dead until reload.
      identity = await this.verifyIdentity(req.identity).catch(() => undefined);
    }
    const now = new Date();

    let session: Session | null = null;
    let touched = false;
    if (req.sessionId && isUrlSafeId(req.sessionId)) {
      if (!identity && this.storageAccess.has('touchSession')) {
        // One round trip: the storage checks the visitor and merges the metadata itself.
        session = await this.storageAccess.touchSession(req.sessionId, req.visitorId, {
          lastActivity: now,
          metadata,
          keepKeys: KEPT_METADATA_KEYS,
        });
        touched = session !== null;
      } else {
        const found = await this.storageAccess.getSession(req.sessionId);
        if (found && found.visitorId === req.visitorId) session = found;
      }
    }
    let created = false;
    if (!session) {
      // The visitor's newest session, or a new one stored in the same step when it has none.
      const fresh: Session = {
        id: generateId('ses'),
        visitorId: req.visitorId,
        createdAt: now,
        lastActivity: now,
        status: 'open',
        metadata,
        ...(identity ? { identity } : {}),
      };
      const found = await this.storageAccess.createSessionForVisitor(fresh);
      session = found.session;
      created = found.created;
    }
    if (!created && !touched) {
      const keep = session.metadata ?? {};
      const merged = { ...keep, ...metadata };
      // Server-side facts already known survive a refresh (PROTOCOL.md §2.9, §3.1 step 4): the
      // stored ip stays with the geo that was derived from it.
      for (const k of KEPT_METADATA_KEYS) if (keep[k]) merged[k] = keep[k];
      const updated = await this.storageAccess.updateSession(session.id, {
        metadata: merged,
        lastActivity: now,
        ...(identity ? { identity } : {}),
      });
      const identityChanged = identity && JSON.stringify(identity) !== JSON.stringify(session.identity);
      session = updated ?? session;
      if (identityChanged) await this.afterIdentityChange(session, identity!);
    }
    this.rememberSession(session.id);

    // A session created by this call has no history yet, nor one whose sequence is still at 0
    // (storages that number messages): skip the read.
    const history =
      created || session.seq === 0
        ? []
        : await this.storageAccess.getMessages(session.id, { limit: this.settings.historyLimit });
    const response: ConnectResponse = {
      sessionId: session.id,
      visitorId: req.visitorId,
      operatorOnline: this.operatorOnlineFlag,
      operatorReachable: this.settings.operatorReachable,
      messages: await this.toWireMessages(history),
    };
    if (session.identity) response.identity = session.identity;
    const pre = this.settings.preChatForm;
    if (pre?.enabled) {
      response.preChatForm = {
        enabled: true,
        required: pre.required,
        timing: pre.timing,
        fields: pre.fields,
        completed: session.preChat !== undefined,
      };
    }
    if (this.settings.trackedElements && this.settings.trackedElements.length > 0) {
      response.trackedElements = this.settings.trackedElements;
    }
    if (req.inspectorToken && this.hooks.validateInspectorToken) {
      try {
        if (await this.hooks.validateInspectorToken(req.inspectorToken, session)) response.inspectorMode = true;
      } catch (err) {
        this.logger.warn({ err }, 'validateInspectorToken failed');
      }
    }
    if (this.settings.welcomeMessage) response.welcomeMessage = this.settings.welcomeMessage;
    for (const [key, value] of Object.entries(this.settings.branding)) {
      if (value !== undefined && value !== null && value !== '' && !(key in response)) response[key] = value;
    }

    if (created) {
      const s = session;
      await this.enqueueAll(s.id, { type: 'new_session' }, (b) => typeof b.onNewSession === 'function');
      if (this.hooks.onNewSession) this.runSafely('onNewSession', () => this.hooks.onNewSession!(s));
      if (this.hooks.onSessionStart) this.runSafely('onSessionStart', () => this.hooks.onSessionStart!(s));
      this.emit({ type: 'session.started', session: s });
    }
    return response;
  }

  /** `POST /message`: stores a visitor message, pushes it to the widget and the bridges. */
  async handleMessage(
    input: unknown,
    ctx: RequestContext = {},
  ): Promise<{ messageId: string; timestamp: string; attachments?: WireAttachment[] }> {
    const req = parseInput(SendMessageRequestSchema, input, '/message request');
    this.observeBaseUrl(ctx.baseUrl);
    // A plain text message goes straight to the storage's combined write, which checks that the
    // session exists (one round trip); attachments and replies are checked against it first.
    const plain = !req.replyTo && !(req.attachmentIds && req.attachmentIds.length > 0);
    const session =
      plain && this.storageAccess.savesMessageWithSession && isUrlSafeId(req.sessionId)
        ? req.sessionId
        : await this.requireSession(req.sessionId);
    const message = await this.createVisitorMessage(session, {
      content: req.content,
      attachmentIds: req.attachmentIds ?? [],
      replyTo: req.replyTo ?? undefined,
    });
    const out: { messageId: string; timestamp: string; attachments?: WireAttachment[] } = {
      messageId: message.id,
      timestamp: message.timestamp.toISOString(),
    };
    if (message.attachments && message.attachments.length > 0)
      out.attachments = message.attachments.map(toWireAttachment);
    return out;
  }

  /**
   * Stores a visitor's message and tells everyone. `session` is the session as read, or only its
   * id when the storage's combined write is to check that it exists.
   */
  private async createVisitorMessage(
    session: Session | string,
    input: {
      content: string;
      attachmentIds: string[];
      replyTo?: string;
      metadata?: Record<string, unknown>;
      /** Keep this id (remote mode mirrors messages with their original ids). */
      id?: string;
      /** Ready attachments that live elsewhere (remote mode). */
      attachments?: Attachment[];
      source?: string;
    },
  ): Promise<Message> {
    const { content } = input;
    const length = countChars(content);
    if (length > MAX_MESSAGE_LENGTH) {
      throw new ValidationError(
        `content is ${length} characters long; the limit is ${MAX_MESSAGE_LENGTH} (nothing was stored, split the message)`,
        { code: 'MESSAGE_TOO_LONG', details: { length, limit: MAX_MESSAGE_LENGTH } },
      );
    }
    const sessionId = typeof session === 'string' ? session : session.id;
    const ids = [...new Set(input.attachmentIds)];
    if (content.trim().length === 0 && ids.length === 0 && !(input.attachments && input.attachments.length > 0)) {
      throw new ValidationError('content is empty and no attachmentIds were given: send text or a file', {
        code: 'MESSAGE_EMPTY',
      });
    }
    const attachments: Attachment[] = [];
    for (const attachmentId of ids) {
      const a = await this.storageAccess.getAttachment(attachmentId);
      if (!a || a.sessionId !== sessionId) {
        throw new ValidationError(`attachment ${attachmentId} does not exist in this session`, {
          code: 'ATTACHMENT_NOT_FOUND',
        });
      }
      if (a.status !== 'ready') {
        throw new ValidationError(
          `attachment ${attachmentId} is not ready: finish it with POST /upload/complete first`,
          {
            code: 'ATTACHMENT_NOT_READY',
          },
        );
      }
      if (a.messageId) {
        throw new ValidationError(`attachment ${attachmentId} is already part of another message`, {
          code: 'ATTACHMENT_NOT_FOUND',
        });
      }
      attachments.push(a);
    }
    attachments.push(...(input.attachments ?? []));
    let replyTo: string | undefined;
    if (input.replyTo && isUrlSafeId(input.replyTo)) {
      const ref = await this.storageAccess.getMessage(sessionId, input.replyTo);
      // An unknown id (e.g. a leaked optimistic temp- id) is dropped rather than failing the send.
      if (ref) replyTo = ref.id;
    }
    const now = monotonicNow(sessionId);
    const id = input.id ?? generateId('msg');
    const message: Message = {
      id,
      sessionId,
      content,
      sender: 'visitor',
      timestamp: now,
      updatedAt: now,
      status: 'sent',
      source: input.source ?? 'widget',
      ...(replyTo ? { replyTo } : {}),
      ...(attachments.length > 0 ? { attachments: attachments.map((a) => ({ ...a, messageId: id })) } : {}),
      ...(input.metadata ? { metadata: input.metadata } : {}),
    };
    // The same patch whatever the session's state (one statement shape): a visitor's message
    // marks the session as having one and reopens it when it was closed.
    const patch: SessionPatch = { lastActivity: now, hasVisitorMessage: true, status: 'open' };
    const saved = await this.storageAccess.saveMessageWithSession(message, patch);
    if (!saved) throw sessionNotFound(sessionId);
    const stored = saved.message;
    const updated = saved.session;
    for (const a of attachments)
      if (ids.includes(a.id)) await this.storageAccess.updateAttachment(a.id, { messageId: id });
    await this.broadcastMessage(stored);
    await this.enqueueAll(
      sessionId,
      { type: 'visitor_message', messageId: id },
      (b) => typeof b.onVisitorMessage === 'function',
    );
    this.stopVisitorTyping(sessionId);
    if (this.hooks.onMessage) this.runSafely('onMessage', () => this.hooks.onMessage!(stored, updated));
    this.emit({ type: 'message.created', message: stored, session: updated });
    return stored;
  }

  /** `GET /messages`: messages created or changed after `after` (with clock-skew slack). */
  async handleGetMessages(input: unknown): Promise<{ messages: WireMessage[]; hasMore: boolean }> {
    const req = parseInput(GetMessagesQuerySchema, input, '/messages query');
    await this.requireSession(req.sessionId);
    const limit = req.limit ?? this.settings.historyLimit;
    const query: MessageQuery = { limit: limit + 1 };
    if (req.afterSeq !== undefined) query.afterSeq = req.afterSeq;
    else if (req.after) query.after = this.effectiveAfter(req.after);
    const list = await this.storageAccess.getMessages(req.sessionId, query);
    const hasMore = list.length > limit;
    const page = hasMore ? list.slice(list.length - limit) : list;
    return { messages: await this.toWireMessages(page), hasMore };
  }

  private effectiveAfter(after: Date): Date {
    const now = Date.now();
    return new Date(Math.min(after.getTime(), now) - this.settings.afterSlackMs);
  }

  /** `POST /typing`: a visitor typing pulse; throttled towards the bridges, expires by itself. */
  async handleTyping(input: unknown): Promise<{ ok: true }> {
    const req = parseInput(TypingRequestSchema, input, '/typing request');
    if (!(await this.sessionExists(req.sessionId))) throw sessionNotFound(req.sessionId);
    await this.visitorTyping(req.sessionId, req.isTyping);
    return { ok: true };
  }

  private async visitorTyping(sessionId: string, isTyping: boolean): Promise<void> {
    const bridges = this.bridgeList.filter((b) => typeof b.onTyping === 'function');
    let state = this.typingState.get(sessionId);
    if (!isTyping) {
      this.stopVisitorTyping(sessionId);
      return;
    }
    if (!state) {
      state = { lastBridgeCall: 0 };
      this.typingState.set(sessionId, state);
    }
    if (state.stopTimer) clearTimeout(state.stopTimer);
    state.stopTimer = setTimeout(() => this.stopVisitorTyping(sessionId), this.settings.typingTimeoutMs);
    state.stopTimer.unref?.();
    const now = Date.now();
    if (bridges.length === 0 || now - state.lastBridgeCall < this.settings.typingThrottleMs) return;
    state.lastBridgeCall = now;
    const session = await this.storageAccess.getSession(sessionId);
    // No thread exists before the first real message; typing alone must not create one.
    if (!session?.hasVisitorMessage) return;
    state.bridgesNotified = true;
    for (const b of bridges) this.callBridge(b, 'onTyping', () => b.onTyping!(session, true));
  }

  private stopVisitorTyping(sessionId: string): void {
    const state = this.typingState.get(sessionId);
    if (!state) return;
    if (state.stopTimer) clearTimeout(state.stopTimer);
    this.typingState.delete(sessionId);
    const bridges = this.bridgeList.filter((b) => typeof b.onTyping === 'function');
    // Only a bridge that was told "typing" gets the stop (none before the first message).
    if (bridges.length === 0 || !state.bridgesNotified) return;
    void this.storageAccess
      .getSession(sessionId)
      .then((session) => {
        if (!session) return;
        for (const b of bridges) this.callBridge(b, 'onTyping', () => b.onTyping!(session, false));
      })
      .catch(() => {});
  }

  /** Best-effort bridge call for ephemeral signals (typing, read) that are not worth retrying. */
  private callBridge(bridge: Bridge, what: string, fn: () => unknown): void {
    try {
      const r = fn();
      if (r && typeof (r as Promise<unknown>).then === 'function') {
        (r as Promise<unknown>).catch((err) => this.logger.debug({ bridge: bridge.name, err }, `${what} failed`));
      }
    } catch (err) {
      this.logger.debug({ bridge: bridge.name, err }, `${what} failed`);
    }
  }

  /** `POST /read`: the visitor read operator/AI messages; updates them in place. */
  async handleRead(input: unknown): Promise<{ updated: number }> {
    const req = parseInput(ReadRequestSchema, input, '/read request');
    const session = await this.requireSession(req.sessionId);
    const now = monotonicNow(session.id);
    const changed: string[] = [];
    let seq: number | undefined;
    for (const messageId of new Set(req.messageIds)) {
      if (!isUrlSafeId(messageId)) continue;
      const m = await this.storageAccess.getMessage(session.id, messageId);
      if (!m || m.sender === 'visitor') continue;
      if (req.status === 'read' && m.status === 'read') continue;
      if (req.status === 'delivered' && m.status !== 'sent') continue;
      const u = await this.storageAccess.updateMessage(session.id, m.id, {
        status: req.status,
        ...(req.status === 'read' ? { readAt: now } : {}),
        ...(m.deliveredAt ? {} : { deliveredAt: now }),
        updatedAt: now,
      });
      seq = maxSeq(seq, u?.seq);
      changed.push(m.id);
    }
    if (changed.length > 0) {
      const iso = now.toISOString();
      this.emitToSession(
        session.id,
        {
          type: 'read',
          data: {
            sessionId: session.id,
            messageIds: changed,
            status: req.status,
            deliveredAt: iso,
            ...(req.status === 'read' ? { readAt: iso } : {}),
          },
        },
        seq,
      );
      for (const b of this.bridgeList) {
        if (b.onMessageRead) this.callBridge(b, 'onMessageRead', () => b.onMessageRead!(session, changed, req.status));
      }
      this.emit({ type: 'message.read', session, messageIds: changed, status: req.status });
    }
    return { updated: changed.length };
  }

  /** `PATCH /message/{id}`: the visitor edits one of their own messages. */
  async handleEditMessage(
    messageId: string,
    input: unknown,
  ): Promise<{ message: { id: string; content: string; editedAt: string } }> {
    const req = parseInput(EditMessageRequestSchema, input, 'edit request');
    const session = await this.requireSession(req.sessionId);
    const message = await this.requireOwnMessage(session.id, messageId);
    const content = req.content.trim();
    if (content.length === 0)
      throw new ValidationError('content must not be empty; delete the message instead', { code: 'MESSAGE_EMPTY' });
    const length = countChars(content);
    if (length > MAX_MESSAGE_LENGTH) {
      throw new ValidationError(`content is ${length} characters long; the limit is ${MAX_MESSAGE_LENGTH}`, {
        code: 'MESSAGE_TOO_LONG',
      });
    }
    const edited = await this.applyEdit(session, message, content, undefined);
    return { message: { id: edited.id, content: edited.content, editedAt: edited.editedAt!.toISOString() } };
  }

  /** `DELETE /message/{id}?sessionId=`: the visitor soft-deletes one of their own messages. */
  async handleDeleteMessage(messageId: string, input: unknown): Promise<{ deleted: boolean }> {
    const req = parseInput(DeleteMessageQuerySchema, input, 'delete request');
    const session = await this.requireSession(req.sessionId);
    const message = await this.requireOwnMessage(session.id, messageId);
    await this.applyDelete(session, message, undefined);
    return { deleted: true };
  }

  private async requireOwnMessage(sessionId: string, messageId: string): Promise<Message> {
    const message = isUrlSafeId(messageId) ? await this.storageAccess.getMessage(sessionId, messageId) : null;
    if (!message) {
      throw new PocketPingError(
        'MESSAGE_NOT_FOUND',
        `message ${messageId.slice(0, 80)} does not exist in this session`,
      );
    }
    if (message.sender !== 'visitor') {
      throw new PocketPingError('MESSAGE_FORBIDDEN', 'only the visitor who wrote a message can change it');
    }
    if (message.deletedAt) throw new PocketPingError('MESSAGE_DELETED', 'this message was already deleted');
    return message;
  }

  private async applyEdit(
    session: Session,
    message: Message,
    content: string,
    sourceBridge: string | undefined,
  ): Promise<Message> {
    const now = monotonicNow(session.id);
    const edited = (await this.storageAccess.updateMessage(session.id, message.id, {
      content,
      editedAt: now,
      updatedAt: now,
    })) ?? { ...message, content, editedAt: now, updatedAt: now };
    this.emitToSession(
      session.id,
      { type: 'message_edited', data: { messageId: message.id, content, editedAt: now.toISOString() } },
      edited.seq,
    );
    await this.enqueueAll(
      session.id,
      { type: 'edit', messageId: message.id },
      (b) => typeof b.onMessageEdit === 'function' && b.name !== sourceBridge,
    );
    this.emit({ type: 'message.edited', message: edited, session });
    return edited;
  }

  private async applyDelete(session: Session, message: Message, sourceBridge: string | undefined): Promise<Message> {
    const now = monotonicNow(session.id);
    const deleted = (await this.storageAccess.updateMessage(session.id, message.id, {
      deletedAt: now,
      updatedAt: now,
      content: '',
    })) ?? { ...message, deletedAt: now, updatedAt: now, content: '' };
    this.emitToSession(
      session.id,
      { type: 'message_deleted', data: { messageId: message.id, deletedAt: now.toISOString() } },
      deleted.seq,
    );
    await this.enqueueAll(
      session.id,
      { type: 'delete', messageId: message.id },
      (b) => typeof b.onMessageDelete === 'function' && b.name !== sourceBridge,
    );
    this.emit({ type: 'message.deleted', message: deleted, session });
    return deleted;
  }

  /** `GET /presence`: operator presence. */
  async handlePresence(): Promise<{ online: boolean; aiEnabled: boolean }> {
    return { online: this.operatorOnlineFlag, aiEnabled: false };
  }

  /** `POST /identify`: attaches the host app's user identity to the session. */
  async handleIdentify(input: unknown): Promise<{ ok: true }> {
    const req = parseInput(IdentifyRequestSchema, input, '/identify request');
    const session = await this.requireSession(req.sessionId);
    const identity = await this.verifyIdentity(req.identity);
    const updated = (await this.storageAccess.updateSession(session.id, { identity })) ?? session;
    await this.afterIdentityChange(updated, identity);
    return { ok: true };
  }

  private async afterIdentityChange(session: Session, identity: UserIdentity): Promise<void> {
    if (session.hasVisitorMessage) {
      await this.enqueueAll(session.id, { type: 'identity' }, (b) => typeof b.onIdentityUpdate === 'function');
    }
    if (this.hooks.onIdentify) this.runSafely('onIdentify', () => this.hooks.onIdentify!(session));
    this.emit({ type: 'identity.updated', session, identity });
  }

  /** `POST /prechat`: stores the pre-chat form answers; `/connect` then reports it completed. */
  async handlePreChat(input: unknown): Promise<{ ok: true }> {
    const req = parseInput(PreChatRequestSchema, input, '/prechat request');
    const session = await this.requireSession(req.sessionId);
    const preChat = {
      ...(req.email ? { email: req.email } : {}),
      ...(req.phone ? { phone: req.phone } : {}),
      ...(req.phoneCountry ? { phoneCountry: req.phoneCountry.toUpperCase() } : {}),
      submittedAt: new Date(),
    };
    const updated = (await this.storageAccess.updateSession(session.id, { preChat })) ?? { ...session, preChat };
    const parts = [preChat.email, preChat.phone].filter(Boolean).join(' · ');
    await this.notice(updated, `📋 Pre-chat form: ${parts}`, { evenWithoutThread: false });
    if (updated.hasVisitorMessage)
      await this.enqueueAll(updated.id, { type: 'identity' }, (b) => typeof b.onIdentityUpdate === 'function');
    this.emit({ type: 'prechat.submitted', session: updated });
    return { ok: true };
  }

  /** `POST /csat`: stores a rating once; later submissions answer `alreadyRated`. */
  async handleCsat(input: unknown): Promise<{ ok: true; alreadyRated?: true }> {
    const req = parseInput(CsatRequestSchema, input, '/csat request');
    const session = await this.requireSession(req.sessionId);
    if (session.csat?.score !== undefined) return { ok: true, alreadyRated: true };
    const comment = req.comment?.trim();
    const csat: CsatState = {
      ...(session.csat ?? {}),
      pending: false,
      score: req.score,
      ...(comment ? { comment } : {}),
      respondedAt: new Date(),
    };
    const updated = (await this.storageAccess.updateSession(session.id, { csat })) ?? { ...session, csat };
    const faces = ['', '😞', '🙁', '😐', '🙂', '😄'];
    await this.notice(updated, `⭐ ${faces[req.score]} ${req.score}/5${comment ? ` — "${comment}"` : ''}`, {
      evenWithoutThread: false,
    });
    if (this.hooks.onCsat) this.runSafely('onCsat', () => this.hooks.onCsat!(updated, csat));
    this.emit({ type: 'csat.submitted', session: updated, csat });
    return { ok: true };
  }

  /** `POST /upload`: validates a file and hands out a one-off upload URL. */
  async handleUploadRequest(
    input: unknown,
    ctx: RequestContext = {},
  ): Promise<{ attachmentId: string; uploadUrl: string; expiresAt: string }> {
    const req = parseInput(UploadRequestSchema, input, '/upload request');
    const session = await this.requireSession(req.sessionId);
    const mimeType = req.mimeType.trim() || 'application/octet-stream';
    if (req.size > this.settings.maxAttachmentSize) {
      throw new ValidationError(`file is ${req.size} bytes; the limit is ${this.settings.maxAttachmentSize} bytes`, {
        code: 'ATTACHMENT_TOO_LARGE',
        details: { limit: this.settings.maxAttachmentSize },
      });
    }
    if (!mimeAllowed(mimeType, this.settings.allowedMimeTypes)) {
      throw new ValidationError(`files of type ${mimeType} are not accepted here`, {
        code: 'ATTACHMENT_TYPE_NOT_ALLOWED',
        details: { allowed: this.settings.allowedMimeTypes },
      });
    }
    return this.createPendingUpload(
      session,
      { filename: req.filename, mimeType, size: req.size, uploadedFrom: 'visitor' },
      ctx,
    );
  }

  private async createPendingUpload(
    session: Session,
    file: { filename: string; mimeType: string; size: number; uploadedFrom: string },
    ctx: RequestContext,
  ): Promise<{ attachmentId: string; uploadUrl: string; expiresAt: string; storageKey: string }> {
    const store = this.requireAttachmentStore();
    const base = this.requireBaseUrl(ctx);
    const id = generateId('att');
    const storageKey = `${session.id}/${id}`;
    const expiresAt = new Date(Date.now() + this.settings.uploadUrlTtlSeconds * 1000);
    const attachment: Attachment = {
      id,
      sessionId: session.id,
      filename: sanitizeFilename(file.filename),
      mimeType: file.mimeType,
      size: file.size,
      url: '',
      status: 'pending',
      storageKey,
      uploadedFrom: file.uploadedFrom,
      createdAt: new Date(),
      expiresAt,
    };
    await this.storageAccess.saveAttachment(attachment);
    const uploadUrl = store.createUploadUrl
      ? await store.createUploadUrl(storageKey, { mimeType: file.mimeType, size: file.size, expiresAt })
      : `${base}/upload/${id}`;
    return { attachmentId: id, uploadUrl, expiresAt: expiresAt.toISOString(), storageKey };
  }

  /**
   * `PUT {uploadUrl}`: receives the bytes of a pending upload (only when the server itself is
   * the upload target). Each upload URL accepts bytes once, before it expires.
   */
  async handleUploadData(
    attachmentId: string,
    data: Uint8Array | AsyncIterable<Uint8Array>,
  ): Promise<{ ok: true; size: number }> {
    const store = this.requireAttachmentStore();
    const a = isUrlSafeId(attachmentId) ? await this.storageAccess.getAttachment(attachmentId) : null;
    if (!a) throw new PocketPingError('ATTACHMENT_NOT_FOUND', 'no upload is waiting at this URL');
    if (a.status !== 'pending') {
      throw new PocketPingError(
        'ATTACHMENT_UPLOAD_EXPIRED',
        'this upload URL was already used; request a new one with POST /upload',
      );
    }
    if (a.expiresAt && a.expiresAt.getTime() < Date.now()) {
      throw new PocketPingError(
        'ATTACHMENT_UPLOAD_EXPIRED',
        'this upload URL has expired; request a new one with POST /upload',
      );
    }
    // Claim the URL before writing so two concurrent PUTs cannot both succeed.
    await this.storageAccess.updateAttachment(a.id, { status: 'uploading' });
    try {
      const info = await store.put(a.storageKey, data, {
        mimeType: a.mimeType,
        maxBytes: Math.min(a.size, this.settings.maxAttachmentSize),
      });
      await this.storageAccess.updateAttachment(a.id, { size: info.size });
      return { ok: true, size: info.size };
    } catch (err) {
      await this.storageAccess.updateAttachment(a.id, { status: 'failed' });
      await store.delete(a.storageKey).catch(() => {});
      throw err;
    }
  }

  /** `POST /upload/complete`: checks the bytes arrived and returns the ready attachment. */
  async handleUploadComplete(input: unknown, ctx: RequestContext = {}): Promise<WireAttachment> {
    const req = parseInput(UploadCompleteRequestSchema, input, '/upload/complete request');
    await this.requireSession(req.sessionId);
    const ready = await this.completeUpload(req.sessionId, req.attachmentId, ctx);
    return toWireAttachment(ready);
  }

  private async completeUpload(sessionId: string, attachmentId: string, ctx: RequestContext): Promise<Attachment> {
    const store = this.requireAttachmentStore();
    const a = isUrlSafeId(attachmentId) ? await this.storageAccess.getAttachment(attachmentId) : null;
    if (!a || a.sessionId !== sessionId) {
      throw new PocketPingError(
        'ATTACHMENT_NOT_FOUND',
        `attachment ${attachmentId.slice(0, 80)} does not exist in this session`,
      );
    }
    if (a.status === 'ready') return a;
    if (a.status === 'failed')
      throw new ValidationError('this upload failed; start again with POST /upload', { code: 'ATTACHMENT_NOT_READY' });
    const info = await store.stat(a.storageKey);
    if (!info) {
      throw new ValidationError('no bytes were received for this attachment; PUT the file to uploadUrl first', {
        code: 'ATTACHMENT_NOT_READY',
      });
    }
    const url = this.fileUrl(store, a, ctx);
    const ready = (await this.storageAccess.updateAttachment(a.id, {
      status: 'ready',
      size: info.size,
      url,
      ...(a.mimeType.startsWith('image/') ? { thumbnailUrl: url } : {}),
    })) ?? { ...a, status: 'ready' as const, size: info.size, url };
    return ready;
  }

  private fileUrl(store: AttachmentStore, a: Attachment, ctx: RequestContext = {}): string {
    if (store.publicUrl) return store.publicUrl(a.storageKey);
    return `${this.requireBaseUrl(ctx)}/files/${a.id}/${encodeURIComponent(a.filename)}`;
  }

  /** Reads a ready attachment's bytes (the server's file route). */
  async readAttachment(
    attachmentId: string,
  ): Promise<{ attachment: Attachment; data: AsyncIterable<Uint8Array> | Uint8Array; size: number } | null> {
    const store = this.attachmentStoreRef;
    if (!store || !isUrlSafeId(attachmentId)) return null;
    const a = await this.storageAccess.getAttachment(attachmentId);
    if (a?.status !== 'ready') return null;
    const obj = await store.get(a.storageKey);
    if (!obj) return null;
    return { attachment: a, data: obj.data, size: obj.info.size };
  }

  /** `GET /screenshot/requests`: pending screenshot requests, each handed out once. */
  async handleScreenshotRequests(
    input: unknown,
  ): Promise<{ requests: { requestId: string; requestedBy?: string; requestedFrom?: string; silent?: boolean }[] }> {
    const req = parseInput(ScreenshotRequestsQuerySchema, input, '/screenshot/requests query');
    const session = await this.requireSession(req.sessionId);
    const pending = (session.screenshotRequests ?? []).filter((r) => !r.deliveredAt && !r.completedAt);
    if (pending.length === 0) return { requests: [] };
    const now = new Date();
    const list = (session.screenshotRequests ?? []).map((r) =>
      !r.deliveredAt && !r.completedAt ? { ...r, deliveredAt: now } : r,
    );
    await this.storageAccess.updateSession(session.id, { screenshotRequests: list });
    return { requests: pending.map(screenshotData) };
  }

  /** `POST /screenshot/upload`: starts uploading a screenshot an operator asked for. */
  async handleScreenshotUpload(
    input: unknown,
    ctx: RequestContext = {},
  ): Promise<{ attachmentId: string; uploadUrl: string; expiresAt: string; storageKey: string }> {
    const req = parseInput(ScreenshotUploadRequestSchema, input, '/screenshot/upload request');
    const session = await this.requireSession(req.sessionId);
    const request = (session.screenshotRequests ?? []).find((r) => r.requestId === req.requestId);
    if (!request || request.completedAt) {
      throw new PocketPingError(
        'SCREENSHOT_REQUEST_NOT_FOUND',
        `no open screenshot request ${req.requestId.slice(0, 80)} in this session`,
      );
    }
    if (!request.deliveredAt) {
      await this.storageAccess.updateSession(session.id, {
        screenshotRequests: (session.screenshotRequests ?? []).map((r) =>
          r.requestId === req.requestId ? { ...r, deliveredAt: new Date() } : r,
        ),
      });
    }
    return this.createPendingUpload(
      session,
      {
        filename: `screenshot-${new Date().toISOString().replace(/[:.]/g, '-')}.png`,
        mimeType: SCREENSHOT_MIME,
        size: this.settings.maxAttachmentSize,
        uploadedFrom: 'visitor',
      },
      ctx,
    );
  }

  /** `POST /screenshot/upload/complete`: posts the screenshot to the operators (and the chat unless silent). */
  async handleScreenshotUploadComplete(
    input: unknown,
    ctx: RequestContext = {},
  ): Promise<{ success: true; messageId: string | null; attachmentId: string; url: string }> {
    const req = parseInput(ScreenshotUploadCompleteRequestSchema, input, '/screenshot/upload/complete request');
    const session = await this.requireSession(req.sessionId);
    const request = (session.screenshotRequests ?? []).find((r) => r.requestId === req.requestId);
    if (!request)
      throw new PocketPingError(
        'SCREENSHOT_REQUEST_NOT_FOUND',
        `no screenshot request ${req.requestId.slice(0, 80)} in this session`,
      );
    const attachment = await this.completeUpload(session.id, req.attachmentId, ctx);
    if (request.completedAt)
      return { success: true, messageId: null, attachmentId: attachment.id, url: attachment.url };
    const current = (await this.storageAccess.getSession(session.id)) ?? session;
    await this.storageAccess.updateSession(session.id, {
      screenshotRequests: (current.screenshotRequests ?? []).map((r) =>
        r.requestId === req.requestId ? { ...r, completedAt: new Date() } : r,
      ),
    });
    let messageId: string | null = null;
    if (!request.silent) {
      const message = await this.createVisitorMessage(current, {
        content: '',
        attachmentIds: [attachment.id],
        metadata: { screenshot: true, requestId: request.requestId },
      });
      messageId = message.id;
    } else {
      await this.notice(current, `📸 Screenshot: ${attachment.url}`, { evenWithoutThread: true });
    }
    return { success: true, messageId, attachmentId: attachment.id, url: attachment.url };
  }

  /** `POST /disconnect` (beacon): the visitor left; tells the bridges. */
  async handleDisconnect(input: unknown): Promise<{ ok: true }> {
    const req = parseInput(DisconnectRequestSchema, input, '/disconnect request');
    const session = await this.requireSession(req.sessionId);
    const name = session.identity?.name ?? session.identity?.email ?? 'Visitor';
    if (req.duration !== undefined) {
      await this.notice(session, `👋 ${name} left (was here for ${formatDuration(req.duration)})`, {
        evenWithoutThread: false,
      });
    } else {
      await this.notice(session, `👋 ${name} left`, { evenWithoutThread: false });
    }
    if (this.hooks.onVisitorDisconnect)
      this.runSafely('onVisitorDisconnect', () => this.hooks.onVisitorDisconnect!(session, req.duration));
    this.emit({
      type: 'visitor.disconnected',
      session,
      ...(req.duration !== undefined ? { durationSeconds: req.duration } : {}),
    });
    return { ok: true };
  }

  /** `POST /visibility`: refreshes the session's last activity when the tab becomes visible. */
  async handleVisibility(input: unknown): Promise<{ ok: true }> {
    const req = parseInput(VisibilityRequestSchema, input, '/visibility request');
    if (!(await this.sessionExists(req.sessionId))) throw sessionNotFound(req.sessionId);
    if (req.state === 'visible') await this.storageAccess.updateSession(req.sessionId, { lastActivity: new Date() });
    return { ok: true };
  }

  /** Checks a widget version against the configured policy. */
  checkWidgetVersion(version: string | undefined): VersionCheckResult {
    return checkWidgetVersion(version, this.settings);
  }

  /** Pushes a `version_warning` to a session's widgets. */
  sendVersionWarning(sessionId: string, result: VersionCheckResult, currentVersion = 'unknown'): void {
    if (result.status === 'ok') return;
    const warning: VersionWarning = {
      severity: result.status === 'unsupported' ? 'error' : result.status === 'deprecated' ? 'warning' : 'info',
      message: result.message ?? `Widget version ${currentVersion} is ${result.status}`,
      currentVersion,
      canContinue: result.canContinue,
      ...(result.minVersion ? { minVersion: result.minVersion } : {}),
      ...(result.latestVersion ? { latestVersion: result.latestVersion } : {}),
      ...(this.settings.versionUpgradeUrl ? { upgradeUrl: this.settings.versionUpgradeUrl } : {}),
    };
    this.emitToSession(sessionId, { type: 'version_warning', data: warning });
  }

  // ───────────────────────────── operator API ─────────────────────────────

  /** Sessions, most recently active first. Needs a storage with `listSessions`. */
  getSessions(query: SessionQuery = {}): Promise<Session[]> {
    return this.storageAccess.listSessions({ limit: 50, ...query });
  }

  /** One session, or null. */
  getSession(sessionId: string): Promise<Session | null> {
    if (!isUrlSafeId(sessionId)) return Promise.resolve(null);
    return this.storageAccess.getSession(sessionId);
  }

  /** Messages of a session, ascending; `after` filters changes, `limit` keeps the newest. */
  getMessages(sessionId: string, query: MessageQuery = {}): Promise<Message[]> {
    return this.storageAccess.getMessages(sessionId, query);
  }

  /** Whether operators are shown online. */
  isOperatorOnline(): boolean {
    return this.operatorOnlineFlag;
  }

  /** Sets operator presence and pushes it to every open widget (on every instance). */
  setOperatorOnline(online: boolean): void {
    this.operatorOnlineFlag = online;
    this.hub.broadcast(toFrame({ type: 'presence', data: { online } }));
    if (!this.ownBus) this.publish({ kind: 'presence', origin: this.instanceId, online });
  }

  /**
   * Posts an operator (or AI) reply: stored, pushed to the widget in real time, and mirrored
   * into every bridge except the one it came from.
   */
  async sendMessage(sessionId: string, options: SendMessageOptions): Promise<Message> {
    const session = await this.requireSession(sessionId);
    const content = options.content ?? '';
    if (typeof content !== 'string') throw new ValidationError('content must be a string');
    const length = countChars(content);
    if (length > MAX_MESSAGE_LENGTH) {
      throw new ValidationError(`content is ${length} characters long; the limit is ${MAX_MESSAGE_LENGTH}`, {
        code: 'MESSAGE_TOO_LONG',
      });
    }
    if (content.trim().length === 0 && !(options.attachments && options.attachments.length > 0)) {
      throw new ValidationError('content must not be empty', { code: 'MESSAGE_EMPTY' });
    }
    let replyTo: string | undefined;
    if (options.replyTo) {
      const ref = await this.storageAccess.getMessage(session.id, options.replyTo);
      if (ref) replyTo = ref.id;
    }
    const sender = options.type === 'ai' ? 'ai' : 'operator';
    const now = monotonicNow(session.id);
    const id = generateId('msg');
    const message: Message = {
      id,
      sessionId: session.id,
      content,
      sender,
      timestamp: now,
      updatedAt: now,
      status: 'sent',
      source: options.sourceBridge ?? 'api',
    };
    // Optional fields are set only when present (no temporary objects on every reply).
    if (options.operatorName) message.operatorName = options.operatorName;
    if (replyTo) message.replyTo = replyTo;
    if (options.attachments && options.attachments.length > 0) {
      message.attachments = options.attachments.map((a) => ({ ...a, messageId: id }));
    }
    if (options.metadata) message.metadata = options.metadata;
    if (options.sourceBridge && options.platformMessageId) {
      message.bridgeMessageIds = { [options.sourceBridge]: options.platformMessageId };
    }
    const patch: Partial<Session> = { lastActivity: now };
    if (sender === 'operator') {
      patch.lastOperatorActivity = now;
      if (session.aiActive) patch.aiActive = false;
    }
    const saved = await this.storageAccess.saveMessageWithSession(message, patch);
    if (!saved) throw sessionNotFound(session.id);
    const stored = saved.message;
    const updated = saved.session;
    if (options.sourceBridge && options.platformMessageId) {
      await this.storageAccess.saveBridgeMessageId(session.id, id, options.sourceBridge, options.platformMessageId);
    }
    for (const a of options.attachments ?? []) {
      if (await this.storageAccess.getAttachment(a.id))
        await this.storageAccess.updateAttachment(a.id, { messageId: id });
    }
    this.clearOperatorTyping(session.id);
    await this.broadcastMessage(stored);
    await this.enqueueAll(
      session.id,
      {
        type: 'operator_message',
        messageId: id,
        ...(options.sourceBridge ? { sourceBridge: options.sourceBridge } : {}),
      },
      (b) => typeof b.onOperatorMessage === 'function' && b.name !== options.sourceBridge,
    );
    if (this.hooks.onMessage) this.runSafely('onMessage', () => this.hooks.onMessage!(stored, updated));
    this.emit({ type: 'message.created', message: stored, session: updated });
    return stored;
  }

  /** Same as `sendMessage(sessionId, { content, operatorName, sourceBridge })` (SDK name). */
  sendOperatorMessage(
    sessionId: string,
    content: string,
    sourceBridge?: string,
    operatorName?: string,
  ): Promise<Message> {
    return this.sendMessage(sessionId, {
      content,
      ...(sourceBridge ? { sourceBridge } : {}),
      ...(operatorName ? { operatorName } : {}),
    });
  }

  /** Edits an operator/AI message (from the API or a bridge) and syncs the other bridges. */
  async editOperatorMessage(
    sessionId: string,
    messageId: string,
    content: string,
    sourceBridge?: string,
  ): Promise<Message> {
    const session = await this.requireSession(sessionId);
    const m = await this.storageAccess.getMessage(session.id, messageId);
    if (!m)
      throw new PocketPingError(
        'MESSAGE_NOT_FOUND',
        `message ${messageId.slice(0, 80)} does not exist in this session`,
      );
    if (m.sender === 'visitor')
      throw new PocketPingError('MESSAGE_FORBIDDEN', 'operators cannot edit visitor messages');
    if (m.deletedAt) throw new PocketPingError('MESSAGE_DELETED', 'this message was already deleted');
    if (content.trim().length === 0) throw new ValidationError('content must not be empty', { code: 'MESSAGE_EMPTY' });
    if (countChars(content) > MAX_MESSAGE_LENGTH) {
      throw new ValidationError(`content is longer than ${MAX_MESSAGE_LENGTH} characters`, {
        code: 'MESSAGE_TOO_LONG',
      });
    }
    return this.applyEdit(session, m, content, sourceBridge);
  }

  /** Deletes an operator/AI message (soft) and syncs the other bridges. */
  async deleteOperatorMessage(sessionId: string, messageId: string, sourceBridge?: string): Promise<Message> {
    const session = await this.requireSession(sessionId);
    const m = await this.storageAccess.getMessage(session.id, messageId);
    if (!m)
      throw new PocketPingError(
        'MESSAGE_NOT_FOUND',
        `message ${messageId.slice(0, 80)} does not exist in this session`,
      );
    if (m.sender === 'visitor')
      throw new PocketPingError('MESSAGE_FORBIDDEN', 'operators cannot delete visitor messages');
    if (m.deletedAt) throw new PocketPingError('MESSAGE_DELETED', 'this message was already deleted');
    return this.applyDelete(session, m, sourceBridge);
  }

  /** The operator read the visitor's messages (all unread ones by default): ticks turn read. */
  async markVisitorMessagesRead(sessionId: string, messageIds?: string[]): Promise<number> {
    const session = await this.requireSession(sessionId);
    const list = messageIds
      ? (await Promise.all(messageIds.map((id) => this.storageAccess.getMessage(session.id, id)))).filter(
          (m): m is Message => m !== null,
        )
      : await this.storageAccess.getMessages(session.id, { limit: this.settings.historyLimit });
    const now = monotonicNow(session.id);
    const changed: string[] = [];
    let seq: number | undefined;
    for (const m of list) {
      if (m.sender !== 'visitor' || m.status === 'read' || m.deletedAt) continue;
      const u = await this.storageAccess.updateMessage(session.id, m.id, {
        status: 'read',
        readAt: now,
        ...(m.deliveredAt ? {} : { deliveredAt: now }),
        updatedAt: now,
      });
      seq = maxSeq(seq, u?.seq);
      changed.push(m.id);
    }
    if (changed.length > 0) {
      const iso = now.toISOString();
      this.emitToSession(
        session.id,
        {
          type: 'read',
          data: { sessionId: session.id, messageIds: changed, status: 'read', readAt: iso, deliveredAt: iso },
        },
        seq,
      );
    }
    return changed.length;
  }

  /** Shows (or hides) the operator typing indicator; it stops by itself after a few seconds. */
  setOperatorTyping(sessionId: string, isTyping: boolean): void {
    const existing = this.operatorTypingTimers.get(sessionId);
    if (existing) clearTimeout(existing);
    this.operatorTypingTimers.delete(sessionId);
    this.emitToSession(sessionId, { type: 'typing', data: { sessionId, sender: 'operator', isTyping } });
    this.emit({ type: 'operator.typing', sessionId, isTyping });
    if (isTyping) {
      const timer = setTimeout(() => {
        this.operatorTypingTimers.delete(sessionId);
        this.emitToSession(sessionId, { type: 'typing', data: { sessionId, sender: 'operator', isTyping: false } });
      }, this.settings.typingTimeoutMs);
      timer.unref?.();
      this.operatorTypingTimers.set(sessionId, timer);
    }
  }

  private clearOperatorTyping(sessionId: string): void {
    const timer = this.operatorTypingTimers.get(sessionId);
    if (!timer) return;
    clearTimeout(timer);
    this.operatorTypingTimers.delete(sessionId);
    this.emitToSession(sessionId, { type: 'typing', data: { sessionId, sender: 'operator', isTyping: false } });
  }

  /** Closes a session; bridges close its thread. A new visitor message reopens it. */
  async closeSession(sessionId: string): Promise<Session> {
    const session = await this.requireSession(sessionId);
    if (session.status === 'closed') return session;
    const updated = (await this.storageAccess.updateSession(session.id, {
      status: 'closed',
      closedAt: new Date(),
    })) ?? {
      ...session,
      status: 'closed' as const,
    };
    if (session.hasVisitorMessage) {
      await this.enqueueAll(session.id, { type: 'session_closed' }, (b) => typeof b.onSessionClosed === 'function');
    }
    this.emit({ type: 'session.closed', session: updated });
    return updated;
  }

  /** Sends a custom event to one session's widgets. */
  emitEvent(sessionId: string, name: string, data?: Record<string, unknown>): void {
    this.emitToSession(sessionId, {
      type: 'event',
      data: { name, ...(data ? { data } : {}), timestamp: new Date().toISOString(), sessionId },
    });
  }

  /** Sends a custom event to every connected widget. */
  broadcastEvent(name: string, data?: Record<string, unknown>): void {
    this.emitToAll({ type: 'event', data: { name, ...(data ? { data } : {}), timestamp: new Date().toISOString() } });
  }

  /** Replaces the tracked elements of every widget, live. */
  setTrackedElements(trackedElements: TrackedElement[]): void {
    this.settings.trackedElements = trackedElements;
    this.emitToAll({ type: 'config_update', data: { trackedElements } });
  }

  /**
   * Runs a custom event through the server-side pipeline as if the widget sent it: the
   * handlers for its name and `'*'`, the `onEvent` hook and the bridges.
   */
  async triggerEvent(
    sessionId: string,
    name: string,
    data?: Record<string, unknown>,
    timestamp?: string,
  ): Promise<void> {
    const session = await this.requireSession(sessionId);
    const event: CustomEvent = {
      name,
      ...(data ? { data } : {}),
      timestamp: timestamp && !Number.isNaN(Date.parse(timestamp)) ? timestamp : new Date().toISOString(),
      sessionId,
    };
    for (const key of [name, '*']) {
      for (const handler of this.customHandlers.get(key) ?? []) {
        this.runSafely(`event handler for ${name}`, () => handler(event, session));
      }
    }
    if (this.hooks.onEvent) this.runSafely('onEvent', () => this.hooks.onEvent!(event, session));
    if (session.hasVisitorMessage) {
      await this.enqueueAll(session.id, { type: 'custom_event', event }, (b) => typeof b.onCustomEvent === 'function');
    }
    this.emit({ type: 'custom_event', session, event });
  }

  /** Asks the visitor for a satisfaction rating (shown in WebSocket and SSE mode). */
  async requestCsat(sessionId: string): Promise<void> {
    const session = await this.requireSession(sessionId);
    if (session.csat?.score !== undefined) return;
    const requestedAt = new Date();
    await this.storageAccess.updateSession(session.id, { csat: { pending: true, requestedAt } });
    this.emitToSession(session.id, { type: 'csat_request', data: { requestedAt: requestedAt.toISOString() } });
  }

  /** Asks the visitor's widget for a screenshot of the page. */
  async requestScreenshot(
    sessionId: string,
    options: { requestedBy?: string; requestedFrom?: string; silent?: boolean } = {},
  ): Promise<ScreenshotRequest> {
    const session = await this.requireSession(sessionId);
    const request: ScreenshotRequest = {
      requestId: generateId('scr'),
      requestedAt: new Date(),
      ...(options.requestedBy ? { requestedBy: options.requestedBy } : {}),
      ...(options.requestedFrom ? { requestedFrom: options.requestedFrom } : {}),
      ...(options.silent ? { silent: true } : {}),
    };
    const list = [...(session.screenshotRequests ?? []).slice(-19), request];
    await this.storageAccess.updateSession(session.id, { screenshotRequests: list });
    this.emitToSession(session.id, { type: 'screenshot_request', data: screenshotData(request) });
    return request;
  }

  // ───────────────────────────── remote mode (central side) ─────────────────────────────

  /**
   * Creates or updates a session under a given id: an app in remote mode mirrors the sessions
   * of its own widget endpoints here, so this server's bridges can serve them.
   */
  async upsertSession(input: {
    id: string;
    visitorId: string;
    metadata?: Record<string, unknown>;
    identity?: UserIdentity;
  }): Promise<{ session: Session; created: boolean }> {
    if (!isUrlSafeId(input.id))
      throw new ValidationError('id must be a URL-safe id ([A-Za-z0-9_-], at most 128 characters)');
    const existing = await this.storageAccess.getSession(input.id);
    const metadata = (input.metadata ?? {}) as Session['metadata'];
    if (existing) {
      if (existing.visitorId !== input.visitorId) {
        throw new PocketPingError('MESSAGE_FORBIDDEN', 'this session id belongs to another visitor');
      }
      const identityChanged = input.identity && JSON.stringify(input.identity) !== JSON.stringify(existing.identity);
      const updated =
        (await this.storageAccess.updateSession(existing.id, {
          metadata: { ...existing.metadata, ...metadata },
          lastActivity: new Date(),
          ...(input.identity ? { identity: input.identity } : {}),
        })) ?? existing;
      if (identityChanged) await this.afterIdentityChange(updated, input.identity!);
      return { session: updated, created: false };
    }
    const now = monotonicNow(input.id);
    const session: Session = {
      id: input.id,
      visitorId: input.visitorId,
      createdAt: now,
      lastActivity: now,
      status: 'open',
      metadata,
      ...(input.identity ? { identity: input.identity } : {}),
    };
    await this.storageAccess.createSession(session);
    await this.enqueueAll(session.id, { type: 'new_session' }, (b) => typeof b.onNewSession === 'function');
    this.emit({ type: 'session.started', session });
    return { session, created: true };
  }

  /**
   * Stores a visitor message that was sent to another server (remote mode), keeping its id, and
   * hands it to the bridges. Idempotent: the same id twice stores it once.
   */
  async ingestVisitorMessage(
    sessionId: string,
    input: {
      id: string;
      content: string;
      replyTo?: string;
      attachments?: { id?: string; filename: string; mimeType: string; size: number; url: string }[];
    },
  ): Promise<Message> {
    const session = await this.requireSession(sessionId);
    if (!isUrlSafeId(input.id)) throw new ValidationError('id must be a URL-safe id');
    const existing = await this.storageAccess.getMessage(session.id, input.id);
    if (existing) return existing;
    const attachments: Attachment[] = (input.attachments ?? []).map((a) => ({
      id: a.id && isUrlSafeId(a.id) ? a.id : generateId('att'),
      sessionId: session.id,
      filename: sanitizeFilename(a.filename),
      mimeType: a.mimeType,
      size: a.size,
      url: a.url,
      status: 'ready',
      storageKey: '',
      uploadedFrom: 'remote',
      createdAt: new Date(),
    }));
    return this.createVisitorMessage(session, {
      id: input.id,
      content: input.content,
      attachmentIds: [],
      attachments,
      source: 'remote',
      ...(input.replyTo ? { replyTo: input.replyTo } : {}),
    });
  }

  /** Edits a visitor message on behalf of a remote app (the visitor edited it there). */
  async editVisitorMessage(sessionId: string, messageId: string, content: string): Promise<Message> {
    const session = await this.requireSession(sessionId);
    const message = await this.requireOwnMessage(session.id, messageId);
    return this.applyEdit(session, message, content, undefined);
  }

  /** Deletes a visitor message on behalf of a remote app. */
  async deleteVisitorMessage(sessionId: string, messageId: string): Promise<Message> {
    const session = await this.requireSession(sessionId);
    const message = await this.requireOwnMessage(session.id, messageId);
    return this.applyDelete(session, message, undefined);
  }

  // ───────────────────────────── bridges ─────────────────────────────

  private async notice(session: Session, text: string, options: { evenWithoutThread: boolean }): Promise<void> {
    if (!options.evenWithoutThread && !session.hasVisitorMessage) return;
    await this.enqueueAll(session.id, { type: 'notice', text }, (b) => typeof b.onNotice === 'function');
  }

  /** Queues a delivery for every matching bridge; resolves once the queue holds it (durable queues: written). */
  private async enqueueAll(
    sessionId: string,
    operation: DeliveryOperation,
    filter: (b: Bridge) => boolean,
  ): Promise<void> {
    const jobs = this.bridgeList.filter(filter).map((b) => ({ bridge: b.name, sessionId, operation }));
    if (jobs.length === 0) return;
    await this.queue.enqueue(jobs);
  }

  private async runDelivery(job: DeliveryJob): Promise<void> {
    const bridge = this.bridgeList.find((b) => b.name === job.bridge);
    if (!bridge) return;
    const session = await this.storageAccess.getSession(job.sessionId);
    if (!session) return;
    const op = job.operation;
    try {
      switch (op.type) {
        case 'new_session':
          await bridge.onNewSession?.(session);
          return;
        case 'visitor_message':
        case 'operator_message': {
          const m = await this.storageAccess.getMessage(session.id, op.messageId);
          if (!m || m.bridgeMessageIds?.[bridge.name]) return;
          // Deleted before it reached this bridge: nothing to post.
          if (m.deletedAt) return;
          const context: BridgeMessageContext = { idempotencyKey: job.id };
          if (m.replyTo) {
            const ref = await this.storageAccess.getMessage(session.id, m.replyTo);
            if (ref) {
              context.replyTo = ref;
              const pid = ref.bridgeMessageIds?.[bridge.name];
              if (pid) context.replyToPlatformMessageId = pid;
            }
          }
          if (op.type === 'operator_message') {
            if (op.sourceBridge) context.sourceBridge = op.sourceBridge;
            if (m.operatorName) context.operatorName = m.operatorName;
          }
          const hook = op.type === 'visitor_message' ? bridge.onVisitorMessage : bridge.onOperatorMessage;
          const result = await hook?.call(bridge, m, session, context);
          if (result && typeof result === 'object') {
            if (result.threadId && result.threadId !== session.bridgeThreads?.[bridge.name]) {
              await this.storageAccess.setBridgeThread(session.id, bridge.name, result.threadId);
            }
            if (result.platformMessageId) {
              await this.storageAccess.saveBridgeMessageId(
                session.id,
                m.id,
                bridge.name,
                String(result.platformMessageId),
              );
            }
          }
          if (op.type === 'visitor_message') await this.markDelivered(session.id, m.id);
          return;
        }
        case 'edit':
        case 'delete': {
          const m = await this.storageAccess.getMessage(session.id, op.messageId);
          const pid = m?.bridgeMessageIds?.[bridge.name];
          if (!m || !pid) return;
          if (op.type === 'edit') await bridge.onMessageEdit?.(m, session, pid);
          else await bridge.onMessageDelete?.(m, session, pid);
          return;
        }
        case 'identity':
          await bridge.onIdentityUpdate?.(session);
          return;
        case 'custom_event':
          await bridge.onCustomEvent?.(op.event, session);
          return;
        case 'session_closed':
          await bridge.onSessionClosed?.(session);
          return;
        case 'notice':
          await bridge.onNotice?.(session, op.text);
          return;
        case 'read':
          await bridge.onMessageRead?.(session, op.messageIds, op.status);
          return;
      }
    } catch (err) {
      if (err instanceof BridgeError || isPocketPingError(err)) throw err;
      throw new BridgeError(
        bridge.name,
        `${bridge.name}: ${op.type} failed: ${err instanceof Error ? err.message : String(err)}`,
        {
          cause: err,
        },
      );
    }
  }

  private async markDelivered(sessionId: string, messageId: string): Promise<void> {
    const m = await this.storageAccess.getMessage(sessionId, messageId);
    if (m?.status !== 'sent') return;
    const now = monotonicNow(sessionId);
    const u = await this.storageAccess.updateMessage(sessionId, messageId, {
      status: 'delivered',
      deliveredAt: now,
      updatedAt: now,
    });
    this.emitToSession(
      sessionId,
      {
        type: 'read',
        data: { sessionId, messageIds: [messageId], status: 'delivered', deliveredAt: now.toISOString() },
      },
      u?.seq,
    );
  }

  private bridgeContext(name: string): BridgeContext {
    const self = this;
    return {
      bridgeName: name,
      get publicUrl() {
        return self.settings.publicUrl ?? self.observedBaseUrl;
      },
      logger: this.logger,
      getSession: (id) => this.getSession(id),
      getMessage: (sessionId, messageId) =>
        isUrlSafeId(sessionId) && isUrlSafeId(messageId)
          ? this.storageAccess.getMessage(sessionId, messageId)
          : Promise.resolve(null),
      get maxAttachmentSize() {
        return self.settings.maxAttachmentSize;
      },
      findSessionByThread: (threadId) => this.storageAccess.findSessionByBridgeThread(name, threadId),
      setThread: (sessionId, threadId) => this.storageAccess.setBridgeThread(sessionId, name, threadId),
      findMessageByPlatformId: (pid) => this.storageAccess.findMessageByBridgeId(name, pid),
      operatorMessage: async (input: OperatorMessageInput) => {
        if (input.platformMessageId) {
          // The same platform message applied twice (a redelivered update, another instance
          // that polled it too) stays one message.
          const existing = await this.storageAccess.findMessageByBridgeId(name, input.platformMessageId);
          if (existing && existing.sessionId === input.sessionId) return existing;
        }
        let replyTo: string | undefined;
        if (input.replyToPlatformMessageId) {
          const ref = await this.storageAccess.findMessageByBridgeId(name, input.replyToPlatformMessageId);
          if (ref && ref.sessionId === input.sessionId) replyTo = ref.id;
        }
        return this.sendMessage(input.sessionId, {
          content: input.content,
          sourceBridge: name,
          ...(input.operatorName ? { operatorName: input.operatorName } : {}),
          ...(input.platformMessageId ? { platformMessageId: input.platformMessageId } : {}),
          ...(replyTo ? { replyTo } : {}),
          ...(input.attachments ? { attachments: input.attachments } : {}),
        });
      },
      operatorEdit: async ({ platformMessageId, content }) => {
        const m = await this.storageAccess.findMessageByBridgeId(name, platformMessageId);
        if (!m || m.sender === 'visitor' || m.deletedAt) return null;
        if (m.content === content) return m;
        return this.editOperatorMessage(m.sessionId, m.id, content, name);
      },
      operatorDelete: async ({ platformMessageId }) => {
        const m = await this.storageAccess.findMessageByBridgeId(name, platformMessageId);
        if (!m || m.sender === 'visitor' || m.deletedAt) return null;
        return this.deleteOperatorMessage(m.sessionId, m.id, name);
      },
      operatorTyping: async (sessionId, isTyping) => {
        this.setOperatorTyping(sessionId, isTyping);
      },
      operatorRead: async (sessionId, messageIds) => {
        await this.markVisitorMessagesRead(sessionId, messageIds);
      },
      closeSession: async (sessionId) => {
        await this.closeSession(sessionId);
      },
      storeFile: (sessionId, file) => this.storeFile(sessionId, file, name),
      singleton: (jobName, job, options) => this.singleton(`bridge:${name}:${jobName}`, job, options),
      firstDelivery: async (key) => this.firstDelivery(`${name}\u0000${key}`),
    };
  }

  private firstDelivery(key: string): boolean {
    const now = Date.now();
    const seen = this.seenDeliveries.get(key);
    if (seen !== undefined && seen > now) return false;
    if (this.seenDeliveries.size > 20_000) {
      for (const [k, exp] of this.seenDeliveries) if (exp <= now) this.seenDeliveries.delete(k);
      if (this.seenDeliveries.size > 20_000) this.seenDeliveries.clear();
    }
    this.seenDeliveries.set(key, now + 24 * 3600 * 1000);
    return true;
  }

  /** Saves a file from a bridge (or the API) as a ready attachment of the session. */
  async storeFile(sessionId: string, file: IncomingFile, uploadedFrom = 'operator'): Promise<Attachment> {
    const session = await this.requireSession(sessionId);
    const store = this.requireAttachmentStore();
    const id = generateId('att');
    const storageKey = `${session.id}/${id}`;
    const filename = sanitizeFilename(file.filename);
    const info = await store.put(storageKey, file.data, {
      mimeType: file.mimeType,
      maxBytes: this.settings.maxAttachmentSize,
    });
    const draft: Attachment = {
      id,
      sessionId: session.id,
      filename,
      mimeType: file.mimeType || 'application/octet-stream',
      size: info.size,
      url: '',
      status: 'ready',
      storageKey,
      uploadedFrom,
      createdAt: new Date(),
      ...(file.bridgeFileId ? { bridgeFileId: file.bridgeFileId } : {}),
    };
    const url = this.fileUrl(store, draft);
    const attachment: Attachment = {
      ...draft,
      url,
      ...(draft.mimeType.startsWith('image/') ? { thumbnailUrl: url } : {}),
    };
    await this.storageAccess.saveAttachment(attachment);
    return attachment;
  }

  // ───────────────────────────── helpers ─────────────────────────────

  private async requireSession(sessionId: string): Promise<Session> {
    const session = isUrlSafeId(sessionId) ? await this.storageAccess.getSession(sessionId) : null;
    if (!session) throw sessionNotFound(sessionId);
    return session;
  }

  private requireAttachmentStore(): AttachmentStore {
    if (!this.attachmentStoreRef) {
      throw new PocketPingError(
        'ATTACHMENTS_UNAVAILABLE',
        'file uploads are not configured on this server (no attachment store); pass attachmentStore to PocketPing',
      );
    }
    return this.attachmentStoreRef;
  }

  private observeBaseUrl(baseUrl: string | undefined): void {
    if (!baseUrl || baseUrl === this.observedBaseUrlFrom || this.settings.publicUrl) return;
    this.observedBaseUrlFrom = baseUrl;
    this.observedBaseUrl = baseUrl.replace(/\/+$/, '');
  }

  private requireBaseUrl(ctx: RequestContext = {}): string {
    const base = this.settings.publicUrl ?? ctx.baseUrl ?? this.observedBaseUrl;
    if (!base) {
      throw new PocketPingError(
        'ATTACHMENTS_UNAVAILABLE',
        'the public URL of this server is unknown, so file URLs cannot be built; set publicUrl',
      );
    }
    return base.replace(/\/+$/, '');
  }

  private buildMetadata(raw: Record<string, unknown>, ctx: RequestContext): Session['metadata'] {
    const meta: Session['metadata'] = {};
    for (const key of WIDGET_METADATA_KEYS) {
      const v = stringField(raw[key]);
      if (v) meta[key] = v;
    }
    const signals = raw.botSignals;
    if (signals && typeof signals === 'object' && !Array.isArray(signals)) {
      const out: Record<string, boolean> = {};
      for (const [k, v] of Object.entries(signals).slice(0, 20)) if (typeof v === 'boolean') out[k.slice(0, 50)] = v;
      meta.botSignals = out;
    }
    // Other keys the host page adds are kept while small; they are the integrator's data.
    let extraBudget = 4096;
    for (const k of Object.keys(raw)) {
      if (k in meta || k === 'botSignals' || SERVER_METADATA_KEYS.has(k)) continue;
      const v = raw[k];
      const size = k.length + (JSON.stringify(v)?.length ?? 0);
      if (size > extraBudget) continue;
      extraBudget -= size;
      meta[k] = v;
    }
    if (ctx.ip) meta.ip = ctx.ip;
    const ua = meta.userAgent ?? ctx.userAgent;
    Object.assign(meta, parseUserAgent(ua));
    return meta;
  }

  private async broadcastMessage(message: Message): Promise<void> {
    const [wire] = await this.toWireMessages([message]);
    this.emitToSession(message.sessionId, { type: 'message', data: wire! }, message.seq);
  }

  /** Converts stored messages to the widget's shape, with reply quotes in object form. */
  async toWireMessages(messages: Message[]): Promise<WireMessage[]> {
    const byId = new Map(messages.map((m) => [m.id, m]));
    const out: WireMessage[] = [];
    for (const m of messages) {
      let ref: Message | null | undefined;
      if (m.replyTo) {
        ref = byId.get(m.replyTo);
        if (!ref) {
          ref = await this.storageAccess.getMessage(m.sessionId, m.replyTo);
          if (ref) byId.set(ref.id, ref);
        }
      }
      out.push(toWireMessage(m, ref));
    }
    return out;
  }
}

function screenshotData(r: ScreenshotRequest): {
  requestId: string;
  requestedBy?: string;
  requestedFrom?: string;
  silent?: boolean;
} {
  return {
    requestId: r.requestId,
    ...(r.requestedBy ? { requestedBy: r.requestedBy } : {}),
    ...(r.requestedFrom ? { requestedFrom: r.requestedFrom } : {}),
    ...(r.silent ? { silent: true } : {}),
  };
}

function sessionNotFound(sessionId: string): PocketPingError {
  return new PocketPingError(
    'SESSION_NOT_FOUND',
    `session ${String(sessionId).slice(0, 80)} does not exist; call POST /connect to start one`,
  );
}

function constantTimeEqualStrings(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** Counts user-visible characters (code points), so emoji count as one. */
function countChars(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) i++;
    n++;
  }
  return n;
}

function sanitizeFilename(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? 'file';
  // Control characters and quotes would break Content-Disposition headers and chat markup.
  const clean = base.replace(/[\u0000-\u001f\u007f"<>]/g, '').trim();
  return (clean || 'file').slice(0, 255);
}

/** Metadata a returning visitor's /connect cannot replace once stored: the ip and the geo derived from it. */
const KEPT_METADATA_KEYS = ['ip', 'country', 'city'] as const;
/** Replay window of a stream that opens without any cursor or resume record. */
const RECENT_REPLAY_MS = 120_000;
/** Resume records older than this are dropped (a WebSocket reopens within seconds or minutes). */
const RESUME_RECORD_TTL_MS = 24 * 60 * 60 * 1000;
/** A socket opening this soon after the session's last activity (its page's /connect) is a new tab. */
const FRESH_PAGE_MS = 15_000;
/** At most this many resume records per session (one per recently closed socket). */
const MAX_RESUME_RECORDS = 16;

/** The larger of two optional sequence numbers. */
function maxSeq(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}
