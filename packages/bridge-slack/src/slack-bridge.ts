import type { ConversationsRepliesResponse } from '@slack/web-api';
import {
  type Bridge,
  BridgeError,
  type BridgeContext,
  type BridgeMessageContext,
  type BridgeSendResult,
  type BridgeWebhook,
  consoleLogger,
  describeSession,
  type Logger,
  type Message,
  type Session,
} from '@pocketping/core';
import { type Logger as SlackLogger, LogLevel, type RetryOptions, WebClient } from '@slack/web-api';
import { SlackEventsReceiver } from './events-receiver.js';
import { cardBlocks, cardFallback, escapeText, operatorText, type SlackBlock, visitorText } from './format.js';
import { postToIncomingWebhook } from './incoming-webhook.js';
import {
  PACKAGE_NAME,
  parseSlackBridgeOptions,
  type ResolvedSlackBridgeOptions,
  type SlackBridgeOptions,
} from './options.js';
import { type BotIdentity, missingOptionsError, validateBotSetup } from './setup.js';
import { platformErrorCode, toBridgeError } from './slack-errors.js';
import { UserNameCache } from './user-names.js';

const DEFAULT_API_URL = 'https://slack.com/api/';

/**
 * Retries the WebClient does by itself (network errors, 5xx, and 429s, where it waits the
 * Retry-After first). Kept short: once they are used up the bridge throws a `BridgeError`
 * (with `retryAfterMs` for a rate limit) and core's delivery queue retries the job later, in order.
 */
const RETRY_CONFIG: RetryOptions = { retries: 3, factor: 2, minTimeout: 250, maxTimeout: 2000 };

/** Options of `SlackBridge.webhook`. */
export type SlackWebhookModeOptions = Omit<
  SlackBridgeOptions,
  'webhookUrl' | 'botToken' | 'channelId' | 'signingSecret'
>;

/** Options of `SlackBridge.bot`. */
export type SlackBotModeOptions = Omit<SlackBridgeOptions, 'webhookUrl' | 'botToken' | 'channelId'>;

/**
 * The Slack bridge: each conversation is a message in one channel (the session card) and its
 * thread. In bot mode operators answer in the thread (Events API) and edits and deletes sync both
 * ways; in webhook mode the bridge only posts.
 *
 * @example
 * ```ts
 * const slack = new SlackBridge({
 *   botToken: process.env.SLACK_BOT_TOKEN,
 *   channelId: 'C0123456789',
 *   signingSecret: process.env.SLACK_SIGNING_SECRET,
 * });
 * const pp = new PocketPing({ storage, bridges: [slack] });
 * // Slack's Request URL: https://your-host/pocketping/webhooks/slack
 * ```
 */
export class SlackBridge implements Bridge {
  /** Bridge name (option `name`). */
  readonly name: string;
  /** `bot` (token + channel) or `webhook` (incoming webhook, posts only). */
  readonly mode: 'bot' | 'webhook';
  /** The Events API endpoint (bot mode only), mounted by the server at `{prefix}/webhooks/{path}`. */
  readonly webhook?: BridgeWebhook;

  private readonly options: ResolvedSlackBridgeOptions;
  private ctx?: BridgeContext;
  private clientRef?: WebClient;
  private identity: BotIdentity = {};
  private readonly receiver?: SlackEventsReceiver;
  private readonly users: UserNameCache;

  /**
   * Builds the bridge; no I/O (credentials are checked by `init` and `check`).
   * @throws ValidationError (`CONFIG_INVALID`) when an option has the wrong shape.
   *
   * @example
   * ```ts
   * new SlackBridge({ webhookUrl: 'https://hooks.slack.com/services/T000/B000/XXXX' });
   * new SlackBridge({ botToken: 'xoxb-...', channelId: 'C0123456789', signingSecret: '...' });
   * ```
   */
  constructor(options: SlackBridgeOptions) {
    this.options = parseSlackBridgeOptions(options);
    this.name = this.options.name;
    this.mode = this.options.webhookUrl ? 'webhook' : 'bot';
    this.users = new UserNameCache(
      () => this.client(),
      () => this.logger(),
    );
    if (this.mode === 'bot') {
      const receiver = new SlackEventsReceiver({
        channelId: this.options.channelId ?? '',
        signingSecret: this.options.signingSecret ?? '',
        botToken: this.options.botToken ?? '',
        ...(this.options.apiUrl ? { apiOrigin: new URL(this.options.apiUrl).origin } : {}),
        context: () => this.ctx,
        identity: () => this.identity,
        logger: () => this.logger(),
        users: this.users,
      });
      this.receiver = receiver;
      this.webhook = {
        path: this.name,
        handle: (request) => {
          // Without a signing secret nothing can be verified, so nothing is accepted.
          if (!this.options.signingSecret)
            return Promise.resolve({ status: 401, body: { error: 'no signing secret' } });
          return receiver.handle(request);
        },
      };
    }
  }

