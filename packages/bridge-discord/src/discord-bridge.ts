import type {
  Bridge,
  BridgeContext,
  BridgeMessageContext,
  BridgeSendResult,
  BridgeWebhook,
  Logger,
  Message,
  Session,
  SingletonJob,
} from '@pocketping/core';
import { Client, GatewayIntentBits, Partials, RateLimitError, type RateLimitData, REST } from 'discord.js';
import { asSetupError, toBridgeError } from './errors.js';
import { prepareFiles } from './files.js';
import { GatewayConnection } from './gateway-connection.js';
import { GatewayListener } from './gateway-listener.js';
import {
  attributed,
  bodyOf,
  fileLinks,
  linkLinesOf,
  type MessageBody,
  noticeText,
  operatorLabel,
  sessionCardEmbed,
  threadName,
  visitorUsername,
} from './format.js';
import { createInteractionsWebhook } from './interactions.js';
import { type DiscordBridgeOptions, parseOptions, type ResolvedDiscordOptions } from './options.js';
import { detectServerless } from './runtime.js';
import { checkBotSetup, checkMessageContentIntent } from './setup-check.js';
import { missingChannel, missingToken, webhookRejected } from './setup-guides.js';
import { ThreadPoster } from './thread-poster.js';
import { WebhookPoster } from './webhook-poster.js';

const PACKAGE = '@pocketping/bridge-discord';

/** Gateway intents the bridge needs (Message Content is privileged: enable it on the Bot page). */
export const DISCORD_INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMessages,
  GatewayIntentBits.MessageContent,
  GatewayIntentBits.GuildMessageTyping,
] as const;

/**
 * PocketPing's Discord bridge. Bot mode opens one thread per conversation in a text or forum
 * channel, keeps edits and deletes in sync both ways and receives operator replies through the
 * Gateway. Webhook mode only posts (one flat channel, a username per visitor).
 *
 * @example
 * ```ts
 * const discord = new DiscordBridge({
 *   botToken: process.env.DISCORD_BOT_TOKEN,
 *   channelId: process.env.DISCORD_CHANNEL_ID,
 * });
 * const pp = new PocketPing({ bridges: [discord] });
 * await pp.init();
 * ```
 */
export class DiscordBridge implements Bridge {
  readonly name: string;
  /** `bot` (token + channel) or `webhook` (send only). */
  readonly mode: 'bot' | 'webhook';
  /** Discord's Interactions endpoint, served when `publicKey` is set. */
  readonly webhook?: BridgeWebhook;

  private readonly options: ResolvedDiscordOptions;
  private logger: Logger;
  private ctx?: BridgeContext;
  /** Bot mode: the client used for REST (setup checks, posting); the bridge never logs it in. */
  private client?: Client;
  private ownsClient = false;
  /** Bot mode: the Gateway connection, open only while this instance holds the Gateway lease. */
  private gateway?: GatewayConnection;
  private rest?: REST;
  private poster?: ThreadPoster;
  private webhookPoster?: WebhookPoster;
  private listener?: GatewayListener;
  private closed = false;

  constructor(options: DiscordBridgeOptions) {
    this.options = parseOptions(options);
    this.name = this.options.name;
    this.logger = this.options.logger;
    this.mode = this.options.webhookUrl ? 'webhook' : 'bot';
    if (this.options.publicKey) this.webhook = createInteractionsWebhook(this.options.publicKey, 'discord');
  }

  /**
   * Webhook mode: posts visitor messages to a channel webhook (no operator replies).
   *
   * @example
   * ```ts
   * const discord = DiscordBridge.webhook(process.env.DISCORD_WEBHOOK_URL!, { username: 'Website chat' });
   * ```
   */
  static webhook(url: string, options: Omit<DiscordBridgeOptions, 'webhookUrl'> = {}): DiscordBridge {
    return new DiscordBridge({ ...options, webhookUrl: url });
  }

