import type { Attachment, CustomEvent, Message, Session } from './models.js';
import type { SingletonJob, SingletonOptions } from './leases.js';
import type { Logger } from './logger.js';

/** What a bridge reports after posting something on its platform. */
export interface BridgeSendResult {
  /** The platform's id of the posted message (Telegram message_id, Slack ts, Discord id). */
  platformMessageId: string;
  /**
   * The thread/topic the message went into, when the bridge created or replaced it (e.g. the
   * topic was deleted by an admin and recreated). PocketPing stores it on the session.
   */
  threadId?: string;
}

/** Extra facts handed to `onVisitorMessage` / `onOperatorMessage`. */
export interface BridgeMessageContext {
  /** The message replied to, when there is one. */
  replyTo?: Message;
  /** The replied-to message's id on this bridge's platform, when known. */
  replyToPlatformMessageId?: string;
  /** For operator messages: the bridge the reply came from (absent for API/inbox replies). */
  sourceBridge?: string;
  /** For operator messages: the operator's display name. */
  operatorName?: string;
  /**
   * Stable across retries of this delivery: pass it to platforms that deduplicate (e.g. Discord's
   * message `nonce`) so a retry after a lost answer never posts twice.
   */
  idempotencyKey?: string;
}

/** An HTTP request for a bridge's inbound webhook, framework-free. */
export interface BridgeWebhookRequest {
  method: string;
  /** Header names are lower-case. */
  headers: Record<string, string | undefined>;
  /** The exact bytes received (signature checks need them). */
  rawBody: string;
  /** Parsed JSON or form body, when the server could parse one. */
  body: unknown;
  query: Record<string, string | undefined>;
}

/** What the server sends back for a bridge webhook request. */
export interface BridgeWebhookResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A webhook a bridge receives, mounted by the server at `{prefix}/webhooks/{path}`. */
export interface BridgeWebhook {
  /** Path segment under `{prefix}/webhooks/`, e.g. `telegram`. */
  path: string;
  /** Verifies and handles one request. Must answer fast; long work continues afterwards. */
  handle(request: BridgeWebhookRequest): Promise<BridgeWebhookResponse>;
}

/** A file a bridge downloaded from its platform, to store as an attachment. */
export interface IncomingFile {
  filename: string;
  mimeType: string;
  data: Uint8Array;
  /** The platform's own file id. */
  bridgeFileId?: string;
}

/** An operator message coming in from a platform. */
export interface OperatorMessageInput {
  sessionId: string;
  content: string;
  operatorName?: string;
  /** Platform id of the operator's message, stored for later edits and deletes. */
  platformMessageId?: string;
  /** Platform id of the message the operator replied to. */
  replyToPlatformMessageId?: string;
  /** Files already stored with `ctx.storeFile`. */
  attachments?: Attachment[];
}

/**
 * What PocketPing hands a bridge at `init`: the way back into core for everything the
 * operator does on the platform.
 */
export interface BridgeContext {
  /** This bridge's name (as registered). */
  readonly bridgeName: string;
  /** Absolute base URL of the widget endpoints (`server.publicUrl` + prefix), when known. */
  readonly publicUrl?: string;
  readonly logger: Logger;
  getSession(sessionId: string): Promise<Session | null>;
  /** The session whose thread on this bridge is `threadId`. */
  findSessionByThread(threadId: string): Promise<Session | null>;
  /** Stores the thread of a session on this bridge (or forgets it with `null`). */
  setThread(sessionId: string, threadId: string | null): Promise<void>;
  /** One message of a session (e.g. the message a reply quotes), or null. */
  getMessage(sessionId: string, messageId: string): Promise<Message | null>;
  /** Largest file `storeFile` accepts, in bytes: skip bigger platform files before downloading. */
  readonly maxAttachmentSize: number;
  /** Our message that has `platformMessageId` on this bridge. */
  findMessageByPlatformId(platformMessageId: string): Promise<Message | null>;
  /** An operator reply: stored, pushed to the widget, mirrored to the other bridges. */
  operatorMessage(input: OperatorMessageInput): Promise<Message>;
  /** An operator edit of a message they sent on this platform. */
  operatorEdit(input: { platformMessageId: string; content: string }): Promise<Message | null>;
  /** An operator delete of a message they sent on this platform. */
  operatorDelete(input: { platformMessageId: string }): Promise<Message | null>;
  /** Operator typing in the session's thread; PocketPing sends the stop by itself. */
  operatorTyping(sessionId: string, isTyping: boolean): Promise<void>;
  /** The operator saw the visitor's messages (all unread ones when `messageIds` is omitted). */
  operatorRead(sessionId: string, messageIds?: string[]): Promise<void>;
  /** Closes a session (e.g. a `/close` command). */
  closeSession(sessionId: string): Promise<void>;
  /** Saves a downloaded file into the attachment store and returns a ready attachment. */
  storeFile(sessionId: string, file: IncomingFile): Promise<Attachment>;
  /**
   * Runs `job` on exactly one of the instances sharing the storage (e.g. Telegram long polling,
   * the Discord Gateway): `start` when this instance gains the lease, `stop` when it loses it or
   * PocketPing closes. With a single instance, `start` runs right away.
   */
  singleton(name: string, job: SingletonJob, options?: SingletonOptions): { readonly isLeader: boolean };
  /**
   * True the first time `key` is seen (within a retention window), false after: apply each
   * inbound update once even when the platform delivers it twice.
   */
  firstDelivery(key: string): Promise<boolean>;
}

