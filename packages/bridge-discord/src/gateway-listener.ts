import type { Attachment, BridgeContext } from '@pocketping/core';
import {
  type Client,
  type Collection,
  Events,
  type Message,
  MessageType,
  type PartialMessage,
  type Snowflake,
  type Typing,
} from 'discord.js';
import { download } from './files.js';

type AnyMessage = Message | PartialMessage;

const HUMAN_MESSAGE_TYPES = new Set<MessageType>([MessageType.Default, MessageType.Reply]);

/**
 * Bot mode, inbound: what people write, edit, delete and type in a session's thread reaches
 * the widget. Bot and webhook messages (ours included) are ignored, each Discord message is
 * applied once, and events of one thread are handled in the order they arrived.
 */
export class GatewayListener {
  private readonly chains = new Map<string, Promise<void>>();
  private readonly handlers: [string, (...args: never[]) => void][];

  constructor(
    private readonly client: Client,
    private readonly ctx: BridgeContext,
    private readonly maxFileBytes: number,
  ) {
    this.handlers = [
      [Events.MessageCreate, (m: Message) => this.enqueue(m.channelId, () => this.onCreate(m))],
      [Events.MessageUpdate, (_old: AnyMessage, m: AnyMessage) => this.enqueue(m.channelId, () => this.onUpdate(m))],
      [Events.MessageDelete, (m: AnyMessage) => this.enqueue(m.channelId, () => this.onDelete(m))],
      [
        Events.MessageBulkDelete,
        (messages: Collection<Snowflake, AnyMessage>) => {
          for (const m of messages.values()) this.enqueue(m.channelId, () => this.onDelete(m));
        },
      ],
      [Events.TypingStart, (t: Typing) => this.enqueue(t.channel.id, () => this.onTyping(t))],
    ];
  }

  /** Starts listening on the client. */
  attach(): void {
    for (const [event, handler] of this.handlers) this.client.on(event, handler as (...args: unknown[]) => void);
  }

  /** Stops listening and waits for events already being handled. */
  async detach(): Promise<void> {
    for (const [event, handler] of this.handlers) this.client.off(event, handler as (...args: unknown[]) => void);
    await Promise.allSettled([...this.chains.values()]);
  }

  // A small per-thread promise chain: Gateway events are emitted synchronously, but handling
  // them is async, and two quick replies must reach the widget in the order they were written.
  private enqueue(channelId: string, work: () => Promise<void>): void {
    const previous = this.chains.get(channelId) ?? Promise.resolve();
    const next = previous
      .then(work)
      .catch((err) =>
        this.ctx.logger.warn(
          { bridge: this.ctx.bridgeName, channelId, err },
          '@pocketping/bridge-discord: could not apply a Discord event',
        ),
      );
    this.chains.set(channelId, next);
    void next.then(() => {
      if (this.chains.get(channelId) === next) this.chains.delete(channelId);
    });
  }

  private fromBot(m: AnyMessage): boolean {
    return m.author?.bot === true || m.webhookId != null || m.author?.id === this.client.user?.id;
  }

  private async onCreate(m: Message): Promise<void> {
    if (this.fromBot(m) || m.system || !HUMAN_MESSAGE_TYPES.has(m.type)) return;
    const session = await this.ctx.findSessionByThread(m.channelId);
    if (!session) return;
    if (!(await this.ctx.firstDelivery(`create:${m.id}`))) return;
    // Applied already, by this instance or by the one that held the Gateway before: core would
    // keep one message anyway; skipping here also avoids downloading and storing its files twice.
    if (await this.ctx.findMessageByPlatformId(m.id)) return;

    const attachments: Attachment[] = [];
    const links: string[] = [];
    // Files PocketPing would refuse anyway are linked without being downloaded (the context
    // reports the limit since core added `maxAttachmentSize`; older cores do not).
    const accepted = (this.ctx as { maxAttachmentSize?: number }).maxAttachmentSize ?? Number.POSITIVE_INFINITY;
    const limit = Math.min(this.maxFileBytes, accepted);
    for (const file of m.attachments.values()) {
      const fetched = file.size <= limit ? await download(file.url, limit) : null;
      if (!fetched) {
        links.push(file.url);
        continue;
      }
      try {
        attachments.push(
          await this.ctx.storeFile(session.id, {
            filename: file.name,
            mimeType: file.contentType ?? fetched.mimeType ?? 'application/octet-stream',
            data: fetched.data,
            bridgeFileId: file.id,
          }),
        );
      } catch (err) {
        // No attachment store, a type or size PocketPing refuses: the visitor still gets a link.
        this.ctx.logger.warn(
          { bridge: this.ctx.bridgeName, sessionId: session.id, err },
          '@pocketping/bridge-discord: could not store an operator file; sending its link instead',
        );
        links.push(file.url);
      }
    }
    const stickers = [...m.stickers.values()].map((s) => `[sticker: ${s.name}]`);
    const content = [m.cleanContent, ...stickers, ...links].filter((s) => s.length > 0).join('\n');
    if (content.trim().length === 0 && attachments.length === 0) return;

    const operatorName = m.member?.displayName ?? m.author.displayName ?? m.author.username;
    await this.ctx.operatorMessage({
      sessionId: session.id,
      content,
      operatorName,
      platformMessageId: m.id,
      ...(m.reference?.messageId ? { replyToPlatformMessageId: m.reference.messageId } : {}),
      ...(attachments.length > 0 ? { attachments } : {}),
    });
  }

  private async onUpdate(m: AnyMessage): Promise<void> {
    if (this.fromBot(m) || typeof m.content !== 'string') return;
    const session = await this.ctx.findSessionByThread(m.channelId);
    if (!session) return;
    if (!(await this.ctx.firstDelivery(`edit:${m.id}:${m.editedTimestamp ?? ''}:${m.content}`))) return;
    await this.ctx.operatorEdit({ platformMessageId: m.id, content: m.content });
  }

  private async onDelete(m: AnyMessage): Promise<void> {
    // A deleted message may be uncached (author unknown): what matters is that it is an operator
    // message that came from this bridge, not one PocketPing posted here.
    const stored = await this.ctx.findMessageByPlatformId(m.id);
    if (!stored || stored.source !== this.ctx.bridgeName) return;
    if (!(await this.ctx.firstDelivery(`delete:${m.id}`))) return;
    await this.ctx.operatorDelete({ platformMessageId: m.id });
  }

  private async onTyping(t: Typing): Promise<void> {
    if (t.user.bot) return;
    const session = await this.ctx.findSessionByThread(t.channel.id);
    if (session) await this.ctx.operatorTyping(session.id, true);
  }
}
