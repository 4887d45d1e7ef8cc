import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BridgeFake, FakePost } from '@pocketping/conformance';

/**
 * A local fake of the Telegram Bot API for tests: real HTTP on 127.0.0.1, `POST
 * /bot<token>/<method>` with JSON or multipart bodies, chats, forum topics and messages in
 * memory, Telegram-shaped results and error descriptions, files under `/file/bot<token>/`,
 * updates by webhook or `getUpdates`, and errors (429 included) on demand.
 */

export const FAKE_TOKEN = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
export const FAKE_CHAT_ID = -1001234567890;

export interface FakeUser {
  id: number;
  is_bot: boolean;
  first_name: string;
  username?: string;
}

export const BOT_USER: FakeUser = {
  id: 7_000_001,
  is_bot: true,
  first_name: 'PocketPing',
  username: 'pocketping_test_bot',
};
export const ANA: FakeUser = { id: 42, is_bot: false, first_name: 'Ana', username: 'ana' };
export const OTHER_BOT: FakeUser = { id: 7_000_002, is_bot: true, first_name: 'Helper', username: 'helper_bot' };

export interface FakeFile {
  fileId: string;
  uniqueId: string;
  path: string;
  bytes: Uint8Array;
  filename?: string;
  mimeType?: string;
}

export interface FakeMessage {
  message_id: number;
  thread_id?: number;
  from: FakeUser;
  kind: 'text' | 'photo' | 'document' | 'service';
  /** Raw text or caption as sent (with markup). */
  raw: string;
  /** What a reader sees: markup removed, entities decoded. */
  visible: string;
  /** Bold spans of the visible text. */
  bold: string[];
  parse_mode?: string;
  file?: FakeFile & { url?: string };
  reply_to?: number;
  deleted: boolean;
  edited: boolean;
  silent: boolean;
  service?: string;
  at: number;
}

export interface FakeTopic {
  threadId: number;
  name: string;
  closed: boolean;
  deleted: boolean;
}

export interface FakeCall {
  method: string;
  params: Record<string, unknown>;
  at: number;
  /**
   * The first path segment when the client's `apiRoot` has one (`{apiRoot}/a` → `'a'`): tells
   * apart several bridges that share this fake.
   */
  via?: string;
}

export interface FakeApiError {
  error_code: number;
  description: string;
  parameters?: { retry_after?: number; migrate_to_chat_id?: number };
}

export interface FakeTelegramOptions {
  /** The only token the fake accepts. */
  token?: string;
  /** The group; `is_forum: false` or `type: 'group'` for setup failures. */
  chat?: {
    id?: number;
    type?: 'supergroup' | 'group' | 'private';
    is_forum?: boolean;
    title?: string;
    username?: string;
  };
  /** The bot's standing in the group. */
  botRights?: 'creator' | 'admin' | 'admin-no-topics' | 'admin-no-delete' | 'member' | 'absent';
}

class ApiFailure extends Error {
  constructor(readonly body: FakeApiError) {
    super(body.description);
  }
}

const bad = (description: string): ApiFailure =>
  new ApiFailure({ error_code: 400, description: `Bad Request: ${description}` });

const ALLOWED_HTML = new Set([
  'b',
  'strong',
  'i',
  'em',
  'u',
  'ins',
  's',
  'strike',
  'del',
  'a',
  'code',
  'pre',
  'tg-spoiler',
  'span',
  'blockquote',
  'tg-emoji',
]);

/** Parses Telegram HTML like the Bot API does; throws its error for bad markup. */
function parseHtml(text: string): { visible: string; bold: string[] } {
  let visible = '';
  const stack: { tag: string; start: number }[] = [];
  const bold: string[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '<') {
      const m = /^<(\/?)([a-zA-Z-]+)((?:\s+[a-z-]+="[^"]*")*)\s*>/.exec(text.slice(i));
      if (!m) throw bad(`can't parse entities: Unsupported start tag at byte offset ${i}`);
      const [whole, closing, rawTag] = m;
      const tag = rawTag!.toLowerCase();
      if (!ALLOWED_HTML.has(tag)) throw bad(`can't parse entities: Unsupported start tag "${tag}" at byte offset ${i}`);
      if (closing) {
        const open = stack.pop();
        if (!open || open.tag !== tag) throw bad(`can't parse entities: Unmatched end tag at byte offset ${i}`);
        if (tag === 'b' || tag === 'strong') bold.push(visible.slice(open.start));
      } else {
        stack.push({ tag, start: visible.length });
      }
      i += whole!.length;
      continue;
    }
    if (ch === '>') throw bad(`can't parse entities: Unsupported character ">" at byte offset ${i}`);
    if (ch === '&') {
      const m = /^&(lt|gt|amp|quot|#\d+|#x[0-9a-f]+);/i.exec(text.slice(i));
      if (!m) throw bad(`can't parse entities: Unsupported HTML entity at byte offset ${i}`);
      const name = m[1]!.toLowerCase();
      visible +=
        name === 'lt'
          ? '<'
          : name === 'gt'
            ? '>'
            : name === 'amp'
              ? '&'
              : name === 'quot'
                ? '"'
                : String.fromCodePoint(
                    name.startsWith('#x') ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1)),
                  );
      i += m[0].length;
      continue;
    }
    visible += ch;
    i++;
  }
  if (stack.length > 0)
    throw bad(`can't parse entities: Can't find end tag corresponding to start tag "${stack[0]!.tag}"`);
  return { visible, bold };
}

