import type { Bridge, BridgeContext, BridgeMessageContext, BridgeSendResult } from './bridge.js';
import type { Message, Session } from './models.js';

/** A message as it sits on the in-memory "platform". */
export interface MemoryPlatformMessage {
  platformMessageId: string;
  threadId: string;
  text: string;
  /** `visitor`, `operator`, `notice`, or `mirror` for operator replies mirrored from elsewhere. */
  kind: 'visitor' | 'operator' | 'notice' | 'mirror';
  replyTo?: string;
  edited?: boolean;
  deleted?: boolean;
}

/**
 * A bridge whose "platform" is a few arrays in memory: one thread per session, like the real
 * bridges. For tests and examples; it can also play the operator (`reply`, `editReply`, ...).
 *
 * @example
 * ```ts
 * const bridge = new MemoryBridge();
 * const pp = new PocketPing({ bridges: [bridge] });
 * // ... a visitor writes, then:
 * await bridge.reply(bridge.threadOf(sessionId)!, 'Hello from the operator', { operatorName: 'Ana' });
 * ```
 */
export class MemoryBridge implements Bridge {
  readonly name: string;
  /** Every message posted, in order. */
  readonly messages: MemoryPlatformMessage[] = [];
  /** Threads by id, with the session they belong to. */
  readonly threads = new Map<string, { sessionId: string; title: string; closed: boolean }>();
  /** Typing calls received, in order. */
  readonly typing: { sessionId: string; isTyping: boolean }[] = [];
  private ctx?: BridgeContext;
  private counter = 0;
  private closedCount = 0;

  constructor(options: { name?: string } = {}) {
    this.name = options.name ?? 'memory';
  }

  /** True once `init` ran and `close` did not. */
  get running(): boolean {
    return this.ctx !== undefined && this.closedCount === 0;
  }

  init(ctx: BridgeContext): void {
    this.ctx = ctx;
    this.closedCount = 0;
  }

  close(): void {
    this.closedCount++;
  }

  /** The thread id of a session, if one was opened. */
  threadOf(sessionId: string): string | undefined {
    for (const [id, t] of this.threads) if (t.sessionId === sessionId) return id;
    return undefined;
  }

  /** Messages in one thread, in order. */
  thread(threadId: string): MemoryPlatformMessage[] {
    return this.messages.filter((m) => m.threadId === threadId);
  }

  private ensureThread(session: Session): string {
    const known = session.bridgeThreads?.[this.name];
    if (known && this.threads.has(known)) {
      const t = this.threads.get(known)!;
      t.closed = false;
      return known;
    }
    const id = `thread-${++this.counter}`;
    this.threads.set(id, { sessionId: session.id, title: session.identity?.name ?? session.visitorId, closed: false });
    return id;
  }

  private post(threadId: string, text: string, kind: MemoryPlatformMessage['kind'], replyTo?: string): string {
    const platformMessageId = `pm-${++this.counter}`;
    this.messages.push({ platformMessageId, threadId, text, kind, ...(replyTo ? { replyTo } : {}) });
    return platformMessageId;
  }

  async onVisitorMessage(message: Message, session: Session, context: BridgeMessageContext): Promise<BridgeSendResult> {
    const threadId = this.ensureThread(session);
    const files = (message.attachments ?? []).map((a) => `[file ${a.filename}]`).join(' ');
    const text = [message.content, files].filter(Boolean).join(' ');
    return { platformMessageId: this.post(threadId, text, 'visitor', context.replyToPlatformMessageId), threadId };
  }

  async onOperatorMessage(
    message: Message,
    session: Session,
    context: BridgeMessageContext,
  ): Promise<BridgeSendResult> {
    const threadId = this.ensureThread(session);
    const who = context.operatorName ?? (message.sender === 'ai' ? 'AI' : 'Operator');
    const via = context.sourceBridge ? ` via ${context.sourceBridge}` : '';
    return {
      platformMessageId: this.post(
        threadId,
        `${who}${via}: ${message.content}`,
        'mirror',
        context.replyToPlatformMessageId,
      ),
      threadId,
    };
  }

  async onMessageEdit(message: Message, _session: Session, platformMessageId: string): Promise<void> {
    const m = this.messages.find((x) => x.platformMessageId === platformMessageId);
    if (!m) return;
    m.text = m.kind === 'mirror' ? m.text.replace(/: .*$/s, `: ${message.content}`) : message.content;
    m.edited = true;
  }

  async onMessageDelete(_message: Message, _session: Session, platformMessageId: string): Promise<void> {
    const m = this.messages.find((x) => x.platformMessageId === platformMessageId);
    if (m) m.deleted = true;
  }

  async onTyping(session: Session, isTyping: boolean): Promise<void> {
    this.typing.push({ sessionId: session.id, isTyping });
  }

  async onSessionClosed(session: Session): Promise<void> {
    const id = session.bridgeThreads?.[this.name];
    const t = id ? this.threads.get(id) : undefined;
    if (t) t.closed = true;
  }

  async onNotice(session: Session, text: string): Promise<void> {
    const id = session.bridgeThreads?.[this.name];
    if (id) this.post(id, text, 'notice');
  }

  async onIdentityUpdate(session: Session): Promise<void> {
    const id = session.bridgeThreads?.[this.name];
    const t = id ? this.threads.get(id) : undefined;
    if (t) t.title = session.identity?.name ?? session.identity?.email ?? t.title;
  }

  private context(): BridgeContext {
    if (!this.ctx) throw new Error('MemoryBridge is not initialized: call pocketping.init() first');
    return this.ctx;
  }

  /** Plays an operator replying in a thread; returns our stored message. */
  async reply(
    threadId: string,
    text: string,
    options: { operatorName?: string; replyTo?: string } = {},
  ): Promise<Message> {
    const ctx = this.context();
    const session = await ctx.findSessionByThread(threadId);
    if (!session) throw new Error(`no session for thread ${threadId}`);
    const platformMessageId = this.post(threadId, text, 'operator', options.replyTo);
    return ctx.operatorMessage({
      sessionId: session.id,
      content: text,
      platformMessageId,
      ...(options.operatorName ? { operatorName: options.operatorName } : {}),
      ...(options.replyTo ? { replyToPlatformMessageId: options.replyTo } : {}),
    });
  }

  /** Plays an operator editing one of their platform messages. */
  async editReply(platformMessageId: string, text: string): Promise<Message | null> {
    const m = this.messages.find((x) => x.platformMessageId === platformMessageId);
    if (m) {
      m.text = text;
      m.edited = true;
    }
    return this.context().operatorEdit({ platformMessageId, content: text });
  }

  /** Plays an operator deleting one of their platform messages. */
  async deleteReply(platformMessageId: string): Promise<Message | null> {
    const m = this.messages.find((x) => x.platformMessageId === platformMessageId);
    if (m) m.deleted = true;
    return this.context().operatorDelete({ platformMessageId });
  }
}
