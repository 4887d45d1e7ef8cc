import { randomInt } from 'node:crypto';
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import {
  type Bridge,
  type BridgeContext,
  type BridgeMessageContext,
  type BridgeSendResult,
  describeSession,
  type Message,
  type Session,
  SetupError,
} from '@pocketping/core';
import { type ConsoleBridgeOptions, type ConsoleBridgeSettings, PACKAGE_NAME, parseSettings } from './options.js';
import { parseReplyLine } from './reply-line.js';

const LABEL_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';
const DOCS_URL = 'https://github.com/pocketping/pocketping-ts/tree/main/examples/bridge-console';

/**
 * A bridge whose "platform" is a terminal. Each conversation gets a short label; visitor
 * messages are printed as `[label] visitor: text`, and the operator answers by typing
 * `label reply text` (or `label /close`). The label is the conversation's thread id.
 *
 * @example
 * ```ts
 * const pp = new PocketPing({ bridges: [new ConsoleBridge({ operatorName: 'Ana' })] });
 * await pp.init(); // prints to stdout, reads replies from stdin
 * ```
 */
export class ConsoleBridge implements Bridge {
  readonly name: string;
  private readonly settings: ConsoleBridgeSettings;
  private readonly input: Readable | undefined;
  private readonly output: Writable | undefined;
  private ctx: BridgeContext | undefined;
  private lines: Interface | undefined;
  /** Replies are applied one at a time, in the order they were typed. */
  private replies: Promise<void> = Promise.resolve();

  constructor(options: ConsoleBridgeOptions = {}) {
    const { input, output, ...data } = options;
    this.settings = parseSettings(data);
    this.name = this.settings.name;
    this.input = input;
    this.output = output;
  }

  private get in(): Readable {
    return this.input ?? process.stdin;
  }

  private get out(): Writable {
    return this.output ?? process.stdout;
  }

  /** Fails with a setup guide when replies cannot be read or messages cannot be printed. */
  async check(): Promise<void> {
    const input = this.in;
    if (!input.readable || input.readableEnded || input.destroyed) {
      throw new SetupError({
        component: 'Console bridge',
        problem: 'the input stream is closed, so operator replies cannot be read',
        steps: [
          'Start pocketping-server in a terminal (stdin must stay open, not </dev/null)',
          'Or remove the console bridge from config.yaml',
        ],
        docsUrl: DOCS_URL,
      });
    }
    const output = this.out;
    if (!output.writable || output.destroyed) {
      throw new SetupError({
        component: 'Console bridge',
        problem: 'the output stream is closed, so visitor messages cannot be shown',
        steps: ['Start pocketping-server with a terminal attached'],
        docsUrl: DOCS_URL,
      });
    }
  }

  /** Starts reading replies. */
  async init(ctx: BridgeContext): Promise<void> {
    await this.check();
    this.ctx = ctx;
    this.lines = createInterface({ input: this.in, crlfDelay: Number.POSITIVE_INFINITY });
    this.lines.on('line', (line) => {
      this.replies = this.replies.then(() => this.handleLine(line));
    });
    this.print(`${PACKAGE_NAME} ready: answer a conversation by typing "<label> <reply>" (or "<label> /close")`);
  }

  /** Stops reading replies; the streams stay open (they are not ours). Safe to call twice. */
  async close(): Promise<void> {
    const lines = this.lines;
    this.lines = undefined;
    lines?.close();
    await this.replies;
  }

  async onVisitorMessage(message: Message, session: Session, context: BridgeMessageContext): Promise<BridgeSendResult> {
    const label = await this.threadOf(session);
    const files = (message.attachments ?? []).map((a) => `[file: ${a.filename}]`);
    const quote = context.replyTo ? `(replying to "${excerpt(context.replyTo.content)}") ` : '';
    this.post(label, `visitor: ${quote}${[message.content, ...files].filter(Boolean).join(' ')}`);
    return { platformMessageId: message.id, threadId: label };
  }

