import type { Attachment, BridgeContext, BridgeWebhookRequest, BridgeWebhookResponse, Logger } from '@pocketping/core';
import { downloadSlackFile, type SlackFile } from './file-download.js';
import { fromSlackText } from './format.js';
import type { BotIdentity } from './setup.js';
import { verifySlackSignature } from './signature.js';
import type { UserNameCache } from './user-names.js';

/** The fields of a Slack message (in an event) that the bridge reads. */
export interface SlackMessage {
  type?: string;
  subtype?: string;
  channel?: string;
  user?: string;
  bot_id?: string;
  text?: string;
  ts?: string;
  thread_ts?: string;
  hidden?: boolean;
  files?: SlackFile[];
  message?: SlackMessage;
  previous_message?: SlackMessage;
  deleted_ts?: string;
}

/** An Events API request body. */
interface EventEnvelope {
  type?: string;
  challenge?: string;
  event_id?: string;
  event?: SlackMessage;
}

/** What the receiver needs from the bridge. */
export interface EventsReceiverDeps {
  channelId: string;
  signingSecret: string;
  botToken: string;
  /** Origin of a custom `apiUrl`, also trusted for file downloads. */
  apiOrigin?: string;
  context(): BridgeContext | undefined;
  identity(): BotIdentity;
  logger(): Logger;
  users: UserNameCache;
}

/**
 * Receives Slack's Events API requests: verifies the signature before anything else, answers
 * `url_verification`, acknowledges events at once and applies them in the background, in order
 * per thread, each `event_id` once.
 */
export class SlackEventsReceiver {
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly deps: EventsReceiverDeps) {}

  /** Handles one HTTP request (the server passes the raw body for the signature). */
  async handle(request: BridgeWebhookRequest): Promise<BridgeWebhookResponse> {
    const check = verifySlackSignature({
      signingSecret: this.deps.signingSecret,
      signature: request.headers['x-slack-signature'],
      timestamp: request.headers['x-slack-request-timestamp'],
      rawBody: request.rawBody,
    });
    if (!check.ok) {
      this.deps.logger().warn({ reason: check.reason }, 'slack: refused an events request');
      return { status: 401, body: { error: 'invalid signature' } };
    }
    if (request.method !== 'POST') return { status: 405, body: { error: 'method not allowed' } };
    let envelope: EventEnvelope;
    try {
      envelope = JSON.parse(request.rawBody) as EventEnvelope;
    } catch {
      return { status: 400, body: { error: 'body is not JSON' } };
    }
    if (envelope?.type === 'url_verification') {
      return { status: 200, body: { challenge: envelope.challenge ?? '' } };
    }
    if (envelope?.type !== 'event_callback' || !envelope.event) return { status: 200, body: { ok: true } };
    const ctx = this.deps.context();
    // Not started yet (or closed): a non-2xx answer makes Slack deliver the event again later.
    if (!ctx) return { status: 503, body: { error: 'bridge not initialized' } };
    const event = envelope.event;
    const thread = event.thread_ts ?? event.message?.thread_ts ?? event.previous_message?.thread_ts ?? '';
    this.enqueue(`${event.channel ?? ''}:${thread}`, () => this.apply(envelope, ctx));
    // Acknowledged before processing: Slack wants an answer within 3 seconds.
    return { status: 200, body: { ok: true } };
  }

  /** Resolves once every event received so far has been applied. */
  async idle(): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
  }

  private enqueue(key: string, task: () => Promise<void>): void {
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(task).catch((err: unknown) => {
      this.deps.logger().error({ err }, 'slack: could not apply an event from Slack');
    });
    this.chains.set(key, next);
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  private async apply(envelope: EventEnvelope, ctx: BridgeContext): Promise<void> {
    // Slack retries (X-Slack-Retry-Num) carry the same event_id.
    if (envelope.event_id && !(await ctx.firstDelivery(`event:${envelope.event_id}`))) return;
    const event = envelope.event!;
    if (event.type !== 'message' || event.channel !== this.deps.channelId) return;
    switch (event.subtype) {
      case undefined:
      case 'file_share':
      case 'thread_broadcast':
        return this.onMessage(event, ctx);
      case 'message_changed':
        return this.onChanged(event, ctx);
      case 'message_deleted':
        return this.onDeleted(event, ctx);
      default:
        // bot_message, channel_join, and the other system messages.
        return;
    }
  }

  /** Bot posts (ours and other apps') never become operator messages: no echo loops. */
  private fromBot(m: SlackMessage): boolean {
    const me = this.deps.identity();
    return Boolean(
      m.bot_id ||
        m.subtype === 'bot_message' ||
        (me.userId && m.user === me.userId) ||
        (me.botId && m.bot_id === me.botId),
    );
  }

  /** A reply inside a thread (not the thread's parent, not a top-level channel message). */
  private isThreadReply(m: SlackMessage): m is SlackMessage & { ts: string; thread_ts: string } {
    return Boolean(m.ts && m.thread_ts && m.thread_ts !== m.ts);
  }

  private async plainText(text: string | undefined): Promise<string> {
    if (!text) return '';
    const ids = [...new Set([...text.matchAll(/<@([A-Z0-9]+)(?:\|[^>]*)?>/g)].map((m) => m[1]!))];
    const names = new Map<string, string | undefined>();
    for (const id of ids) names.set(id, await this.deps.users.get(id));
    return fromSlackText(text, (id) => names.get(id));
  }

  private async onMessage(event: SlackMessage, ctx: BridgeContext): Promise<void> {
    if (event.hidden || this.fromBot(event) || !this.isThreadReply(event) || !event.user) return;
    const session = await ctx.findSessionByThread(event.thread_ts);
    if (!session) return;
    const [operatorName, content] = await Promise.all([this.deps.users.get(event.user), this.plainText(event.text)]);
    const attachments: Attachment[] = [];
    for (const file of event.files ?? []) {
      if (file.mode === 'tombstone' || file.mode === 'hidden_by_limit') continue;
      try {
        const incoming = await downloadSlackFile(file, {
          botToken: this.deps.botToken,
          ...(this.deps.apiOrigin ? { extraOrigin: this.deps.apiOrigin } : {}),
        });
        attachments.push(await ctx.storeFile(session.id, incoming));
      } catch (err) {
        ctx.logger.warn(
          { err, fileId: file.id, sessionId: session.id },
          'slack: could not bring a file over from Slack',
        );
      }
    }
    if (content.trim().length === 0 && attachments.length === 0) return;
    await ctx.operatorMessage({
      sessionId: session.id,
      content,
      platformMessageId: event.ts,
      ...(operatorName ? { operatorName } : {}),
      ...(attachments.length > 0 ? { attachments } : {}),
    });
  }

  private async onChanged(event: SlackMessage, ctx: BridgeContext): Promise<void> {
    const m = event.message;
    if (!m || this.fromBot(m) || !this.isThreadReply(m)) return;
    // Unfurls and reply counters also arrive as message_changed, with the text unchanged.
    if (event.previous_message && event.previous_message.text === m.text) return;
    const content = await this.plainText(m.text);
    if (content.trim().length === 0) return;
    await ctx.operatorEdit({ platformMessageId: m.ts, content });
  }

  private async onDeleted(event: SlackMessage, ctx: BridgeContext): Promise<void> {
    const previous = event.previous_message;
    if (!event.deleted_ts || (previous && this.fromBot(previous))) return;
    await ctx.operatorDelete({ platformMessageId: event.deleted_ts });
  }
}
