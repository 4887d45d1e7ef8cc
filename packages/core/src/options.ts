import { z } from 'zod';
import type { AttachmentStore } from './attachment-store.js';
import type { Bridge } from './bridge.js';
import type { DeliveryQueue } from './delivery.js';
import type { EventBus } from './event-bus.js';
import type { Logger } from './logger.js';
import {
  type CsatState,
  type CustomEvent,
  type Message,
  PreChatFormOptionsSchema,
  type Session,
  TrackedElementSchema,
} from './models.js';
import { OutgoingWebhookSchema } from './outgoing-webhooks.js';
import { SecuritySchema } from './security.js';
import type { Storage } from './storage.js';

/** Default MIME allow-list for uploads. `type/*` patterns match a whole family. */
export const DEFAULT_ALLOWED_MIME_TYPES: readonly string[] = [
  'image/*',
  'audio/*',
  'video/*',
  'application/pdf',
  'text/plain',
  'text/csv',
  'application/zip',
  'application/msword',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.ms-excel',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.ms-powerpoint',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  'application/json',
  // The widget sends this for files the browser cannot type; refusing it breaks common uploads.
  'application/octet-stream',
];

const fn = <T>() => z.custom<T>((v) => typeof v === 'function', { message: 'must be a function' });

/** Colors and names the widget shows; sent on `/connect` and applied when truthy. */
export const BrandingSchema = z.looseObject({
  operatorName: z.string().optional(),
  operatorAvatar: z.string().optional(),
  primaryColor: z.string().optional(),
  headerColor: z.unknown().optional(),
  toggleColor: z.unknown().optional(),
  footerColor: z.unknown().optional(),
  chatBackground: z.unknown().optional(),
});

/** The plain-data part of the PocketPing options, validated with zod; defaults live here. */
export const PocketPingSettingsSchema = z.strictObject({
  /** Shown by the widget while the history is empty; never stored as a message. */
  welcomeMessage: z.string().max(4000).optional(),
  /** Widget branding overrides sent on `/connect`. */
  branding: BrandingSchema.default({}),
  /** When offline: true shows "Replies in a few minutes", false "Leave a message". @default true */
  operatorReachable: z.boolean().default(true),
  /** Operators start online. @default false */
  operatorOnline: z.boolean().default(false),
  /** Pre-chat form; off unless `enabled`. */
  preChatForm: PreChatFormOptionsSchema.optional(),
  /** CSS-selector trackers installed in every widget. */
  trackedElements: z.array(TrackedElementSchema).optional(),
  /** Absolute base URL of the widget endpoints, e.g. `https://chat.example.com/pocketping`. */
  publicUrl: z.string().url().optional(),
  /** Widgets older than this are refused with 426. */
  minWidgetVersion: z.string().optional(),
  /** Widgets older than this get an `outdated` notice on `/connect`. */
  latestWidgetVersion: z.string().optional(),
  versionWarningMessage: z.string().optional(),
  versionUpgradeUrl: z.string().optional(),
  /** Largest upload in bytes. @default 10485760 (10 MiB) */
  maxAttachmentSize: z
    .number()
    .int()
    .positive()
    .default(10 * 1024 * 1024),
  /** Allowed upload MIME types; `image/*` style patterns allowed. */
  allowedMimeTypes: z.array(z.string()).default([...DEFAULT_ALLOWED_MIME_TYPES]),
  /** How long an upload URL stays valid, in seconds. @default 900 */
  uploadUrlTtlSeconds: z.number().int().positive().default(900),
  /** Messages sent on `/connect` (the newest ones). @default 500 */
  historyLimit: z.number().int().positive().max(10_000).default(500),
  /** Clock-skew slack subtracted from `after`, in milliseconds. @default 5000 */
  afterSlackMs: z.number().int().nonnegative().default(5000),
  /** At most one visitor typing call per session to the bridges in this window. @default 3000 */
  typingThrottleMs: z.number().int().nonnegative().default(3000),
  /** Typing indicators stop by themselves after this long without a pulse. @default 5000 */
  typingTimeoutMs: z.number().int().positive().default(5000),
  /** Remote mode: endpoint base of a central pocketping-server that owns the bridges. */
  bridgeUrl: z.string().url('bridgeUrl must be the absolute endpoint base of the central server').optional(),
  /** Remote mode: the central server's admin API key. */
  apiKey: z.string().min(16, 'apiKey must be at least 16 characters').optional(),
  /** Remote mode: how replies come back (`stream` or `webhook`). @default 'stream' */
  bridgeReceive: z.enum(['stream', 'webhook', 'none']).optional(),
  /** Remote mode with `bridgeReceive: webhook`: the central server's webhook secret. */
  bridgeWebhookSecret: z.string().optional(),
  /** Outgoing webhooks: session and message events POSTed to your URLs, HMAC-signed. */
  webhooks: z.array(OutgoingWebhookSchema).default([]),
  /** SDK-style single webhook (same as one entry in `webhooks`). */
  webhookUrl: z.string().url().optional(),
  /** Secret of `webhookUrl`. */
  webhookSecret: z.string().optional(),
  /** Timeout of `webhookUrl` requests in milliseconds. */
  webhookTimeout: z.number().int().positive().optional(),
  /** Delete sessions inactive for this many days, with their files and (where the platform allows) threads. */
  retentionDays: z.number().int().positive().optional(),
  /** How often retention runs. @default 3600000 (1 hour) */
  retentionIntervalMs: z.number().int().positive().default(3_600_000),
  /** Abuse protection: rate limits, IP and User-Agent filters, headless refusal, signed identities. */
  security: SecuritySchema.default(SecuritySchema.parse({})),
  /** Retry policy of bridge deliveries. */
  delivery: z
    .object({
      maxAttempts: z.number().int().positive().default(12),
      baseDelayMs: z.number().int().nonnegative().default(500),
      maxDelayMs: z.number().int().positive().default(60_000),
      /** Durable outbox: how long a worker holds a claimed delivery (a crashed worker's deliveries wait this long). */
      leaseMs: z.number().int().positive().default(60_000),
      /** Durable outbox: how often idle workers look for due deliveries. */
      pollMs: z.number().int().positive().default(250),
    })
    .default({ maxAttempts: 12, baseDelayMs: 500, maxDelayMs: 60_000, leaseMs: 60_000, pollMs: 250 }),
});
/** Plain-data settings, after defaults. */
export type PocketPingSettings = z.output<typeof PocketPingSettingsSchema>;

