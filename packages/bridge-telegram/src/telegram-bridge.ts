import { randomBytes } from 'node:crypto';
import { autoRetry } from '@grammyjs/auto-retry';
import {
  type Attachment,
  type Bridge,
  type BridgeContext,
  BridgeError,
  type BridgeMessageContext,
  type BridgeSendResult,
  type BridgeWebhook,
  type BridgeWebhookRequest,
  type BridgeWebhookResponse,
  describeSession,
  type Message,
  type Session,
  SetupError,
} from '@pocketping/core';
import { Api, Bot, GrammyError } from 'grammy';
import type { Update } from 'grammy/types';
import { BoundedMap } from './bounded-map.js';
import { ChatPacer } from './chat-pacer.js';
import {
  CAPTION_LIMIT,
  type Markup,
  markupFor,
  renderMirroredMessage,
  renderSessionCard,
  renderVisitorMessage,
  sourceBridgeOf,
  visibleLength,
} from './formatting.js';
import { inboundComposer } from './inbound.js';
import {
  DOCS_URL,
  PACKAGE_NAME,
  parseOptions,
  type ResolvedTelegramBridgeOptions,
  type TelegramBridgeOptions,
} from './options.js';
import { type FileSource, isPhoto, loadAttachment, toInput } from './outgoing-files.js';
import { checkCredentialsShape, checkTelegramSetup, type TelegramSetupFacts } from './setup-checks.js';
import {
  isBadRequest,
  isMessageGone,
  isNotDeletable,
  isNotModified,
  isThreadGone,
  isWrongEditKind,
  redact,
  retryAfterSeconds,
  toBridgeError,
} from './telegram-errors.js';
import { UpdatePoller } from './update-poller.js';
import { secretMatches } from './webhook-secret.js';

/** Update kinds the bridge reads; everything else is not asked for. */
const ALLOWED_UPDATES = ['message', 'edited_message'] as const;

/** Per-topic facts kept in memory, bounded so a long-running process stays flat. */
const MEMORY_LIMIT = 10_000;

/** Longer than the 30 s long poll, far shorter than grammy's 500 s default for a stuck call. */
const CLIENT_TIMEOUT_SECONDS = 60;

interface Running {
  ctx: BridgeContext;
  bot: Bot;
  /** Delivery calls: errors go back to PocketPing's queue (429 included) as `BridgeError`. */
  api: Api;
  /** Calls made while handling an update, where no queue retries: retried in place. */
  inboundApi: Api;
  facts: TelegramSetupFacts;
  token: string;
  /** Polling mode: runs only while this instance holds the polling lease. */
  poller?: UpdatePoller;
}

interface SendOptions {
  message_thread_id: number;
  disable_notification?: boolean;
  reply_parameters?: { message_id: number; allow_sending_without_reply: boolean };
}

/**
 * A PocketPing bridge to Telegram: each conversation is a forum topic in one group, opened by a
 * session card. Visitor messages, files, edits, deletes and typing go into the topic; operators
 * answer in the topic (by webhook or long polling) and their replies reach the widget.
 *
 * @example
 * ```ts
 * import { PocketPing } from '@pocketping/core';
 * import { TelegramBridge } from '@pocketping/bridge-telegram';
 *
 * const pp = new PocketPing({
 *   publicUrl: 'https://chat.example.com/pocketping',
 *   bridges: [
 *     new TelegramBridge({
 *       token: process.env.TELEGRAM_BOT_TOKEN,
 *       chatId: process.env.TELEGRAM_CHAT_ID, // the forum group, -100…
 *     }),
 *   ],
 * });
 * await pp.init(); // checks the bot and the group, then registers the webhook
 * ```
 */
export class TelegramBridge implements Bridge {
  /** The bridge name (`options.name`). */
  readonly name: string;
  /**
   * Where Telegram posts updates (webhook mode only): the server mounts it at
   * `{prefix}/webhooks/{name}`.
   */
  readonly webhook?: BridgeWebhook;