  /**
   * Bot mode: one thread per conversation in `channelId`, replies through the Gateway.
   *
   * @example
   * ```ts
   * const discord = DiscordBridge.bot(process.env.DISCORD_BOT_TOKEN!, '123456789012345678');
   * ```
   */
  static bot(
    token: string,
    channelId: string,
    options: Omit<DiscordBridgeOptions, 'botToken' | 'channelId'> = {},
  ): DiscordBridge {
    return new DiscordBridge({ ...options, botToken: token, channelId });
  }

  // ───────────────────────────── lifecycle ─────────────────────────────

  /**
   * Validates the setup (token, channel, permissions, the Message Content intent) through REST,
   * then asks PocketPing to keep the Gateway connection on exactly one instance: it connects a
   * few milliseconds later on the instance that holds the lease. Posting works on every instance.
   */
  async init(ctx: BridgeContext): Promise<void> {
    this.ctx = ctx;
    this.logger = ctx.logger;
    this.closed = false;
    try {
      if (this.mode === 'webhook') await this.initWebhook();
      else await this.initBot(ctx);
    } catch (err) {
      await this.close();
      throw asSetupError(err);
    }
  }

  /** True while this instance is connected to the Gateway (bot mode, lease holder). */
  get gatewayConnected(): boolean {
    return this.gateway?.ready === true;
  }

  /** Checks credentials, channel, permissions and the Message Content intent without connecting. */
  async check(): Promise<void> {
    try {
      if (this.mode === 'webhook') {
        const rest = this.makeRest();
        try {
          await this.describeWebhook(new WebhookPoster(rest, this.options.webhookUrl!, this.options.avatarUrl));
        } finally {
          rest.clearHashSweeper();
          rest.clearHandlerSweeper();
        }
        this.logger.warn(
          { bridge: this.name },
          `${PACKAGE}: webhook mode posts visitor messages (and keeps their edits and deletes in sync) but ` +
            'cannot receive operator replies, typing or open a thread per conversation; use bot mode ' +
            '(botToken + channelId) for those',
        );
        return;
      }
      const { token, channelId } = this.requireBotCredentials();
      const client = this.options.client ?? this.makeClient();
      if (!this.options.client) client.rest.setToken(token);
      try {
        await checkBotSetup(client, channelId);
        const intentProblem = await checkMessageContentIntent(client);
        if (intentProblem) throw intentProblem;
      } finally {
        if (!this.options.client) await client.destroy();
      }
    } catch (err) {
      throw asSetupError(err);
    }
  }

