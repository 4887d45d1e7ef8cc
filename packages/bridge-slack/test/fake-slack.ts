import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BridgeWebhookRequest, BridgeWebhookResponse } from '@pocketping/core';
import { signSlackRequest } from '../src/signature.js';

/** A message as the fake Slack stores it. */
export interface FakeSlackMessage {
  ts: string;
  channel: string;
  thread_ts?: string;
  text: string;
  blocks?: Record<string, unknown>[];
  user?: string;
  bot_id?: string;
  username?: string;
  icon_emoji?: string;
  edited?: boolean;
  deleted?: boolean;
}

/** One call the fake received. */
export interface FakeSlackCall {
  method: string;
  args: Record<string, unknown>;
  authorization?: string;
}

/** A canned failure for the next call of a method (or of the incoming webhook: `webhook`). */
export interface FakeFailure {
  /** HTTP status; 429 comes with `Retry-After`. @default 200 (an `ok:false` answer) */
  status?: number;
  retryAfter?: number;
  /** Slack error code of an `ok:false` answer. */
  error?: string;
  /** Extra fields of the `ok:false` answer (`needed`, `provided`). */
  extra?: Record<string, unknown>;
}

interface FakeChannel {
  is_member: boolean;
  is_private: boolean;
  is_archived: boolean;
}

interface FakeFile {
  id: string;
  name: string;
  mimetype: string;
  data: Buffer;
}

/** What an incoming webhook received. */
export interface FakeWebhookPost {
  text: string;
  blocks?: Record<string, unknown>[];
  username?: string;
  icon_emoji?: string;
}

export const BOT_USER_ID = 'UBOT';
export const BOT_ID = 'BBOT';
export const OPERATOR_ID = 'UANA';

/**
 * A local fake of the Slack Web API (and of an incoming webhook and Slack's file host), on
 * 127.0.0.1 with a random port. It answers like Slack: HTTP 200 with `ok:false` and an error
 * code, 429 with Retry-After, Bearer-token auth, the `x-oauth-scopes` header on every answer.
 * It also builds signed Events API requests, the way Slack would deliver them.
 */
export class FakeSlack {
  readonly token = `xoxb-${randomBytes(6).toString('hex')}`;
  readonly signingSecret = randomBytes(16).toString('hex');
  readonly channelId = 'C0PP0001';
  readonly messages: FakeSlackMessage[] = [];
  readonly calls: FakeSlackCall[] = [];
  readonly webhookPosts: FakeWebhookPost[] = [];
  readonly fileRequests: { path: string; authorization?: string }[] = [];
  readonly channels = new Map<string, FakeChannel>();
  readonly users = new Map<string, { realName: string; displayName: string }>();
  /** Granted scopes sent as `x-oauth-scopes`; `null` sends no header. */
  scopes: string | null = 'chat:write,channels:history,groups:history,users:read,files:read,channels:read';
  /** The bridge under test; `operatorSays` delivers events to its webhook. */
  bridge?: { webhook?: { handle(req: BridgeWebhookRequest): Promise<BridgeWebhookResponse> } };

  private server!: Server;
  private base = '';
  private counter = 0;
  private eventCounter = 0;
  private readonly failures = new Map<string, FakeFailure[]>();
  private readonly holds = new Map<string, Promise<void>>();
  private readonly files = new Map<string, FakeFile>();