const MD_RESERVED = new Set('_*[]()~`>#+-=|{}.!'.split(''));

/** Parses the subset of MarkdownV2 the bridge writes (bold, italic, links); strict like Telegram. */
function parseMarkdownV2(text: string): { visible: string; bold: string[] } {
  let visible = '';
  const bold: string[] = [];
  let boldStart: number | undefined;
  let italic = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '\\') {
      visible += text[i + 1] ?? '';
      i += 2;
      continue;
    }
    if (ch === '*') {
      if (boldStart === undefined) boldStart = visible.length;
      else {
        bold.push(visible.slice(boldStart));
        boldStart = undefined;
      }
      i++;
      continue;
    }
    if (ch === '_') {
      italic = !italic;
      i++;
      continue;
    }
    if (ch === '[') {
      const close = text.indexOf('](', i);
      const end = text.indexOf(')', close + 2);
      if (close < 0 || end < 0) throw bad(`can't parse entities: Can't find end of a URL at byte offset ${i}`);
      visible += parseMarkdownV2(text.slice(i + 1, close)).visible;
      i = end + 1;
      continue;
    }
    if (MD_RESERVED.has(ch)) {
      throw bad(`can't parse entities: Character '${ch}' is reserved and must be escaped with the preceding '\\'`);
    }
    visible += ch;
    i++;
  }
  if (boldStart !== undefined) throw bad(`can't parse entities: Can't find end of Bold entity at byte offset ${i}`);
  if (italic) throw bad(`can't parse entities: Can't find end of Italic entity at byte offset ${i}`);
  return { visible, bold };
}

function render(text: string, parseMode: unknown): { visible: string; bold: string[] } {
  if (parseMode === 'HTML') return parseHtml(text);
  if (parseMode === 'MarkdownV2') return parseMarkdownV2(text);
  return { visible: text, bold: [] };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

type Params = Record<string, unknown>;

/**
 * Splits a multipart/form-data body. Written by hand because the Bot API accepts the compact
 * headers grammy sends (`content-disposition:form-data;name="x";filename=a.png`), which the
 * strict parser behind `Request.formData()` refuses.
 */
function parseMultipart(
  body: Buffer,
  boundary: string,
): { name: string; filename?: string; type?: string; data: Uint8Array }[] {
  const parts: { name: string; filename?: string; type?: string; data: Uint8Array }[] = [];
  const delimiter = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delimiter);
  while (pos >= 0) {
    const start = pos + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next < 0) break;
    const chunk = body.subarray(start + 2, next - 2); // skip CRLF after the delimiter and before the next
    const headerEnd = chunk.indexOf('\r\n\r\n');
    const headers = chunk.subarray(0, headerEnd).toString('utf8');
    const data = new Uint8Array(chunk.subarray(headerEnd + 4));
    const name = /name="([^"]*)"/i.exec(headers)?.[1] ?? '';
    const filename = /filename="?([^";\r\n]*)"?/i.exec(headers)?.[1];
    const type = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1];
    parts.push({ name, ...(filename !== undefined ? { filename } : {}), ...(type ? { type } : {}), data });
    pos = next;
  }
  return parts;
}