/** Lifecycle hooks. Errors thrown by hooks are logged and never break a request. */
export interface PocketPingHooks {
  /** A new session started (a first page view, not yet a message). */
  onNewSession?: (session: Session) => void | Promise<void>;
  /** Alias of `onNewSession`. */
  onSessionStart?: (session: Session) => void | Promise<void>;
  /** A message was stored (visitor, operator or AI). */
  onMessage?: (message: Message, session: Session) => void | Promise<void>;
  /** A custom event arrived from a widget. */
  onEvent?: (event: CustomEvent, session: Session) => void | Promise<void>;
  /** A visitor was identified. */
  onIdentify?: (session: Session) => void | Promise<void>;
  /** A visitor left the page. */
  onVisitorDisconnect?: (session: Session, durationSeconds?: number) => void | Promise<void>;
  /** A satisfaction rating arrived. */
  onCsat?: (session: Session, csat: CsatState) => void | Promise<void>;
  /** Decides whether an inspector token from `?pp_inspector=` is valid. */
  validateInspectorToken?: (token: string, session: Session) => boolean | Promise<boolean>;
}

/**
 * Options of `new PocketPing({...})`.
 *
 * @example
 * ```ts
 * const pp = new PocketPing({
 *   storage: new MemoryStorage(),
 *   bridges: [new TelegramBridge({ token, chatId })],
 *   welcomeMessage: 'Hi! How can we help?',
 *   onMessage: (message) => console.log(message.content),
 * });
 * ```
 */
export type PocketPingOptions = z.input<typeof PocketPingSettingsSchema> &
  PocketPingHooks & {
    /** Where sessions and messages live. @default new MemoryStorage() */
    storage?: Storage | 'memory';
    /** Channels to the operators. */
    bridges?: Bridge[];
    /** Carries realtime events between instances. @default an in-process bus */
    eventBus?: EventBus;
    /** Where bridge deliveries wait and retry. @default an in-memory queue */
    deliveryQueue?: DeliveryQueue;
    /** Where uploaded bytes live. Without one, uploads are refused with `ATTACHMENTS_UNAVAILABLE`. */
    attachmentStore?: AttachmentStore;
    /** pino-style logger. @default warnings and errors to the console */
    logger?: Logger;
    /** Distinguishes this process on the event bus. @default a random id */
    instanceId?: string;
  };

export const HookSchemas = {
  onNewSession: fn(),
  onSessionStart: fn(),
  onMessage: fn(),
  onEvent: fn(),
  onIdentify: fn(),
  onVisitorDisconnect: fn(),
  onCsat: fn(),
  validateInspectorToken: fn(),
};

/** True when `mimeType` matches one of the patterns (`image/*` or exact). */
export function mimeAllowed(mimeType: string, patterns: readonly string[]): boolean {
  const type = mimeType.toLowerCase().split(';')[0]!.trim();
  return patterns.some((p) => {
    const pat = p.toLowerCase();
    if (pat === '*/*' || pat === '*') return true;
    if (pat.endsWith('/*')) return type.startsWith(pat.slice(0, -1));
    return type === pat;
  });
}