/**
 * A channel to the operators' messaging app. Only `name` is required; implement the hooks the
 * platform supports. Hooks that post something are called in order per session and retried by
 * PocketPing when they throw (throw `BridgeError` with `retryAfterMs` for a rate limit, or
 * `retryable: false` when retrying cannot help).
 *
 * @example
 * ```ts
 * const consoleBridge: Bridge = {
 *   name: 'console',
 *   async onVisitorMessage(message, session) {
 *     console.log(`[${session.id}] ${message.content}`);
 *     return { platformMessageId: message.id };
 *   },
 * };
 * ```
 */
export interface Bridge {
  /** Unique name per PocketPing instance; the key of stored thread and message ids. */
  readonly name: string;
  /** Starts the bridge (validate credentials, start polling, ...). Throw `SetupError` when misconfigured. */
  init?(ctx: BridgeContext): Promise<void> | void;
  /** Stops everything `init` started. Safe to call twice. */
  close?(): Promise<void> | void;
  /** Validates configuration and credentials without starting anything (`pocketping-server check`). */
  check?(): Promise<void>;
  /** Inbound webhook served by the server, if this bridge receives updates by webhook. */
  readonly webhook?: BridgeWebhook;

  /** A session started (page view). Bridges should not open a thread yet. */
  onNewSession?(session: Session): Promise<void> | void;
  /** A visitor message; the bridge opens the session's thread on first use. */
  onVisitorMessage?(
    message: Message,
    session: Session,
    context: BridgeMessageContext,
  ): Promise<BridgeSendResult | undefined | void>;
  /** An operator or AI message (from the API, another bridge or the AI), to mirror here. */
  onOperatorMessage?(
    message: Message,
    session: Session,
    context: BridgeMessageContext,
  ): Promise<BridgeSendResult | undefined | void>;
  /** A message that this bridge posted as `platformMessageId` was edited. */
  onMessageEdit?(message: Message, session: Session, platformMessageId: string): Promise<void> | void;
  /** A message that this bridge posted as `platformMessageId` was deleted. */
  onMessageDelete?(message: Message, session: Session, platformMessageId: string): Promise<void> | void;
  /** The visitor is typing (throttled by PocketPing; at most one call per few seconds). */
  onTyping?(session: Session, isTyping: boolean): Promise<void> | void;
  /** The visitor read operator messages. */
  onMessageRead?(session: Session, messageIds: string[], status: 'delivered' | 'read'): Promise<void> | void;
  /** The visitor's identity (or pre-chat answers) changed. */
  onIdentityUpdate?(session: Session): Promise<void> | void;
  /** A custom event from the widget. */
  onCustomEvent?(event: CustomEvent, session: Session): Promise<void> | void;
  /** The session was closed. */
  onSessionClosed?(session: Session): Promise<void> | void;
  /** The session was erased (retention or a privacy request): remove its thread where the platform allows. */
  onSessionErased?(session: Session): Promise<void> | void;
  /** A one-line notice for the session's thread ("visitor left", a CSAT rating, ...). */
  onNotice?(session: Session, text: string): Promise<void> | void;
}

/** Label/value pairs that describe a session, shared by every bridge's session card. */
export interface SessionCard {
  /** Short thread title: identity name or email once known, else a visitor label and the page. */
  title: string;
  fields: { label: string; value: string }[];
}

/** Builds the session card and thread title, so every bridge shows the same facts. */
export function describeSession(session: Session): SessionCard {
  const identity = session.identity;
  const meta = session.metadata ?? {};
  const who = identity?.name || identity?.email || session.preChat?.email || session.preChat?.phone || undefined;
  let page = '';
  if (meta.url) {
    try {
      const u = new URL(meta.url);
      page = u.pathname === '/' ? u.host : `${u.host}${u.pathname}`;
    } catch {
      page = meta.url;
    }
  }
  const label = `Visitor ${session.visitorId.replace(/[^A-Za-z0-9]/g, '').slice(-6) || session.id.slice(-6)}`;
  const title = (who ?? (page ? `${label} · ${page}` : label)).slice(0, 120);
  const fields: { label: string; value: string }[] = [];
  if (identity?.name) fields.push({ label: 'Name', value: identity.name });
  if (identity?.email) fields.push({ label: 'Email', value: identity.email });
  if (identity?.id) fields.push({ label: 'User ID', value: identity.id });
  if (session.preChat?.email && session.preChat.email !== identity?.email)
    fields.push({ label: 'Email', value: session.preChat.email });
  if (session.preChat?.phone) fields.push({ label: 'Phone', value: session.preChat.phone });
  if (meta.url) fields.push({ label: 'Page', value: meta.url });
  if (meta.pageTitle) fields.push({ label: 'Title', value: meta.pageTitle });
  if (meta.referrer) fields.push({ label: 'Referrer', value: meta.referrer });
  if (meta.language) fields.push({ label: 'Language', value: meta.language });
  if (meta.timezone) fields.push({ label: 'Timezone', value: meta.timezone });
  const device = [meta.browser, meta.os, meta.deviceType].filter(Boolean).join(' · ');
  if (device) fields.push({ label: 'Device', value: device });
  const place = [meta.city, meta.country].filter(Boolean).join(', ');
  if (place) fields.push({ label: 'Location', value: place });
  fields.push({ label: 'Session', value: session.id });
  return { title, fields };
}