/** The fake Bot API server. */
export class FakeTelegram implements BridgeFake {
  readonly token: string;
  readonly chat: { id: number; type: string; is_forum: boolean; title: string; username?: string };
  botRights: NonNullable<FakeTelegramOptions['botRights']>;
  readonly messages: FakeMessage[] = [];
  readonly topics = new Map<number, FakeTopic>();
  readonly calls: FakeCall[] = [];
  readonly files = new Map<string, FakeFile>();
  /** Message ids the bot may not delete ("message can't be deleted"). */
  readonly undeletable = new Set<number>();
  webhook: { url: string; secret?: string; allowedUpdates?: string[] } | undefined;
  /** Commands registered with setMyCommands. */
  commands: { command: string; description: string }[] = [];
  /** Every update handed to the bot, in order (duplicates included). */
  readonly delivered: Record<string, unknown>[] = [];
  /** Status codes the bridge's webhook answered, in order. */
  readonly webhookAnswers: number[] = [];
  private readonly pending: Record<string, unknown>[] = [];
  private readonly pollers = new Set<() => void>();
  /** Open long polls; calling one ends it with Telegram's 409 for a concurrent `getUpdates`. */
  private readonly longPolls = new Map<(failure: ApiFailure) => void, string | undefined>();
  /**
   * `getUpdates` calls ended by a newer one (Telegram allows one poller per bot), with the `via`
   * of the call that was ended and of the one that ended it.
   */
  readonly conflicts: { ended: string | undefined; by: string | undefined }[] = [];
  private readonly failures = new Map<string, FakeApiError[]>();
  private readonly faults = new Map<string, ('drop' | 'hang')[]>();
  private readonly hung: (() => void)[] = [];
  private nextMessageId = 100;
  private nextUpdateId = 5000;
  private nextFile = 1;
  private server!: Server;
  private readonly cleanups: (() => Promise<void> | void)[] = [];
  apiRoot = '';

  private constructor(options: FakeTelegramOptions) {
    this.token = options.token ?? FAKE_TOKEN;
    this.chat = {
      id: options.chat?.id ?? FAKE_CHAT_ID,
      type: options.chat?.type ?? 'supergroup',
      is_forum: options.chat?.is_forum ?? true,
      title: options.chat?.title ?? 'Support',
      ...(options.chat?.username ? { username: options.chat.username } : {}),
    };
    this.botRights = options.botRights ?? 'admin';
  }