  /** Disconnects from the Gateway (when the bridge connected) and stops listening. Safe twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const gateway = this.gateway;
    this.gateway = undefined;
    await gateway?.stop();
    const listener = this.listener;
    this.listener = undefined;
    await listener?.detach();
    if (this.client && this.ownsClient) await this.client.destroy();
    this.client = undefined;
    this.ownsClient = false;
    this.rest?.clearHashSweeper();
    this.rest?.clearHandlerSweeper();
    this.rest = undefined;
    this.poster = undefined;
    this.webhookPoster = undefined;
  }

  private requireBotCredentials(): { token: string; channelId: string } {
    if (!this.options.botToken) throw missingToken();
    if (!this.options.channelId) throw missingChannel();
    return { token: this.options.botToken, channelId: this.options.channelId };
  }

  private rejectOnRateLimit = (data: RateLimitData): boolean =>
    Math.max(data.timeToReset, data.retryAfter) > this.options.maxRateLimitWaitMs;

  private makeRest(): REST {
    return new REST({
      ...(this.options.apiUrl ? { api: this.options.apiUrl } : {}),
      rejectOnRateLimit: this.rejectOnRateLimit,
    });
  }

  private makeClient(): Client {
    return new Client({
      intents: [...DISCORD_INTENTS],
      // Edits and deletes of messages sent before a restart are not in the cache.
      partials: [Partials.Message, Partials.Channel],
      allowedMentions: { parse: [] },
      rest: {
        ...(this.options.apiUrl ? { api: this.options.apiUrl } : {}),
        rejectOnRateLimit: this.rejectOnRateLimit,
      },
    });
  }

  private async describeWebhook(poster: WebhookPoster): Promise<void> {
    try {
      await poster.describe();
    } catch (err) {
      const status = WebhookPoster.statusOf(err);
      if (status === 401 || status === 403 || status === 404) throw webhookRejected(status, err);
      throw err;
    }
  }

  private async initWebhook(): Promise<void> {
    this.rest = this.makeRest();
    const poster = new WebhookPoster(this.rest, this.options.webhookUrl!, this.options.avatarUrl);
    await this.describeWebhook(poster);
    this.webhookPoster = poster;
    this.logger.info(
      { bridge: this.name },
      `${PACKAGE}: webhook mode: visitor messages are posted; operator replies need bot mode`,
    );
  }

  private async initBot(ctx: BridgeContext): Promise<void> {
    const { token, channelId } = this.requireBotCredentials();
    // This client only talks REST here (never logged in by the bridge), so every instance can
    // post, edit and delete whether or not it holds the Gateway connection. discord.js' REST
    // works with just the token set; `client.destroy()` would clear it, so the Gateway gets
    // clients of its own.
    const client = this.options.client ?? this.makeClient();
    this.client = client;
    this.ownsClient = !this.options.client;
    if (this.ownsClient) client.rest.setToken(token);

    const { channel } = await checkBotSetup(client, channelId);
    this.poster = new ThreadPoster(client, channel, ctx, this.options.autoArchiveMinutes, () => this.gateway?.client);

    if (!this.ownsClient) {
      // Your client is connected on every instance; only the lease holder applies its events.
      ctx.singleton('gateway', this.listenerJob(client, ctx), { ttlMs: this.options.gatewayLeaseMs });
      return;
    }
    const serverless = detectServerless();
    const wantGateway = this.options.gateway === true || (this.options.gateway === 'auto' && !serverless);
    if (!wantGateway) {
      this.logger.warn(
        { bridge: this.name, platform: serverless },
        `${PACKAGE}: not connecting to the Discord Gateway${serverless ? ` (running on ${serverless})` : ' (gateway: false)'}. ` +
          'Visitor messages are still posted, but operator replies, edits, deletes and typing from Discord ' +
          'need a long-running process: run pocketping-server (or your app) on a server or container, or ' +
          'use webhook mode if you only need notifications.',
      );
      return;
    }
    // The Gateway connects later, on one instance; a missing intent is caught now, like check().
    const intentProblem = await checkMessageContentIntent(client);
    if (intentProblem) throw intentProblem;
    const gateway = new GatewayConnection({
      token,
      makeClient: () => this.makeClient(),
      ctx,
      maxFileBytes: this.options.maxFileBytes,
      loginTimeoutMs: this.options.loginTimeoutMs,
    });
    this.gateway = gateway;
    ctx.singleton(
      'gateway',
      {
        start: () => {
          // A lease gained after close() must not connect again.
          if (this.gateway === gateway) gateway.start();
        },
        stop: () => gateway.stop(),
      },
      { ttlMs: this.options.gatewayLeaseMs },
    );
  }

  /** A ready-made client: listen while this instance holds the lease. */
  private listenerJob(client: Client, ctx: BridgeContext): SingletonJob {
    return {
      start: () => {
        if (this.closed || this.listener) return;
        this.listener = new GatewayListener(client, ctx, this.options.maxFileBytes);
        this.listener.attach();
      },
      stop: async () => {
        const listener = this.listener;
        this.listener = undefined;
        await listener?.detach();
      },
    };
  }

  // ───────────────────────────── hooks ─────────────────────────────