  /**
   * A webhook-mode bridge: posts to an incoming webhook; no edits, deletes or operator replies.
   *
   * @example
   * ```ts
   * const slack = SlackBridge.webhook(process.env.SLACK_WEBHOOK_URL!);
   * ```
   */
  static webhook(url: string, options: SlackWebhookModeOptions = {}): SlackBridge {
    return new SlackBridge({ ...options, webhookUrl: url });
  }

  /**
   * A bot-mode bridge. Pass `signingSecret` in `options` to receive operator replies.
   *
   * @example
   * ```ts
   * const slack = SlackBridge.bot(process.env.SLACK_BOT_TOKEN!, 'C0123456789', {
   *   signingSecret: process.env.SLACK_SIGNING_SECRET,
   * });
   * ```
   */
  static bot(token: string, channelId: string, options: SlackBotModeOptions = {}): SlackBridge {
    return new SlackBridge({ ...options, botToken: token, channelId });
  }

  // ───────────────────────────── lifecycle ─────────────────────────────

  /** Checks the configuration against Slack (bot mode) and starts receiving events. */
  async init(ctx: BridgeContext): Promise<void> {
    this.ctx = ctx;
    try {
      await this.validate('info');
    } catch (err) {
      this.ctx = undefined;
      throw err;
    }
  }

  /**
   * Validates options and credentials without starting anything: token, channel membership and
   * scopes in bot mode. Throws `SetupError` (see `formattedGuide()`).
   */
  async check(): Promise<void> {
    await this.validate('warn');
  }

  /** Waits for events being applied, then stops accepting new ones. Safe to call twice. */
  async close(): Promise<void> {
    await this.receiver?.idle();
    this.ctx = undefined;
  }

  /** Resolves once every Slack event received so far has been applied (tests, shutdown). */
  async whenIdle(): Promise<void> {
    await this.receiver?.idle();
  }

  private async validate(webhookNoticeLevel: 'info' | 'warn'): Promise<void> {
    if (this.mode === 'webhook') {
      this.logger()[webhookNoticeLevel](
        { bridge: this.name },
        'slack: webhook mode can only post: edits, deletes and operator replies from Slack are not possible (use botToken, channelId and signingSecret for those)',
      );
      return;
    }
    const missing = missingOptionsError(this.options);
    if (missing) throw missing;
    this.identity = await validateBotSetup({
      client: this.client(),
      channelId: this.options.channelId!,
      apiUrl: this.options.apiUrl ?? DEFAULT_API_URL,
      logger: this.logger(),
    });
  }

  // ───────────────────────────── visitor → Slack ─────────────────────────────

  /** Posts a visitor message into the session's thread, opening the thread on first use. */
  async onVisitorMessage(
    message: Message,
    session: Session,
    context: BridgeMessageContext,
  ): Promise<BridgeSendResult | undefined> {
    const text = visitorText(message, context.replyTo);
    if (this.mode === 'webhook') {
      await this.webhookPost(session, text);
      return undefined;
    }
    return this.postInThread(session, text, 'visitor message');
  }

  /** Mirrors an operator or AI reply from another source, attributed ("*Ana via Telegram*: ..."). */
  async onOperatorMessage(
    message: Message,
    session: Session,
    context: BridgeMessageContext,
  ): Promise<BridgeSendResult | undefined> {
    const text = operatorText(message, {
      ...(context.sourceBridge ? { sourceBridge: context.sourceBridge } : {}),
      ...(context.replyTo ? { replyTo: context.replyTo } : {}),
    });
    if (this.mode === 'webhook') {
      await this.webhookPost(session, text);
      return undefined;
    }
    return this.postInThread(session, text, 'operator message');
  }