  /** Starts a fake on 127.0.0.1 with a random port. */
  static async start(): Promise<FakeSlack> {
    const fake = new FakeSlack();
    fake.channels.set(fake.channelId, { is_member: true, is_private: false, is_archived: false });
    fake.users.set(OPERATOR_ID, { realName: 'Ana Lopez', displayName: 'ana' });
    fake.server = createServer((req, res) => {
      fake.route(req, res).catch((err) => {
        res.writeHead(500).end(String(err));
      });
    });
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.base = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  /** The Web API base URL, for the bridge's `apiUrl`. */
  get apiUrl(): string {
    return `${this.base}/api/`;
  }

  /** An incoming webhook URL served by the fake. */
  get webhookUrl(): string {
    return `${this.base}/services/T000/B000/${this.token.slice(5)}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The next call of `method` fails this way (queued: call several times for several failures). */
  failNext(method: string, failure: FakeFailure): void {
    const list = this.failures.get(method) ?? [];
    list.push(failure);
    this.failures.set(method, list);
  }

  /** Holds every answer of `method` until the returned function is called. */
  hold(method: string): () => void {
    let release!: () => void;
    this.holds.set(
      method,
      new Promise<void>((r) => {
        release = r;
      }),
    );
    return () => {
      this.holds.delete(method);
      release();
    };
  }

  /** Calls of one method, in order. */
  callsOf(method: string): FakeSlackCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** The parent message and the replies of a thread, oldest first. */
  thread(threadTs: string): FakeSlackMessage[] {
    return this.messages.filter((m) => m.ts === threadTs || m.thread_ts === threadTs);
  }

  /** Thread parents (messages not in any thread) in the channel. */
  parents(): FakeSlackMessage[] {
    return this.messages.filter((m) => !m.thread_ts && m.channel === this.channelId);
  }

  /** Conformance view of a thread. */
  async posts(threadTs: string): Promise<{ id: string; text: string; deleted?: boolean }[]> {
    return this.thread(threadTs).map((m) => ({ id: m.ts, text: m.text, ...(m.deleted ? { deleted: true } : {}) }));
  }

  /** Registers a file on the fake's file host; returns it as Slack shows it in events. */
  addFile(name: string, mimetype: string, data: Buffer): Record<string, unknown> {
    const id = `F${String(this.files.size + 1).padStart(8, '0')}`;
    this.files.set(id, { id, name, mimetype, data });
    const url = `${this.base}/files-pri/T000-${id}/${encodeURIComponent(name)}`;
    return {
      id,
      name,
      title: name,
      mimetype,
      size: data.length,
      mode: 'hosted',
      url_private: url,
      url_private_download: `${url}?download=1`,
    };
  }

  /** A human posts in a thread (as Slack would store it); returns the message. */
  humanPost(threadTs: string, text: string, user = OPERATOR_ID): FakeSlackMessage {
    const m: FakeSlackMessage = { ts: this.nextTs(), channel: this.channelId, thread_ts: threadTs, text, user };
    this.messages.push(m);
    return m;
  }

  /** Conformance: an operator writes in a thread and Slack delivers the event to the bridge. */
  async operatorSays(threadTs: string, text: string): Promise<void> {
    const m = this.humanPost(threadTs, text);
    const res = await this.deliver({
      type: 'message',
      channel: m.channel,
      user: m.user,
      text,
      ts: m.ts,
      thread_ts: threadTs,
    });
    if (res.status !== 200) throw new Error(`events endpoint answered ${res.status}`);
  }

  /** Wraps an event in an `event_callback` envelope with a fresh (or given) event_id. */
  envelope(event: Record<string, unknown>, eventId = `Ev${String(++this.eventCounter).padStart(8, '0')}`) {
    return {
      token: 'deprecated-verification-token',
      team_id: 'T000',
      api_app_id: 'A000',
      type: 'event_callback',
      event_id: eventId,
      event_time: Math.floor(Date.now() / 1000),
      event: { event_ts: event.ts ?? this.nextTs(), channel_type: 'channel', ...event },
    };
  }

  /** A signed Events API request, as Slack sends it. */
  signedRequest(
    payload: unknown,
    options: { timestamp?: number; secret?: string; retryNum?: number; signature?: string; method?: string } = {},
  ): BridgeWebhookRequest {
    const rawBody = JSON.stringify(payload);
    const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
    const signature = options.signature ?? signSlackRequest(options.secret ?? this.signingSecret, timestamp, rawBody);
    return {
      method: options.method ?? 'POST',
      headers: {
        'content-type': 'application/json',
        'x-slack-request-timestamp': timestamp,
        'x-slack-signature': signature,
        ...(options.retryNum !== undefined
          ? { 'x-slack-retry-num': String(options.retryNum), 'x-slack-retry-reason': 'http_timeout' }
          : {}),
      },
      rawBody,
      body: JSON.parse(rawBody),
      query: {},
    };
  }

  /** Delivers an event (enveloped and signed) to the bridge's webhook. */
  async deliver(
    event: Record<string, unknown>,
    options: { eventId?: string; retryNum?: number } = {},
  ): Promise<BridgeWebhookResponse> {
    const handler = this.bridge?.webhook;
    if (!handler) throw new Error('FakeSlack.bridge has no webhook');
    return handler.handle(this.signedRequest(this.envelope(event, options.eventId), options));
  }

  private nextTs(): string {
    const n = ++this.counter;
    return `${1_700_000_000 + n}.${String(n).padStart(6, '0')}`;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.base);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    if (url.pathname.startsWith('/api/')) return this.api(url.pathname.slice(5), req, raw, res);
    if (url.pathname.startsWith('/services/')) return this.incomingWebhook(url.pathname, raw, res);
    if (url.pathname.startsWith('/files-pri/')) return this.file(url.pathname, req, res);
    res.writeHead(404).end('not found');
  }

  private send(res: ServerResponse, body: unknown, status = 200, headers: Record<string, string> = {}): void {
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      ...(this.scopes !== null ? { 'x-oauth-scopes': this.scopes } : {}),
      ...headers,
    });
    res.end(JSON.stringify(body));
  }

  private async api(method: string, req: IncomingMessage, raw: string, res: ServerResponse): Promise<void> {
    let args: Record<string, unknown> = {};
    if ((req.headers['content-type'] ?? '').includes('application/json')) args = raw ? JSON.parse(raw) : {};
    else args = Object.fromEntries(new URLSearchParams(raw));
    for (const key of ['blocks', 'attachments']) {
      if (typeof args[key] === 'string') args[key] = JSON.parse(args[key] as string);
    }
    const authorization = req.headers.authorization;
    this.calls.push({ method, args, ...(authorization ? { authorization } : {}) });
    const hold = this.holds.get(method);
    if (hold) await hold;
    const failure = this.failures.get(method)?.shift();
    if (failure) {
      if (failure.status === 429) {
        return this.send(res, { ok: false, error: 'ratelimited' }, 429, {
          'retry-after': String(failure.retryAfter ?? 1),
        });
      }
      return this.send(
        res,
        { ok: false, error: failure.error ?? 'internal_error', ...failure.extra },
        failure.status ?? 200,
      );
    }
    if (!authorization) return this.send(res, { ok: false, error: 'not_authed' });
    if (authorization !== `Bearer ${this.token}`) return this.send(res, { ok: false, error: 'invalid_auth' });
    const fail = (error: string) => this.send(res, { ok: false, error });
    const channelId = String(args.channel ?? '');
    const channel = this.channels.get(channelId);
    const find = () => this.messages.find((m) => m.channel === channelId && m.ts === args.ts && !m.deleted);
    switch (method) {
      case 'auth.test':
        return this.send(res, {
          ok: true,
          url: 'https://pocketping-test.slack.com/',
          team: 'PocketPing Test',
          user: 'pocketping',
          team_id: 'T000',
          user_id: BOT_USER_ID,
          bot_id: BOT_ID,
        });
      case 'conversations.info':
        if (!channel) return fail('channel_not_found');
        return this.send(res, { ok: true, channel: { id: channelId, name: 'support', ...channel } });
      case 'chat.postMessage': {
        if (!channel) return fail('channel_not_found');
        if (!channel.is_member) return fail('not_in_channel');
        if (channel.is_archived) return fail('is_archived');
        if (!args.text && !args.blocks) return fail('no_text');
        const threadTs = args.thread_ts ? String(args.thread_ts) : undefined;
        if (threadTs && !this.messages.some((m) => m.channel === channelId && m.ts === threadTs && !m.deleted)) {
          return fail('thread_not_found');
        }
        const m: FakeSlackMessage = {
          ts: this.nextTs(),
          channel: channelId,
          text: String(args.text ?? ''),
          user: BOT_USER_ID,
          bot_id: BOT_ID,
          ...(threadTs ? { thread_ts: threadTs } : {}),
          ...(args.blocks ? { blocks: args.blocks as Record<string, unknown>[] } : {}),
          ...(args.username ? { username: String(args.username) } : {}),
          ...(args.icon_emoji ? { icon_emoji: String(args.icon_emoji) } : {}),
        };
        this.messages.push(m);
        return this.send(res, { ok: true, channel: channelId, ts: m.ts, message: { ...m, type: 'message' } });
      }
      case 'chat.update': {
        const m = find();
        if (!m) return fail('message_not_found');
        if (m.bot_id !== BOT_ID) return fail('cant_update_message');
        m.text = String(args.text ?? '');
        if (args.blocks) m.blocks = args.blocks as Record<string, unknown>[];
        m.edited = true;
        return this.send(res, { ok: true, channel: channelId, ts: m.ts, text: m.text });
      }
      case 'conversations.replies': {
        if (!channel) return fail('channel_not_found');
        const parent = this.messages.find((m) => m.channel === channelId && m.ts === args.ts && !m.deleted);
        if (!parent) return fail('thread_not_found');
        const replies = this.messages.filter((m) => m.channel === channelId && m.thread_ts === args.ts && !m.deleted);
        return this.send(res, {
          ok: true,
          messages: [parent, ...replies].map((m) => ({ ...m, type: 'message' })),
          has_more: false,
        });
      }
      case 'chat.delete': {
        const m = find();
        if (!m) return fail('message_not_found');
        if (m.bot_id !== BOT_ID) return fail('cant_delete_message');
        m.deleted = true;
        return this.send(res, { ok: true, channel: channelId, ts: m.ts });
      }
      case 'users.info': {
        const id = String(args.user ?? '');
        const u = this.users.get(id);
        if (!u) return fail('user_not_found');
        return this.send(res, {
          ok: true,
          user: {
            id,
            name: u.displayName,
            real_name: u.realName,
            profile: { real_name: u.realName, display_name: u.displayName },
          },
        });
      }
      default:
        return fail('unknown_method');
    }
  }

  private incomingWebhook(path: string, raw: string, res: ServerResponse): void {
    if (path !== new URL(this.webhookUrl).pathname) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no_service');
      return;
    }
    const failure = this.failures.get('webhook')?.shift();
    if (failure) {
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (failure.status === 429) headers['retry-after'] = String(failure.retryAfter ?? 1);
      res.writeHead(failure.status ?? 400, headers).end(failure.error ?? 'rate_limited');
      return;
    }
    let body: FakeWebhookPost;
    try {
      body = JSON.parse(raw) as FakeWebhookPost;
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('invalid_payload');
      return;
    }
    if (!body.text && !body.blocks) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('no_text');
      return;
    }
    this.webhookPosts.push(body);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  }

  private file(path: string, req: IncomingMessage, res: ServerResponse): void {
    const authorization = req.headers.authorization;
    this.fileRequests.push({ path, ...(authorization ? { authorization } : {}) });
    const id = path.split('/')[2]?.split('-')[1] ?? '';
    const f = this.files.get(id);
    const canRead = this.scopes === null || this.scopes.split(',').includes('files:read');
    if (authorization !== `Bearer ${this.token}` || !canRead) {
      // Like Slack: an unauthenticated download gets the sign-in page, with status 200.
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end('<html><body>Sign in to Slack</body></html>');
      return;
    }
    if (!f) {
      res.writeHead(404).end('file not found');
      return;
    }
    res.writeHead(200, { 'content-type': f.mimetype, 'content-length': String(f.data.length) }).end(f.data);
  }
}