  /** Posts a visitor message into the session's thread (opening it on first use). */
  async onVisitorMessage(
    message: Message,
    session: Session,
    context: BridgeMessageContext,
  ): Promise<BridgeSendResult | undefined> {
    try {
      const { files, links } = await prepareFiles(message.attachments, this.options.maxFileBytes);
      const extra = fileLinks(links);
      if (this.webhookPoster) {
        const quote = context.replyTo ? [replyQuote(context.replyTo)] : [];
        const body = bodyOf([...quote, message.content].filter(Boolean).join('\n'), extra);
        return await this.postViaWebhook(session, visitorUsername(session), body, files);
      }
      const { message: posted, threadId } = await this.requirePoster().postToSession(session, {
        body: bodyOf(message.content, extra),
        files,
        ...(context.replyToPlatformMessageId ? { replyTo: context.replyToPlatformMessageId } : {}),
      });
      return { platformMessageId: posted.id, threadId };
    } catch (err) {
      throw toBridgeError(this.name, 'posting a visitor message', err);
    }
  }

  /** Mirrors an operator or AI reply from elsewhere, attributed ("**Ana via Telegram**: …"). */
  async onOperatorMessage(
    message: Message,
    session: Session,
    context: BridgeMessageContext,
  ): Promise<BridgeSendResult | undefined> {
    try {
      const label = operatorLabel(message, context.operatorName, context.sourceBridge);
      const { files, links } = await prepareFiles(message.attachments, this.options.maxFileBytes);
      const extra = fileLinks(links);
      if (this.webhookPoster) {
        return await this.postViaWebhook(session, label.slice(0, 80), bodyOf(message.content, extra), files);
      }
      const { message: posted, threadId } = await this.requirePoster().postToSession(session, {
        body: bodyOf(attributed(label, message.content), extra),
        files,
        ...(context.replyToPlatformMessageId ? { replyTo: context.replyToPlatformMessageId } : {}),
      });
      return { platformMessageId: posted.id, threadId };
    } catch (err) {
      throw toBridgeError(this.name, 'mirroring an operator message', err);
    }
  }

  /** Edits a message this bridge posted (visitor edit, or an operator edit from elsewhere). */
  async onMessageEdit(message: Message, session: Session, platformMessageId: string): Promise<void> {
    const text = (label: boolean) =>
      message.sender === 'visitor' || !label ? message.content : attributed(operatorLabel(message), message.content);
    try {
      const hasLinks = (message.attachments?.length ?? 0) > 0;
      if (this.webhookPoster) {
        const current = hasLinks ? await this.webhookPoster.fetch(platformMessageId) : undefined;
        await this.webhookPoster.edit(platformMessageId, bodyOf(text(false), linkLinesOf(current?.content)));
        return;
      }
      const threadId = session.bridgeThreads?.[this.name];
      if (!threadId) return;
      const poster = this.requirePoster();
      const current = hasLinks ? await poster.fetch(threadId, platformMessageId) : undefined;
      await poster.edit(threadId, platformMessageId, bodyOf(text(true), linkLinesOf(current?.content)));
    } catch (err) {
      throw toBridgeError(this.name, 'editing a message', err);
    }
  }

  /** Deletes a message this bridge posted. */
  async onMessageDelete(_message: Message, session: Session, platformMessageId: string): Promise<void> {
    try {
      if (this.webhookPoster) {
        await this.webhookPoster.delete(platformMessageId);
        return;
      }
      const threadId = session.bridgeThreads?.[this.name];
      if (threadId) await this.requirePoster().delete(threadId, platformMessageId);
    } catch (err) {
      throw toBridgeError(this.name, 'deleting a message', err);
    }
  }

  /** Shows the bot typing in the thread while the visitor types. */
  async onTyping(session: Session, isTyping: boolean): Promise<void> {
    const threadId = session.bridgeThreads?.[this.name];
    if (!isTyping || !threadId || !this.poster) return;
    try {
      await this.poster.typing(threadId);
    } catch (err) {
      throw toBridgeError(this.name, 'sending typing', err);
    }
  }