  /** Edits a posted message (`chat.update`). Slack marks it "(edited)" by itself. */
  async onMessageEdit(message: Message, _session: Session, platformMessageId: string): Promise<void> {
    if (this.mode === 'webhook') return;
    const text = message.sender === 'visitor' ? visitorText(message) : operatorText(message);
    await this.api('chat.update', () =>
      this.client().chat.update({ channel: this.channel(), ts: platformMessageId, text }),
    ).catch((err) => this.ignoreGone(err));
  }

  /** Deletes a posted message (`chat.delete`). */
  async onMessageDelete(_message: Message, _session: Session, platformMessageId: string): Promise<void> {
    if (this.mode === 'webhook') return;
    await this.api('chat.delete', () =>
      this.client().chat.delete({ channel: this.channel(), ts: platformMessageId }),
    ).catch((err) => this.ignoreGone(err));
  }

  /**
   * The session was erased (retention or a privacy request): deletes the bot's own posts in the
   * thread and the card. Messages operators wrote stay (a bot token cannot delete them).
   */
  async onSessionErased(session: Session): Promise<void> {
    const thread = session.bridgeThreads?.[this.name];
    if (!thread || this.mode === 'webhook') return;
    const own: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.replies(thread, cursor);
      for (const m of page?.messages ?? []) {
        const botId = this.identity.botId;
        if (m.ts && m.ts !== thread && m.bot_id && (!botId || m.bot_id === botId)) own.push(m.ts);
      }
      cursor = page?.response_metadata?.next_cursor || undefined;
    } while (cursor);
    for (const ts of [...own, thread]) {
      await this.api('chat.delete', () => this.client().chat.delete({ channel: this.channel(), ts })).catch((err) =>
        this.ignoreGone(err),
      );
    }
  }

  private async replies(thread: string, cursor: string | undefined): Promise<ConversationsRepliesResponse | undefined> {
    try {
      return await this.api('conversations.replies', () =>
        this.client().conversations.replies({
          channel: this.channel(),
          ts: thread,
          limit: 200,
          ...(cursor ? { cursor } : {}),
        }),
      );
    } catch (err) {
      this.ignoreGone(err);
      return undefined;
    }
  }

  /** Refreshes the session card (the thread's parent message) with the new identity. */
  async onIdentityUpdate(session: Session): Promise<void> {
    const thread = session.bridgeThreads?.[this.name];
    if (!thread || this.mode === 'webhook') return;
    await this.api('chat.update', () =>
      this.client().chat.update({
        channel: this.channel(),
        ts: thread,
        text: cardFallback(session),
        blocks: cardBlocks(session),
      }),
    ).catch((err) => this.ignoreGone(err));
  }

  /** Posts a closing line in the thread. */
  async onSessionClosed(session: Session): Promise<void> {
    await this.line(session, '🔒 Conversation closed');
  }

  /** Posts a one-line notice in the thread, if the session has one. */
  async onNotice(session: Session, text: string): Promise<void> {
    await this.line(session, `ℹ️ ${escapeText(text)}`);
  }

  // ───────────────────────────── internals ─────────────────────────────

  private logger(): Logger {
    return this.ctx?.logger ?? this.options.logger ?? consoleLogger;
  }

  private channel(): string {
    return this.options.channelId!;
  }

  private context(): BridgeContext {
    if (!this.ctx) {
      throw new BridgeError(this.name, `${PACKAGE_NAME}: the bridge is not initialized (call pocketping.init())`);
    }
    return this.ctx;
  }

  /** The WebClient, built on first use so the constructor does no I/O. */
  private client(): WebClient {
    if (this.options.client) return this.options.client;
    if (!this.clientRef) {
      this.clientRef = new WebClient(this.options.botToken, {
        slackApiUrl: this.options.apiUrl ?? DEFAULT_API_URL,
        retryConfig: RETRY_CONFIG,
        timeout: 30_000,
        logger: this.slackLogger(),
      });
    }
    return this.clientRef;
  }

  /** Routes the WebClient's own logs to PocketPing's logger (its info lines as debug). */
  private slackLogger(): SlackLogger {
    const emit = (level: 'debug' | 'warn' | 'error', msg: unknown[]) =>
      this.logger()[level](
        { bridge: this.name },
        `slack web-api: ${msg.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join(' ')}`,
      );
    let level = LogLevel.INFO;
    return {
      debug: (...msg: unknown[]) => emit('debug', msg),
      info: (...msg: unknown[]) => emit('debug', msg),
      warn: (...msg: unknown[]) => emit('warn', msg),
      error: (...msg: unknown[]) => emit('error', msg),
      setLevel: (l: LogLevel) => {
        level = l;
      },
      getLevel: () => level,
      setName: () => {},
    };
  }

  /** Runs one Web API call; whatever it throws leaves as a `BridgeError`. */
  private async api<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw toBridgeError(this.name, operation, err);
    }
  }

  private ignoreGone(err: unknown): void {
    const code = platformErrorCode((err as { cause?: unknown }).cause);
    // The message (or the whole thread) was already removed in Slack: nothing left to change.
    if (code === 'message_not_found' || code === 'thread_not_found') return;
    // Not a message of this bot (e.g. an operator's own Slack reply edited from the dashboard):
    // Slack lets nobody else change it, so retrying cannot help.
    if (code === 'cant_update_message' || code === 'cant_delete_message') {
      this.logger().warn({ bridge: this.name, code }, 'slack: this message was not posted by the bot; left as it is');
      return;
    }
    throw err;
  }

  private async postMessage(
    operation: string,
    args: { text: string; thread_ts?: string; blocks?: SlackBlock[] },
  ): Promise<string> {
    const res = await this.api(`chat.postMessage (${operation})`, () =>
      this.client().chat.postMessage({
        channel: this.channel(),
        text: args.text,
        ...(args.thread_ts ? { thread_ts: args.thread_ts } : {}),
        ...(args.blocks ? { blocks: args.blocks } : {}),
        ...(this.options.username ? { username: this.options.username } : {}),
        ...(this.options.iconEmoji ? { icon_emoji: this.options.iconEmoji } : {}),
      }),
    );
    if (!res.ts) throw new BridgeError(this.name, `${PACKAGE_NAME}: chat.postMessage answered without a ts`);
    return res.ts;
  }

  /** Posts the session card as a new thread parent and remembers it at once, so a retry reuses it. */
  private async openThread(session: Session): Promise<string> {
    const ts = await this.postMessage('session card', { text: cardFallback(session), blocks: cardBlocks(session) });
    await this.context().setThread(session.id, ts);
    return ts;
  }

  private async postInThread(session: Session, text: string, operation: string): Promise<BridgeSendResult> {
    let thread = session.bridgeThreads?.[this.name] ?? (await this.openThread(session));
    let ts: string;
    try {
      ts = await this.postMessage(operation, { text, thread_ts: thread });
    } catch (err) {
      // The thread's parent was deleted in Slack: start a new thread for the session.
      if (platformErrorCode((err as { cause?: unknown }).cause) !== 'thread_not_found') throw err;
      thread = await this.openThread(session);
      ts = await this.postMessage(operation, { text, thread_ts: thread });
    }
    return { platformMessageId: ts, threadId: thread };
  }

  private async line(session: Session, text: string): Promise<void> {
    const thread = session.bridgeThreads?.[this.name];
    if (!thread) return;
    if (this.mode === 'webhook') {
      await this.webhookPost(session, text);
      return;
    }
    await this.postMessage('notice', { text, thread_ts: thread }).catch((err) => this.ignoreGone(err));
  }

  /**
   * Webhook mode has no threads: posts go to one channel, each headed by the session's title.
   * The session card is posted before the first message; the session's "thread" on this bridge
   * is its own id, which only records that the card was posted.
   */
  private async webhookPost(session: Session, text: string): Promise<void> {
    const url = this.options.webhookUrl!;
    const style = {
      ...(this.options.username ? { username: this.options.username } : {}),
      ...(this.options.iconEmoji ? { icon_emoji: this.options.iconEmoji } : {}),
    };
    if (!session.bridgeThreads?.[this.name]) {
      await postToIncomingWebhook(this.name, url, {
        text: cardFallback(session),
        blocks: cardBlocks(session),
        ...style,
      });
      await this.context().setThread(session.id, session.id);
    }
    const title = `*${escapeText(describeSession(session).title)}*`;
    await postToIncomingWebhook(this.name, url, { text: `${title}\n${text}`, ...style });
  }
}