  private readonly options: ResolvedTelegramBridgeOptions;
  private readonly markup: Markup;
  private readonly pacer: ChatPacer;
  private readonly webhookSecret: string;
  private running?: Running;
  private starting?: Promise<void>;
  private updateChain: Promise<void> = Promise.resolve();
  private readonly topicOpen = new BoundedMap<string, boolean>(MEMORY_LIMIT);
  private readonly cards = new BoundedMap<string, number>(MEMORY_LIMIT);
  private readonly cardPending = new Set<string>();
  private readonly companions = new BoundedMap<string, number[]>(MEMORY_LIMIT);

  /** Validates the options (no I/O); throws `ValidationError` (`CONFIG_INVALID`) naming the key. */
  constructor(options: TelegramBridgeOptions) {
    this.options = parseOptions(options);
    this.name = this.options.name;
    this.markup = markupFor(this.options.parseMode);
    this.pacer = new ChatPacer(this.name, this.options.rateLimit);
    this.webhookSecret = this.options.webhookSecret ?? randomBytes(32).toString('base64url');
    if (this.options.updates === 'webhook') {
      this.webhook = { path: this.name, handle: (request) => this.handleWebhook(request) };
    }
  }

  // ───────────────────────────── lifecycle ─────────────────────────────

  /**
   * Checks the token, the group (a forum) and the bot's rights, then registers the webhook
   * (webhook mode, when PocketPing knows its public URL) or asks PocketPing to run long polling
   * on exactly one instance (polling mode; it starts a few milliseconds later on the instance
   * that holds the lease). Throws `SetupError` with a guide when something is misconfigured.
   */
  async init(ctx: BridgeContext): Promise<void> {
    if (this.running) return;
    this.starting ??= this.start(ctx).finally(() => {
      this.starting = undefined;
    });
    await this.starting;
  }

  /** Validates the configuration and credentials against Telegram without starting anything. */
  async check(): Promise<void> {
    const credentials = checkCredentialsShape(this.options);
    await checkTelegramSetup(this.createApi(credentials.token), this.options, credentials);
  }

  /** Stops polling and update handling. Queued deliveries stay queued. Safe to call twice. */
  async close(): Promise<void> {
    await this.starting?.catch(() => {});
    const running = this.running;
    if (!running) return;
    this.running = undefined;
    this.pacer.close();
    await running.poller?.stop();
    await this.updateChain;
  }

  private createApi(token: string): Api {
    return new Api(token, { apiRoot: this.options.apiRoot, timeoutSeconds: CLIENT_TIMEOUT_SECONDS });
  }