  /** Starts a fake on 127.0.0.1 with a free port. */
  static async start(options: FakeTelegramOptions = {}): Promise<FakeTelegram> {
    const fake = new FakeTelegram(options);
    fake.server = createServer((req, res) => {
      fake.route(req, res).catch((err) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error_code: 500, description: `Internal Server Error: ${String(err)}` }));
      });
    });
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.apiRoot = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  /** Runs `fn` when the fake closes (servers a test started around it). */
  onClose(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }

  async close(): Promise<void> {
    while (this.cleanups.length > 0) await this.cleanups.pop()!();
    for (const wake of this.pollers) wake();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ───────────── test controls ─────────────

  /** The next `times` calls of `method` fail with `error`. */
  failNext(method: string, error: FakeApiError, times = 1): void {
    const list = this.failures.get(method) ?? [];
    for (let i = 0; i < times; i++) list.push(error);
    this.failures.set(method, list);
  }

  /** The next `times` calls of `method` lose their connection (`drop`) or wait for `releaseHung()` (`hang`). */
  faultNext(method: string, fault: 'drop' | 'hang', times = 1): void {
    const list = this.faults.get(method) ?? [];
    for (let i = 0; i < times; i++) list.push(fault);
    this.faults.set(method, list);
  }

  /** Forgets faults not yet used. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** Number of calls currently held by a `hang` fault. */
  get hungCalls(): number {
    return this.hung.length;
  }

  /** Lets every held call through. */
  releaseHung(): void {
    for (const release of this.hung.splice(0)) release();
  }

  /** Calls of one method, in order. */
  callsOf(method: string): FakeCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Messages in a topic, service messages left out. */
  topicMessages(threadId: number | string): FakeMessage[] {
    return this.messages.filter((m) => m.thread_id === Number(threadId) && m.kind !== 'service');
  }

  /** Service messages of a topic (`forum_topic_created`, `forum_topic_closed`, ...). */
  serviceEvents(threadId: number | string): string[] {
    return this.messages.filter((m) => m.thread_id === Number(threadId) && m.kind === 'service').map((m) => m.service!);
  }

  message(id: number | string): FakeMessage | undefined {
    return this.messages.find((m) => m.message_id === Number(id));
  }

  async posts(threadId: string): Promise<FakePost[]> {
    return this.topicMessages(threadId).map((m) => ({
      id: String(m.message_id),
      text: m.file ? `${m.visible} [${m.kind} ${m.file.filename ?? m.file.url ?? ''}]`.trim() : m.visible,
      ...(m.deleted ? { deleted: true } : {}),
    }));
  }

  async operatorSays(threadId: string, text: string): Promise<void> {
    await this.userWrites(threadId, { text });
  }

  /** A person (or bot) writes in a topic; the update is delivered like Telegram would. */
  async userWrites(
    threadId: number | string,
    content: {
      text?: string;
      from?: FakeUser;
      replyTo?: number;
      photo?: { bytes: Uint8Array };
      document?: { bytes: Uint8Array; filename: string; mimeType: string };
      caption?: string;
    },
  ): Promise<FakeMessage> {
    const from = content.from ?? ANA;
    const file = content.photo
      ? this.storeFile(content.photo.bytes, undefined, undefined, 'photos')
      : content.document
        ? this.storeFile(content.document.bytes, content.document.filename, content.document.mimeType, 'documents')
        : undefined;
    const raw = content.text ?? content.caption ?? '';
    const m = this.addMessage({
      thread_id: Number(threadId),
      from,
      kind: content.photo ? 'photo' : content.document ? 'document' : 'text',
      raw,
      visible: raw,
      bold: [],
      ...(file ? { file } : {}),
      ...(content.replyTo !== undefined ? { reply_to: content.replyTo } : {}),
      silent: false,
    });
    await this.deliver({ message: this.toTelegram(m) });
    return m;
  }

  /** A person edits their message; delivered as `edited_message`. */
  async userEdits(messageId: number, text: string): Promise<void> {
    const m = this.message(messageId)!;
    m.raw = text;
    m.visible = text;
    m.edited = true;
    await this.deliver({ edited_message: { ...this.toTelegram(m), edit_date: Math.floor(Date.now() / 1000) } });
  }

  /** A person closes a topic in the Telegram app. */
  async userClosesTopic(threadId: number, from: FakeUser = ANA): Promise<void> {
    const topic = this.topics.get(threadId)!;
    topic.closed = true;
    const m = this.addService(threadId, 'forum_topic_closed', from);
    await this.deliver({ message: { ...this.toTelegram(m), forum_topic_closed: {} } });
  }

  /** An admin deletes a topic and everything in it. */
  deleteTopic(threadId: number | string): void {
    const topic = this.topics.get(Number(threadId))!;
    topic.deleted = true;
    for (const m of this.messages) if (m.thread_id === Number(threadId)) m.deleted = true;
  }

  /**
   * Hands an update to the bot: posted to the webhook when one is set (with the secret header),
   * else queued for `getUpdates`. Returns the update with its id.
   */
  async deliver(update: Record<string, unknown>, options: { sameId?: number } = {}): Promise<Record<string, unknown>> {
    const full = { update_id: options.sameId ?? this.nextUpdateId++, ...update };
    await this.deliverAll([full]);
    return full;
  }

  /**
   * Hands finished updates (with their `update_id`) to the bot at once: one `getUpdates` batch,
   * or one webhook request after the other. Telegram re-sends an update this way when its
   * delivery was not confirmed.
   */
  async deliverAll(updates: Record<string, unknown>[]): Promise<void> {
    this.delivered.push(...updates);
    if (!this.webhook) {
      this.pending.push(...updates);
      for (const wake of this.pollers) wake();
      return;
    }
    for (const full of updates) {
      const res = await fetch(this.webhook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(this.webhook.secret ? { 'x-telegram-bot-api-secret-token': this.webhook.secret } : {}),
        },
        body: JSON.stringify(full),
      });
      await res.arrayBuffer();
      this.webhookAnswers.push(res.status);
    }
  }

  /** Updates still waiting for `getUpdates`. */
  get pendingUpdates(): number {
    return this.pending.length;
  }

  /** `getUpdates` calls waiting for updates right now (of one `via`, when given). */
  openLongPolls(via?: string): number {
    return [...this.longPolls.values()].filter((v) => via === undefined || v === via).length;
  }

  // ───────────── HTTP ─────────────

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const file = /^(?:\/[A-Za-z0-9_-]+)?\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
    if (req.method === 'GET' && file) {
      const stored = [...this.files.values()].find((f) => f.path === decodeURIComponent(file[2]!));
      if (file[1] !== this.token || !stored) {
        res.writeHead(404).end('Not Found');
        return;
      }
      res.writeHead(200, { 'content-type': stored.mimeType ?? 'application/octet-stream' }).end(stored.bytes);
      return;
    }
    const api = /^(?:\/([A-Za-z0-9_-]+))?\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    if (!api) {
      this.send(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
      return;
    }
    const [, via, token, method] = api;
    const body = await readBody(req);
    if (token !== this.token) {
      this.send(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
      return;
    }
    const params = await this.parseParams(req, body);
    this.calls.push({
      method: method!,
      params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v instanceof Uint8Array ? '<bytes>' : v])),
      at: Date.now(),
      ...(via ? { via } : {}),
    });
    const failure = this.failures.get(method!)?.shift();
    if (failure) {
      this.send(res, failure.error_code, { ok: false, ...failure });
      return;
    }
    const fault = this.faults.get(method!)?.shift();
    if (fault === 'drop') {
      // The connection dies without an answer: a timeout or network error for the client.
      req.socket.destroy();
      return;
    }
    if (fault === 'hang') {
      // Held until released; a client that goes away meanwhile never gets the call processed.
      const gone = await new Promise<boolean>((resolve) => {
        this.hung.push(() => resolve(false));
        res.on('close', () => resolve(!res.writableEnded));
      });
      if (gone || res.destroyed) return;
    }
    try {
      const result = await this.call(method!, params, res, via);
      if (!res.writableEnded) this.send(res, 200, { ok: true, result });
    } catch (err) {
      if (!(err instanceof ApiFailure)) throw err;
      this.send(res, err.body.error_code, { ok: false, ...err.body });
    }
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    if (res.writableEnded || res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  private async parseParams(req: IncomingMessage, body: Buffer): Promise<Params> {
    const type = req.headers['content-type'] ?? '';
    if (body.length === 0) return {};
    if (type.includes('application/json')) return JSON.parse(body.toString('utf8')) as Params;
    if (type.includes('multipart/form-data')) {
      const boundary = /boundary=("?)([^";]+)\1/.exec(type)?.[2];
      if (!boundary) throw bad('multipart body without boundary');
      const params: Params = {};
      const files = new Map<string, { bytes: Uint8Array; name: string; type: string }>();
      for (const part of parseMultipart(body, boundary)) {
        if (part.filename !== undefined) {
          const f = { bytes: part.data, name: part.filename, type: part.type ?? 'application/octet-stream' };
          files.set(part.name, f);
          params[part.name] = f;
        } else {
          const value = Buffer.from(part.data).toString('utf8');
          params[part.name] = /^[[{]/.test(value) ? JSON.parse(value) : value;
        }
      }
      // grammy puts uploads in their own part and references them as attach://<part name>.
      for (const [key, value] of Object.entries(params)) {
        if (typeof value === 'string' && value.startsWith('attach://')) params[key] = files.get(value.slice(9));
      }
      return params;
    }
    return Object.fromEntries(new URLSearchParams(body.toString('utf8')));
  }

  // ───────────── Bot API methods ─────────────

  private chatFor(params: Params): void {
    const id = params.chat_id;
    const matches =
      String(id) === String(this.chat.id) || (this.chat.username !== undefined && id === `@${this.chat.username}`);
    if (!matches || this.botRights === 'absent') throw bad('chat not found');
  }

  private threadFor(params: Params, forumMethod = false): number | undefined {
    if (params.message_thread_id === undefined) return undefined;
    const id = Number(params.message_thread_id);
    const topic = this.topics.get(id);
    if (!topic || topic.deleted) throw bad(forumMethod ? 'TOPIC_ID_INVALID' : 'message thread not found');
    return id;
  }

  private replyFor(params: Params, threadId: number | undefined): number | undefined {
    const rp = params.reply_parameters as { message_id?: number; allow_sending_without_reply?: boolean } | undefined;
    if (!rp?.message_id) return undefined;
    const target = this.message(rp.message_id);
    const ok = target && !target.deleted && target.thread_id === threadId;
    if (!ok) {
      if (rp.allow_sending_without_reply) return undefined;
      throw bad('message to be replied not found');
    }
    return Number(rp.message_id);
  }

  private canManageTopics(): boolean {
    return ['creator', 'admin', 'admin-no-delete'].includes(this.botRights);
  }

  private async call(method: string, p: Params, res: ServerResponse, via?: string): Promise<unknown> {
    switch (method) {
      case 'getMe':
        return {
          ...BOT_USER,
          can_join_groups: true,
          can_read_all_group_messages: false,
          supports_inline_queries: false,
        };
      case 'getChat':
        this.chatFor(p);
        return {
          ...this.chat,
          ...(this.chat.is_forum ? { is_forum: true } : {}),
          accent_color_id: 0,
          max_reaction_count: 11,
        };
      case 'getChatMember':
        return this.chatMember(p);
      case 'setWebhook':
        this.webhook = {
          url: String(p.url),
          ...(p.secret_token ? { secret: String(p.secret_token) } : {}),
          ...(Array.isArray(p.allowed_updates) ? { allowedUpdates: p.allowed_updates as string[] } : {}),
        };
        return true;
      case 'deleteWebhook':
        this.webhook = undefined;
        if (p.drop_pending_updates) this.pending.length = 0;
        return true;
      case 'getWebhookInfo':
        return {
          url: this.webhook?.url ?? '',
          has_custom_certificate: false,
          pending_update_count: this.pending.length,
        };
      case 'getUpdates':
        return this.getUpdates(p, res, via);
      case 'createForumTopic':
        return this.createTopic(p);
      case 'editForumTopic':
      case 'closeForumTopic':
      case 'reopenForumTopic':
        return this.changeTopic(method, p);
      case 'deleteForumTopic':
        return this.deleteForumTopic(p);
      case 'sendMessage':
        return this.sendMessage(p);
      case 'sendPhoto':
      case 'sendDocument':
        return this.sendFile(method === 'sendPhoto' ? 'photo' : 'document', p);
      case 'sendChatAction':
        this.chatFor(p);
        this.threadFor(p);
        return true;
      case 'editMessageText':
      case 'editMessageCaption':
        return this.editMessage(method === 'editMessageText' ? 'text' : 'caption', p);
      case 'deleteMessage':
        return this.deleteMessage(p);
      case 'setMyCommands':
        this.commands = (p.commands as { command: string; description: string }[]) ?? [];
        return true;
      case 'getFile': {
        const f = this.files.get(String(p.file_id));
        if (!f) throw bad('invalid file_id');
        return { file_id: f.fileId, file_unique_id: f.uniqueId, file_size: f.bytes.byteLength, file_path: f.path };
      }
      default:
        throw new ApiFailure({ error_code: 404, description: 'Not Found' });
    }
  }

  private chatMember(p: Params): unknown {
    this.chatFor(p);
    if (Number(p.user_id) !== BOT_USER.id) return { status: 'member', user: ANA };
    const admin = {
      status: 'administrator',
      user: BOT_USER,
      can_be_edited: false,
      is_anonymous: false,
      can_manage_chat: true,
      can_delete_messages: this.botRights !== 'admin-no-delete',
      can_manage_video_chats: false,
      can_restrict_members: false,
      can_promote_members: false,
      can_change_info: false,
      can_invite_users: true,
      can_post_stories: false,
      can_edit_stories: false,
      can_delete_stories: false,
      can_pin_messages: true,
      can_manage_topics: this.botRights !== 'admin-no-topics',
    };
    switch (this.botRights) {
      case 'creator':
        return { status: 'creator', user: BOT_USER, is_anonymous: false };
      case 'admin':
      case 'admin-no-topics':
      case 'admin-no-delete':
        return admin;
      default:
        return { status: 'member', user: BOT_USER };
    }
  }

  private getUpdates(p: Params, res: ServerResponse, via: string | undefined): Promise<unknown> | unknown {
    if (this.webhook) {
      throw new ApiFailure({
        error_code: 409,
        description:
          "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
      });
    }
    // Like Telegram: a newer getUpdates ends the one still waiting with 409.
    for (const [conflict, ended] of [...this.longPolls]) {
      this.conflicts.push({ ended, by: via });
      conflict(
        new ApiFailure({
          error_code: 409,
          description:
            'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
        }),
      );
    }
    const offset = Number(p.offset ?? 0);
    while (this.pending.length > 0 && Number(this.pending[0]!.update_id) < offset) this.pending.shift();
    const limit = Number(p.limit ?? 100);
    if (this.pending.length > 0) return this.pending.slice(0, limit);
    const timeout = Math.min(Number(p.timeout ?? 0), 30);
    if (timeout <= 0) return [];
    return new Promise((resolve, reject) => {
      const end = () => {
        clearTimeout(timer);
        this.pollers.delete(wake);
        this.longPolls.delete(conflict);
      };
      const wake = () => {
        end();
        resolve(this.pending.slice(0, limit));
      };
      const conflict = (failure: ApiFailure) => {
        end();
        reject(failure);
      };
      const timer = setTimeout(wake, timeout * 1000);
      this.pollers.add(wake);
      this.longPolls.set(conflict, via);
      res.on('close', end);
    });
  }

  private createTopic(p: Params): unknown {
    this.chatFor(p);
    if (!this.chat.is_forum) throw bad('the chat is not a forum');
    if (!this.canManageTopics()) throw bad('not enough rights to create a topic');
    const name = String(p.name ?? '');
    if (name.length === 0 || [...name].length > 128) throw bad('TOPIC_NAME_INVALID');
    const threadId = this.nextMessageId;
    this.topics.set(threadId, { threadId, name, closed: false, deleted: false });
    this.addService(threadId, 'forum_topic_created', BOT_USER);
    return { message_thread_id: threadId, name, icon_color: 7_322_096 };
  }

  private changeTopic(method: string, p: Params): unknown {
    this.chatFor(p);
    if (!this.canManageTopics()) throw bad('not enough rights to manage topics');
    const threadId = this.threadFor(p, true);
    if (threadId === undefined) throw bad('message thread not found');
    const topic = this.topics.get(threadId)!;
    if (method === 'editForumTopic') {
      if (p.name === undefined || p.name === topic.name) throw bad('TOPIC_NOT_MODIFIED');
      topic.name = String(p.name);
      this.addService(threadId, 'forum_topic_edited', BOT_USER);
      return true;
    }
    const close = method === 'closeForumTopic';
    if (topic.closed === close) throw bad('TOPIC_NOT_MODIFIED');
    topic.closed = close;
    this.addService(threadId, close ? 'forum_topic_closed' : 'forum_topic_reopened', BOT_USER);
    return true;
  }

  /** Like Telegram: needs the "Delete Messages" right; the topic goes with everything in it. */
  private deleteForumTopic(p: Params): unknown {
    this.chatFor(p);
    if (!['creator', 'admin'].includes(this.botRights)) throw bad('not enough rights to delete the topic');
    const threadId = this.threadFor(p, true);
    if (threadId === undefined) throw bad('message thread not found');
    this.deleteTopic(threadId);
    return true;
  }

  private sendMessage(p: Params): unknown {
    this.chatFor(p);
    const threadId = this.threadFor(p);
    const text = String(p.text ?? '');
    if (text.trim().length === 0) throw bad('message text is empty');
    const { visible, bold } = render(text, p.parse_mode);
    if ([...visible].length > 4096) throw bad('message is too long');
    const replyTo = this.replyFor(p, threadId);
    const m = this.addMessage({
      ...(threadId !== undefined ? { thread_id: threadId } : {}),
      from: BOT_USER,
      kind: 'text',
      raw: text,
      visible,
      bold,
      ...(typeof p.parse_mode === 'string' ? { parse_mode: p.parse_mode } : {}),
      ...(replyTo !== undefined ? { reply_to: replyTo } : {}),
      silent: p.disable_notification === true || p.disable_notification === 'true',
    });
    return this.toTelegram(m);
  }

  private async sendFile(kind: 'photo' | 'document', p: Params): Promise<unknown> {
    this.chatFor(p);
    const threadId = this.threadFor(p);
    const input = p[kind];
    let file: FakeMessage['file'];
    if (input && typeof input === 'object' && 'bytes' in input) {
      const f = input as { bytes: Uint8Array; name: string; type: string };
      if (kind === 'photo' && f.bytes.byteLength < 4) throw bad('IMAGE_PROCESS_FAILED');
      file = this.storeFile(f.bytes, f.name, kind === 'photo' ? 'image/jpeg' : f.type, `${kind}s`);
    } else if (typeof input === 'string' && /^https?:\/\//.test(input)) {
      // Telegram fetches URLs itself; an unreachable URL fails like it does there.
      let bytes: Uint8Array;
      try {
        const res = await fetch(input, { signal: AbortSignal.timeout(5000) });
        if (!res.ok) throw new Error(String(res.status));
        bytes = new Uint8Array(await res.arrayBuffer());
      } catch {
        throw bad('failed to get HTTP URL content');
      }
      file = { ...this.storeFile(bytes, input.split('/').pop(), undefined, `${kind}s`), url: input };
    } else if (typeof input === 'string' && this.files.has(input)) {
      file = this.files.get(input)!;
    } else {
      throw bad('wrong file identifier/HTTP URL specified');
    }
    const caption = String(p.caption ?? '');
    const { visible, bold } = render(caption, p.parse_mode);
    if ([...visible].length > 1024) throw bad('message caption is too long');
    const replyTo = this.replyFor(p, threadId);
    const m = this.addMessage({
      ...(threadId !== undefined ? { thread_id: threadId } : {}),
      from: BOT_USER,
      kind,
      raw: caption,
      visible,
      bold,
      file,
      ...(typeof p.parse_mode === 'string' ? { parse_mode: p.parse_mode } : {}),
      ...(replyTo !== undefined ? { reply_to: replyTo } : {}),
      silent: p.disable_notification === true,
    });
    return this.toTelegram(m);
  }

  private editMessage(what: 'text' | 'caption', p: Params): unknown {
    this.chatFor(p);
    const m = this.message(Number(p.message_id));
    if (!m || m.deleted) throw bad('message to edit not found');
    if (m.from.id !== BOT_USER.id || m.kind === 'service') throw bad("message can't be edited");
    if (what === 'text' && m.kind !== 'text') throw bad('there is no text in the message to edit');
    if (what === 'caption' && m.kind === 'text') throw bad('there is no caption in the message to edit');
    const raw = String((what === 'text' ? p.text : p.caption) ?? '');
    const { visible, bold } = render(raw, p.parse_mode);
    if (visible === m.visible && raw === m.raw) {
      throw bad(
        'message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
      );
    }
    Object.assign(m, { raw, visible, bold, edited: true });
    return this.toTelegram(m);
  }

  private deleteMessage(p: Params): unknown {
    this.chatFor(p);
    const m = this.message(Number(p.message_id));
    if (!m || m.deleted) throw bad('message to delete not found');
    if (this.undeletable.has(m.message_id)) throw bad("message can't be deleted");
    if (m.from.id !== BOT_USER.id && this.botRights === 'admin-no-delete') throw bad("message can't be deleted");
    m.deleted = true;
    return true;
  }

  // ───────────── storage ─────────────

  private storeFile(
    bytes: Uint8Array,
    filename: string | undefined,
    mimeType: string | undefined,
    folder: string,
  ): FakeFile {
    const n = this.nextFile++;
    const f: FakeFile = {
      fileId: `FILE${n}`,
      uniqueId: `U${n}`,
      path: `${folder}/file_${n}${filename?.includes('.') ? filename.slice(filename.lastIndexOf('.')) : '.jpg'}`,
      bytes,
      ...(filename ? { filename } : {}),
      ...(mimeType ? { mimeType } : {}),
    };
    this.files.set(f.fileId, f);
    return f;
  }

  private addMessage(m: Omit<FakeMessage, 'message_id' | 'deleted' | 'edited' | 'at'>): FakeMessage {
    const full: FakeMessage = { ...m, message_id: this.nextMessageId++, deleted: false, edited: false, at: Date.now() };
    this.messages.push(full);
    return full;
  }

  private addService(threadId: number, service: string, from: FakeUser): FakeMessage {
    return this.addMessage({
      thread_id: threadId,
      from,
      kind: 'service',
      raw: '',
      visible: '',
      bold: [],
      service,
      silent: true,
    });
  }

  /** A stored message in Bot API shape. */
  toTelegram(m: FakeMessage): Record<string, unknown> {
    const chat = {
      id: this.chat.id,
      type: this.chat.type,
      title: this.chat.title,
      ...(this.chat.is_forum ? { is_forum: true } : {}),
    };
    const base: Record<string, unknown> = {
      message_id: m.message_id,
      date: Math.floor(m.at / 1000),
      chat,
      from: m.from,
    };
    if (m.thread_id !== undefined) {
      base.message_thread_id = m.thread_id;
      base.is_topic_message = true;
      if (m.service === 'forum_topic_created') {
        base.forum_topic_created = { name: this.topics.get(m.thread_id)?.name ?? '', icon_color: 7_322_096 };
      } else {
        // Like Telegram: a message in a topic without an explicit reply "replies" to the topic's first message.
        const target = m.reply_to !== undefined ? this.message(m.reply_to) : undefined;
        base.reply_to_message = target
          ? { ...this.toTelegram({ ...target, reply_to: undefined }), reply_to_message: undefined }
          : {
              message_id: m.thread_id,
              date: base.date,
              chat,
              from: BOT_USER,
              message_thread_id: m.thread_id,
              is_topic_message: true,
              forum_topic_created: { name: this.topics.get(m.thread_id)?.name ?? '', icon_color: 7_322_096 },
            };
      }
    }
    if (m.kind === 'text') base.text = m.raw && m.parse_mode ? m.visible : m.raw;
    if (m.kind === 'photo' && m.file) {
      base.photo = [
        {
          file_id: `${m.file.fileId}_small`,
          file_unique_id: `${m.file.uniqueId}_s`,
          width: 90,
          height: 90,
          file_size: 10,
        },
        {
          file_id: m.file.fileId,
          file_unique_id: m.file.uniqueId,
          width: 800,
          height: 600,
          file_size: m.file.bytes.byteLength,
        },
      ];
    }
    if (m.kind === 'document' && m.file) {
      base.document = {
        file_id: m.file.fileId,
        file_unique_id: m.file.uniqueId,
        file_size: m.file.bytes.byteLength,
        ...(m.file.filename ? { file_name: m.file.filename } : {}),
        ...(m.file.mimeType ? { mime_type: m.file.mimeType } : {}),
      };
    }
    if ((m.kind === 'photo' || m.kind === 'document') && m.raw) base.caption = m.parse_mode ? m.visible : m.raw;
    return base;
  }
}