  async onOperatorMessage(
    message: Message,
    session: Session,
    context: BridgeMessageContext,
  ): Promise<BridgeSendResult> {
    const label = await this.threadOf(session);
    const who = context.operatorName ?? (message.sender === 'ai' ? 'AI' : 'operator');
    const via = context.sourceBridge ? ` via ${context.sourceBridge}` : '';
    this.post(label, `${who}${via}: ${message.content}`);
    return { platformMessageId: message.id, threadId: label };
  }

  // A terminal cannot change printed lines: edits and deletes are printed as notices.
  async onMessageEdit(message: Message, session: Session): Promise<void> {
    const label = session.bridgeThreads?.[this.name];
    if (label) this.post(label, `${message.sender} edited a message: ${message.content}`);
  }

  async onMessageDelete(message: Message, session: Session): Promise<void> {
    const label = session.bridgeThreads?.[this.name];
    // The content is already gone; the send time tells the operator which message it was.
    if (label)
      this.post(label, `${message.sender} deleted a message (sent at ${message.timestamp.toTimeString().slice(0, 5)})`);
  }

  async onIdentityUpdate(session: Session): Promise<void> {
    const label = session.bridgeThreads?.[this.name];
    if (label) this.post(label, `visitor is now ${describeSession(session).title}`);
  }

  async onSessionClosed(session: Session): Promise<void> {
    const label = session.bridgeThreads?.[this.name];
    if (label) this.post(label, 'conversation closed');
  }

  async onNotice(session: Session, text: string): Promise<void> {
    const label = session.bridgeThreads?.[this.name];
    if (label) this.post(label, `· ${text}`);
  }

  /** The session's label, opening the conversation (and printing its card) on first use. */
  private async threadOf(session: Session): Promise<string> {
    const known = session.bridgeThreads?.[this.name];
    if (known) return known;
    const ctx = this.context();
    let label = this.randomLabel();
    // Labels are short enough to type, so make sure this one is not taken.
    while (await ctx.findSessionByThread(label)) label = this.randomLabel();
    // Stored before anything is printed: a retry of this delivery reuses the label.
    await ctx.setThread(session.id, label);
    const card = describeSession(session);
    this.post(label, `── new conversation: ${card.title}`);
    for (const field of card.fields) this.post(label, `   ${field.label}: ${field.value}`);
    return label;
  }

  private async handleLine(line: string): Promise<void> {
    const reply = parseReplyLine(line);
    if (!reply) return;
    const ctx = this.context();
    try {
      const session = await ctx.findSessionByThread(reply.label);
      if (!session) {
        this.print(`! no conversation [${reply.label}]; type the label shown before the visitor's message`);
        return;
      }
      if (reply.text === '') {
        this.print(`! nothing to send to [${reply.label}]; type "${reply.label} your reply"`);
      } else if (reply.text === '/close') {
        await ctx.closeSession(session.id);
      } else {
        await ctx.operatorMessage({
          sessionId: session.id,
          content: reply.text,
          ...(this.settings.operatorName ? { operatorName: this.settings.operatorName } : {}),
        });
      }
    } catch (err) {
      this.print(`! [${reply.label}] not sent: ${(err as Error).message}`);
    }
  }

  private randomLabel(): string {
    let label = '';
    for (let i = 0; i < this.settings.labelLength; i++) label += LABEL_ALPHABET[randomInt(LABEL_ALPHABET.length)];
    return label;
  }

  /** Prints text in a conversation: every line starts with its label. */
  private post(label: string, text: string): void {
    const [first = '', ...rest] = text.split(/\r?\n/);
    this.print([`[${label}] ${first}`, ...rest.map((l) => `[${label}]    ${l}`)].join('\n'));
  }

  private print(text: string): void {
    this.out.write(`${text}\n`);
  }

  private context(): BridgeContext {
    if (!this.ctx) throw new Error(`${PACKAGE_NAME}: not initialized; PocketPing.init() starts the bridge`);
    return this.ctx;
  }
}

function excerpt(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 40 ? `${oneLine.slice(0, 39)}…` : oneLine;
}