  /** Renames the thread and refreshes the session card when the visitor's identity changes. */
  async onIdentityUpdate(session: Session): Promise<void> {
    const threadId = session.bridgeThreads?.[this.name];
    if (!threadId || !this.poster) return;
    try {
      await this.poster.updateCard(threadId, session);
      try {
        await this.poster.rename(threadId, threadName(session));
      } catch (err) {
        // Discord allows two thread renames per ten minutes; the card already shows the identity,
        // and blocking the session's deliveries for minutes would be worse than an old title.
        if (!(err instanceof RateLimitError)) throw err;
        this.logger.info({ bridge: this.name, threadId }, `${PACKAGE}: thread rename skipped (rate limited)`);
      }
    } catch (err) {
      throw toBridgeError(this.name, 'updating the thread for a new identity', err);
    }
  }

  /** Archives the session's thread. A new visitor message unarchives it. */
  async onSessionClosed(session: Session): Promise<void> {
    const threadId = session.bridgeThreads?.[this.name];
    if (!threadId || !this.poster) return;
    try {
      await this.poster.archive(threadId);
    } catch (err) {
      throw toBridgeError(this.name, 'archiving the thread', err);
    }
  }

  /**
   * The session was erased (retention or a privacy request). Bot mode deletes its thread (a
   * forum post, or a thread and the card it started from). Webhook mode deletes the session card;
   * the messages after it stay, since the bridge keeps no list of them.
   */
  async onSessionErased(session: Session): Promise<void> {
    const threadId = session.bridgeThreads?.[this.name];
    if (!threadId) return;
    try {
      if (this.webhookPoster) {
        await this.webhookPoster.delete(threadId);
        return;
      }
      await this.requirePoster().remove(threadId);
    } catch (err) {
      throw toBridgeError(this.name, 'deleting the thread of an erased session', err);
    }
  }

  /** Posts a one-line notice in the session's thread, if it has one. */
  async onNotice(session: Session, text: string): Promise<void> {
    const threadId = session.bridgeThreads?.[this.name];
    if (!threadId) return;
    try {
      if (this.webhookPoster) {
        await this.webhookPoster.post(this.options.username, bodyOf(noticeText(text)));
        return;
      }
      const poster = this.requirePoster();
      await poster.post(threadId, { body: bodyOf(noticeText(text)) });
      // A notice after closing (a rating, "visitor left") should not leave the thread open.
      if (session.status === 'closed') await poster.archive(threadId);
    } catch (err) {
      throw toBridgeError(this.name, 'posting a notice', err);
    }
  }

  // ───────────────────────────── helpers ─────────────────────────────

  private requirePoster(): ThreadPoster {
    if (!this.poster) throw new Error(`${PACKAGE}: the bridge is not initialized (call pocketping.init() first)`);
    return this.poster;
  }

  /**
   * Webhook mode has no threads: the session card is posted before the session's first message
   * and its id stands for the "thread", so every conversation still starts with its card.
   */
  private async postViaWebhook(
    session: Session,
    username: string,
    body: MessageBody,
    files: Parameters<WebhookPoster['post']>[2],
  ): Promise<BridgeSendResult> {
    const poster = this.webhookPoster!;
    let threadId = session.bridgeThreads?.[this.name];
    if (!threadId) {
      const card = await poster.post(this.options.username, { content: '', embeds: [sessionCardEmbed(session)] });
      threadId = card.id;
      await this.ctx?.setThread(session.id, threadId);
    }
    const posted = await poster.post(username, body, files);
    return { platformMessageId: posted.id, threadId };
  }
}

function replyQuote(replyTo: Message): string {
  const snippet = replyTo.content.replace(/\s+/g, ' ').slice(0, 80);
  return `> ↪ ${snippet}${replyTo.content.length > 80 ? '…' : ''}`;
}