  private async start(ctx: BridgeContext): Promise<void> {
    const credentials = checkCredentialsShape(this.options);
    const { token } = credentials;
    const facts = await checkTelegramSetup(this.createApi(token), this.options, credentials);
    const bot = new Bot(token, {
      botInfo: facts.me,
      client: { apiRoot: this.options.apiRoot, timeoutSeconds: CLIENT_TIMEOUT_SECONDS },
    });
    // Operator-side calls (getFile, notes, /info) have no delivery queue behind them, so they wait
    // out short 429s and 5xx answers in place. Delivery calls (bot.api) do not: their 429s go back
    // to PocketPing's queue, which retries the job later without reordering the session.
    const inboundApi = this.createApi(token);
    inboundApi.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 30, rethrowHttpErrors: true }));
    const running: Running = { ctx, bot, api: bot.api, inboundApi, facts, token };
    bot.use(
      inboundComposer({
        bridgeName: this.name,
        ctx,
        api: inboundApi,
        chatId: facts.chatId,
        me: facts.me,
        token,
        apiRoot: this.options.apiRoot,
        canDeleteMessages: facts.canDeleteMessages,
        note: (threadId, text, replyTo) => this.note(running, threadId, text, replyTo),
        postCard: (threadId, session) => this.postCard(running, threadId, session, inboundApi),
      }),
    );
    bot.catch((err) => this.logUpdateError(ctx, err.error));
    if (!facts.canDeleteMessages) {
      ctx.logger.warn(
        { bridge: this.name },
        `${PACKAGE_NAME}: the bot may not delete messages in the group; /delete will leave the operator's message in place (give it "Delete Messages")`,
      );
    }
    await this.registerCommands(running);
    this.pacer.reopen();
    // Set before updates can arrive: Telegram may post the first webhook right after setWebhook.
    this.running = running;
    if (this.options.updates === 'polling') {
      this.startPollingLease(running);
      return;
    }
    try {
      await this.registerWebhook(running);
    } catch (err) {
      this.running = undefined;
      this.pacer.close();
      throw err;
    }
  }

  /**
   * Long polling runs on one instance only (Telegram answers 409 to a second poller): PocketPing
   * starts it on the instance holding the lease and stops it when the lease is lost or on close.
   * Any instance still posts visitor messages and receives webhooks.
   */
  private startPollingLease(running: Running): void {
    const { ctx } = running;
    const poller = new UpdatePoller({
      api: this.createApi(running.token),
      allowedUpdates: ALLOWED_UPDATES,
      handle: (update) =>
        running.bot
          .handleUpdate(update)
          .catch((err: unknown) => this.logUpdateError(ctx, (err as { error?: unknown })?.error ?? err)),
      onError: (err, streak) => this.logPollingError(ctx, err, streak),
      onRecovered: (streak) =>
        ctx.logger.info(
          { bridge: this.name },
          `${PACKAGE_NAME}: long polling works again after ${streak} failed calls`,
        ),
    });
    running.poller = poller;
    ctx.singleton(
      'polling',
      {
        start: () => {
          // A lease gained after close() must not poll again.
          if (this.running !== running) return;
          ctx.logger.info(
            { bridge: this.name },
            `${PACKAGE_NAME}: this instance now polls Telegram for operator replies`,
          );
          poller.start();
        },
        stop: async () => {
          if (!poller.running) return;
          await poller.stop();
          ctx.logger.info({ bridge: this.name }, `${PACKAGE_NAME}: this instance stopped polling Telegram`);
        },
      },
      { ttlMs: this.options.pollingLeaseMs },
    );
  }

  private logPollingError(ctx: BridgeContext, err: unknown, streak: number): void {
    const reason = redact(String((err as Error)?.message ?? err), this.options.token);
    const code = err instanceof GrammyError ? err.error_code : undefined;
    // The first failure of a streak is worth a line; the retries that follow are not.
    if (streak > 1) {
      ctx.logger.debug({ bridge: this.name, err: reason, streak }, `${PACKAGE_NAME}: getUpdates failed again`);
      return;
    }
    const message =
      code === 409
        ? `${PACKAGE_NAME}: Telegram refused long polling (409): another process polls with this bot token, or a webhook was set. Run one deployment per bot token (instances sharing the storage take turns by themselves); retrying`
        : code === 401
          ? `${PACKAGE_NAME}: Telegram rejected the bot token while polling (401); operator replies stop until the token is fixed; retrying`
          : `${PACKAGE_NAME}: long polling failed; retrying`;
    ctx.logger.error({ bridge: this.name, err: reason }, message);
  }

  /** Lists the topic commands in the group's command menu; cosmetic, so a failure only logs. */
  private async registerCommands(running: Running): Promise<void> {
    try {
      await running.api.setMyCommands(
        [
          { command: 'close', description: 'End this conversation (closes the topic)' },
          { command: 'info', description: 'Show the visitor card again' },
          { command: 'delete', description: 'Reply to one of your answers to remove it from the chat' },
        ],
        { scope: { type: 'chat', chat_id: running.facts.chatId } },
      );
    } catch (err) {
      running.ctx.logger.debug(
        { bridge: this.name, err: redact(String((err as Error)?.message ?? err), running.token) },
        'could not register the bot commands',
      );
    }
  }

  private async registerWebhook(running: Running): Promise<void> {
    const { ctx, api } = running;
    const base = ctx.publicUrl?.replace(/\/+$/, '');
    const url = this.options.webhookUrl ?? (base ? `${base}/webhooks/${this.name}` : undefined);
    if (!url) {
      ctx.logger.warn(
        { bridge: this.name },
        `${PACKAGE_NAME}: updates is 'webhook' but the public URL of the server is unknown, so Telegram cannot be told where to send operator replies. Set server.publicUrl (publicUrl in new PocketPing) to the public HTTPS address, or use updates: 'polling'`,
      );
      return;
    }
    try {
      await api.setWebhook(url, { secret_token: this.webhookSecret, allowed_updates: [...ALLOWED_UPDATES] });
    } catch (err) {
      const reason = err instanceof GrammyError ? err.description : String((err as Error)?.message ?? err);
      throw new SetupError({
        component: 'Telegram',
        problem: `Telegram refused the webhook ${url}: ${redact(reason, running.token)}`,
        steps: [
          'Telegram only posts to public HTTPS URLs on port 443, 80, 88 or 8443 with a valid certificate',
          'Put the server behind TLS and set server.publicUrl to its https:// address',
          "Or use updates: 'polling' when the server has no public address",
        ],
        docsUrl: DOCS_URL,
        cause: err,
      });
    }
  }

  private handleWebhook(request: BridgeWebhookRequest): Promise<BridgeWebhookResponse> {
    if (request.method.toUpperCase() !== 'POST') {
      return Promise.resolve({ status: 405, body: { ok: false, error: 'Telegram webhooks are POST requests' } });
    }
    if (!secretMatches(request.headers['x-telegram-bot-api-secret-token'], this.webhookSecret)) {
      return Promise.resolve({
        status: 401,
        body: { ok: false, error: 'wrong or missing X-Telegram-Bot-Api-Secret-Token' },
      });
    }
    const running = this.running;
    if (!running) {
      // Telegram keeps the update and tries again later.
      return Promise.resolve({ status: 503, body: { ok: false, error: 'the Telegram bridge is not running' } });
    }
    let update = request.body;
    if (update === undefined && request.rawBody) {
      try {
        update = JSON.parse(request.rawBody);
      } catch {
        update = undefined;
      }
    }
    if (typeof update !== 'object' || update === null || typeof (update as Update).update_id !== 'number') {
      return Promise.resolve({ status: 400, body: { ok: false, error: 'the body is not a Telegram update' } });
    }
    // Answer at once and handle updates one after another, in the order they arrived.
    this.updateChain = this.updateChain
      .then(() => running.bot.handleUpdate(update as Update))
      .catch((err: unknown) => this.logUpdateError(running.ctx, (err as { error?: unknown })?.error ?? err));
    return Promise.resolve({ status: 200, body: { ok: true } });
  }

  private logUpdateError(ctx: BridgeContext, err: unknown): void {
    ctx.logger.error(
      { bridge: this.name, err: redact(err instanceof Error ? err.message : String(err), this.options.token) },
      `${PACKAGE_NAME}: handling a Telegram update failed`,
    );
  }

  // ───────────────────────────── visitor → Telegram ─────────────────────────────

  /** Posts a visitor message in the session's topic, opening (or reopening) the topic first. */
  async onVisitorMessage(
    message: Message,
    session: Session,
    context: BridgeMessageContext,
  ): Promise<BridgeSendResult | undefined> {
    const running = this.require();
    return this.guard('posting the visitor message', () => {
      const text = renderVisitorMessage(this.options.messageTemplate, message, session, this.markup);
      return this.postInTopic(running, session, { reopen: true, create: true }, (threadId, sameTopic) =>
        this.postContent(running, threadId, text, message.attachments ?? [], {
          replyTo: sameTopic ? context.replyToPlatformMessageId : undefined,
          silent: this.options.disableNotification,
        }),
      );
    });
  }

  /** Mirrors a reply written elsewhere (API, another bridge, AI), attributed to its author. */
  async onOperatorMessage(
    message: Message,
    session: Session,
    context: BridgeMessageContext,
  ): Promise<BridgeSendResult | undefined> {
    const running = this.require();
    return this.guard('mirroring the operator reply', () => {
      const text = renderMirroredMessage(message, this.markup, {
        ...(context.operatorName ? { operatorName: context.operatorName } : {}),
        ...(context.sourceBridge ? { sourceBridge: context.sourceBridge } : {}),
      });
      // Proactive replies before the visitor wrote anything do not open a topic.
      return this.postInTopic(
        running,
        session,
        { reopen: false, create: session.hasVisitorMessage === true },
        (threadId, sameTopic) =>
          this.postContent(running, threadId, text, message.attachments ?? [], {
            replyTo: sameTopic ? context.replyToPlatformMessageId : undefined,
            silent: false,
          }),
      );
    });
  }

  /** Edits the posted message (text or caption); "not modified" counts as done. */
  async onMessageEdit(message: Message, session: Session, platformMessageId: string): Promise<void> {
    const running = this.require();
    await this.guard('editing the message', () =>
      this.editContent(
        running,
        Number(platformMessageId),
        this.renderStored(message, session),
        (message.attachments?.length ?? 0) > 0,
      ),
    );
  }

  /** Deletes the posted message (and the extra file messages posted with it). */
  async onMessageDelete(message: Message, _session: Session, platformMessageId: string): Promise<void> {
    const running = this.require();
    const chatId = running.facts.chatId;
    await this.guard('deleting the message', async () => {
      for (const id of [Number(platformMessageId), ...(this.companions.get(platformMessageId) ?? [])]) {
        try {
          await this.unpaced(() => running.api.deleteMessage(chatId, id));
        } catch (err) {
          if (isMessageGone(err)) continue;
          if (!isNotDeletable(err)) throw err;
          // Too old for the bot to delete: leave a visible mark instead of the text.
          const who = message.sender === 'visitor' ? 'the visitor' : 'the operator';
          try {
            await this.editContent(running, id, this.markup.italic(`🗑 Deleted by ${who}`), true);
          } catch (editErr) {
            if (!isBadRequest(editErr)) throw editErr;
          }
        }
      }
      this.companions.delete(platformMessageId);
    });
  }

  /** Shows "typing…" in the topic. Best effort: a lost typing hint is not worth a retry. */
  async onTyping(session: Session, isTyping: boolean): Promise<void> {
    const running = this.running;
    const threadId = session.bridgeThreads?.[this.name];
    if (!isTyping || !running || !threadId) return;
    try {
      await running.api.sendChatAction(running.facts.chatId, 'typing', { message_thread_id: Number(threadId) });
    } catch (err) {
      running.ctx.logger.debug(
        { bridge: this.name, err: redact(String((err as Error)?.message ?? err), running.token) },
        'typing hint not shown',
      );
    }
  }

  /** Renames the topic after the visitor's identity and updates (or reposts) the card. */
  async onIdentityUpdate(session: Session): Promise<void> {
    const running = this.require();
    const threadId = session.bridgeThreads?.[this.name];
    if (!threadId) return;
    await this.guard('updating the topic', async () => {
      const name = describeSession(session).title.slice(0, 128);
      try {
        await this.paced(() => running.api.editForumTopic(running.facts.chatId, Number(threadId), { name }));
      } catch (err) {
        // A deleted topic is replaced on the visitor's next message.
        if (isThreadGone(err)) return;
        if (!isNotModified(err)) throw err;
      }
      const cardId = this.cards.get(threadId);
      if (cardId !== undefined) {
        try {
          const card = renderSessionCard(this.options.sessionTemplate, session, this.markup);
          await this.editContent(running, cardId, card, false);
          return;
        } catch (err) {
          if (!isMessageGone(err)) throw err;
        }
      }
      await this.postCard(running, threadId, session, running.api);
    });
  }

  /** Closes the topic. */
  async onSessionClosed(session: Session): Promise<void> {
    const running = this.require();
    const threadId = session.bridgeThreads?.[this.name];
    if (!threadId) return;
    await this.guard('closing the topic', async () => {
      try {
        await this.paced(() => running.api.closeForumTopic(running.facts.chatId, Number(threadId)));
      } catch (err) {
        if (!isNotModified(err) && !isThreadGone(err)) throw err;
      }
      this.topicOpen.set(threadId, false);
    });
  }

  /**
   * The session was erased (retention or a privacy request): deletes its forum topic with every
   * message in it. A topic that is already gone counts as deleted.
   */
  async onSessionErased(session: Session): Promise<void> {
    const running = this.require();
    const threadId = session.bridgeThreads?.[this.name];
    if (!threadId) return;
    await this.guard('deleting the topic', async () => {
      try {
        await this.paced(() => running.api.deleteForumTopic(running.facts.chatId, Number(threadId)));
      } catch (err) {
        if (!isThreadGone(err)) throw err;
      }
      this.topicOpen.delete(threadId);
      this.cards.delete(threadId);
      this.cardPending.delete(threadId);
    });
  }

  /** Posts a one-line notice in the topic, silently; never opens a topic for it. */
  async onNotice(session: Session, text: string): Promise<void> {
    const running = this.require();
    const threadId = session.bridgeThreads?.[this.name];
    if (!threadId) return;
    await this.guard('posting the notice', async () => {
      try {
        await this.paced(() =>
          running.api.sendMessage(running.facts.chatId, this.markup.italic(text), {
            message_thread_id: Number(threadId),
            parse_mode: this.markup.parseMode,
            disable_notification: true,
            link_preview_options: { is_disabled: true },
          }),
        );
      } catch (err) {
        if (!isThreadGone(err)) throw err;
      }
    });
  }

  // ───────────────────────────── helpers ─────────────────────────────

  private require(): Running {
    if (!this.running) {
      throw new BridgeError(this.name, `${PACKAGE_NAME}: the bridge is not running; call pocketping.init() first`);
    }
    return this.running;
  }

  private async guard<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toBridgeError(this.name, action, err, this.options.token);
    }
  }

  /** A call that posts or changes a message in the group: waits for the pacer first. */
  private async paced<T>(call: () => Promise<T>): Promise<T> {
    await this.pacer.acquire();
    return this.unpaced(call);
  }

  private async unpaced<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      const seconds = retryAfterSeconds(err);
      // The limit is per group: hold every post, not just this session's.
      if (seconds !== undefined) this.pacer.pause(seconds * 1000);
      throw err;
    }
  }

  private renderStored(message: Message, session: Session): string {
    return message.sender === 'visitor'
      ? renderVisitorMessage(this.options.messageTemplate, message, session, this.markup)
      : renderMirroredMessage(message, this.markup, {
          ...(sourceBridgeOf(message) ? { sourceBridge: sourceBridgeOf(message)! } : {}),
        });
  }

  /**
   * Finds (or opens) the session's topic and posts into it. When an admin deleted the topic,
   * a new one is opened and the post goes there; the new topic id is returned to PocketPing.
   */
  private async postInTopic(
    running: Running,
    session: Session,
    how: { reopen: boolean; create: boolean },
    post: (threadId: string, sameTopic: boolean) => Promise<string>,
  ): Promise<BridgeSendResult | undefined> {
    let threadId: string | undefined;
    try {
      threadId = await this.openTopic(running, session, how);
      if (!threadId) return undefined;
      return { platformMessageId: await post(threadId, true), threadId };
    } catch (err) {
      if (!isThreadGone(err) || !how.create) throw err;
      running.ctx.logger.warn(
        { bridge: this.name, sessionId: session.id, threadId },
        `${PACKAGE_NAME}: the topic was deleted in Telegram; opening a new one`,
      );
      const fresh = await this.createTopic(running, session);
      return { platformMessageId: await post(fresh, false), threadId: fresh };
    }
  }

  private async openTopic(
    running: Running,
    session: Session,
    how: { reopen: boolean; create: boolean },
  ): Promise<string | undefined> {
    const known = session.bridgeThreads?.[this.name];
    if (!known) return how.create ? this.createTopic(running, session) : undefined;
    // The topic may have been closed (by us, an admin, or before a restart): the visitor is back.
    if (how.reopen && this.topicOpen.get(known) !== true) {
      try {
        await this.paced(() => running.api.reopenForumTopic(running.facts.chatId, Number(known)));
      } catch (err) {
        if (!isNotModified(err)) throw err;
      }
      this.topicOpen.set(known, true);
    }
    if (this.cardPending.has(known)) await this.postCard(running, known, session, running.api);
    return known;
  }

  private async createTopic(running: Running, session: Session): Promise<string> {
    const name = describeSession(session).title.slice(0, 128);
    const topic = await this.paced(() => running.api.createForumTopic(running.facts.chatId, name));
    const threadId = String(topic.message_thread_id);
    // Stored now, so a retry after a failed post reuses this topic instead of opening another.
    await running.ctx.setThread(session.id, threadId);
    this.topicOpen.set(threadId, true);
    this.cardPending.add(threadId);
    await this.postCard(running, threadId, session, running.api);
    return threadId;
  }

  private async postCard(running: Running, threadId: string, session: Session, api: Api): Promise<void> {
    const text = renderSessionCard(this.options.sessionTemplate, session, this.markup);
    const posted = await this.paced(() =>
      api.sendMessage(running.facts.chatId, text, {
        message_thread_id: Number(threadId),
        parse_mode: this.markup.parseMode,
        link_preview_options: { is_disabled: true },
        ...(this.options.disableNotification ? { disable_notification: true } : {}),
      }),
    );
    this.cards.set(threadId, posted.message_id);
    this.cardPending.delete(threadId);
  }

  private async note(running: Running, threadId: number, text: string, replyTo?: number): Promise<void> {
    await this.paced(() =>
      running.inboundApi.sendMessage(running.facts.chatId, this.markup.italic(text), {
        message_thread_id: threadId,
        parse_mode: this.markup.parseMode,
        disable_notification: true,
        ...(replyTo !== undefined
          ? { reply_parameters: { message_id: replyTo, allow_sending_without_reply: true } }
          : {}),
      }),
    );
  }

  /** Posts text and files; returns the id of the first message (the one replies point to). */
  private async postContent(
    running: Running,
    threadId: string,
    text: string,
    attachments: Attachment[],
    options: { replyTo: string | undefined; silent: boolean },
  ): Promise<string> {
    const chatId = running.facts.chatId;
    const base: SendOptions = {
      message_thread_id: Number(threadId),
      ...(options.silent ? { disable_notification: true } : {}),
    };
    const withReply: SendOptions = options.replyTo
      ? { ...base, reply_parameters: { message_id: Number(options.replyTo), allow_sending_without_reply: true } }
      : base;
    const ids: number[] = [];
    const captionFits = text.length > 0 && visibleLength(text, this.markup) <= CAPTION_LIMIT;
    if (attachments.length === 0 || (text.length > 0 && !captionFits)) {
      const posted = await this.paced(() =>
        running.api.sendMessage(chatId, text, { ...withReply, parse_mode: this.markup.parseMode }),
      );
      ids.push(posted.message_id);
    }
    for (const attachment of attachments) {
      const first = ids.length === 0;
      ids.push(
        await this.sendAttachment(
          running,
          attachment,
          first ? withReply : base,
          first && captionFits ? text : undefined,
        ),
      );
    }
    const [head, ...rest] = ids;
    if (rest.length > 0) this.companions.set(String(head), rest);
    return String(head);
  }

  private async sendAttachment(
    running: Running,
    attachment: Attachment,
    options: SendOptions,
    caption: string | undefined,
  ): Promise<number> {
    const chatId = running.facts.chatId;
    const source: FileSource = await loadAttachment(attachment);
    const withCaption = caption ? { ...options, caption, parse_mode: this.markup.parseMode } : options;
    if (isPhoto(attachment)) {
      try {
        return (await this.paced(() => running.api.sendPhoto(chatId, toInput(source), withCaption))).message_id;
      } catch (err) {
        // Photos have extra limits (size, dimensions); the same file still goes as a document.
        if (!isBadRequest(err) || isThreadGone(err)) throw err;
      }
    }
    try {
      return (await this.paced(() => running.api.sendDocument(chatId, toInput(source), withCaption))).message_id;
    } catch (err) {
      if (!('url' in source) || !isBadRequest(err) || isThreadGone(err)) throw err;
      // Telegram could not fetch the URL (not public): a link still lets the operator open it.
      const link = `📎 ${this.markup.link(attachment.filename, attachment.url)}`;
      const text = caption ? `${caption}\n${link}` : link;
      const posted = await this.paced(() =>
        running.api.sendMessage(chatId, text, { ...options, parse_mode: this.markup.parseMode }),
      );
      return posted.message_id;
    }
  }

  private async editContent(running: Running, messageId: number, text: string, preferCaption: boolean): Promise<void> {
    const chatId = running.facts.chatId;
    const parse_mode = this.markup.parseMode;
    const byText = () =>
      this.paced(() =>
        running.api.editMessageText(chatId, messageId, text, {
          parse_mode,
          link_preview_options: { is_disabled: true },
        }),
      );
    const byCaption = () =>
      this.paced(() => running.api.editMessageCaption(chatId, messageId, { caption: text, parse_mode }));
    const [first, second] = preferCaption ? [byCaption, byText] : [byText, byCaption];
    try {
      await first();
    } catch (err) {
      if (isNotModified(err)) return;
      if (!isWrongEditKind(err)) throw err;
      try {
        await second();
      } catch (err2) {
        if (!isNotModified(err2)) throw err2;
      }
    }
  }
}
