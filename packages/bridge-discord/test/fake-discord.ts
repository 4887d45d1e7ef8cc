import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * A local stand-in for Discord: the REST API discord.js talks to (`apiUrl`) and a Gateway on the
 * same port (HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, dispatches). It keeps channels,
 * threads and messages in memory, echoes what the bot posts back through the Gateway like
 * Discord does, and can play a human operator.
 */

const DISCORD_EPOCH = 1420070400000n;
let counter = 0n;

/** A fresh snowflake (discord.js reads timestamps from them). */
export function snowflake(): string {
  counter = (counter + 1n) % 4096n;
  return (((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) | counter).toString();
}

/** Discord permission bits used by the fake. */
export const Perm = {
  ViewChannel: 1n << 10n,
  SendMessages: 1n << 11n,
  EmbedLinks: 1n << 14n,
  AttachFiles: 1n << 15n,
  ReadMessageHistory: 1n << 16n,
  ManageThreads: 1n << 34n,
  CreatePublicThreads: 1n << 35n,
  SendMessagesInThreads: 1n << 38n,
} as const;
const ALL_BOT_PERMS = Object.values(Perm).reduce((a, b) => a | b, 0n);

const MESSAGE_CONTENT_INTENT = 1 << 15;
const APP_FLAG_MESSAGE_CONTENT_LIMITED = 1 << 19;

/** A user as Discord sends it. */
export interface FakeUser {
  id: string;
  username: string;
  global_name: string | null;
  discriminator: string;
  avatar: null;
  bot?: boolean;
}

/** A message as the fake stores it. */
export interface FakeMessage {
  id: string;
  channel_id: string;
  content: string;
  embeds: { title?: string; description?: string; fields?: { name: string; value: string }[] }[];
  author: FakeUser;
  attachments: { id: string; filename: string; size: number; url: string; proxy_url: string; content_type?: string }[];
  /** Bytes of uploaded files, by attachment id. */
  files: Record<string, Buffer>;
  message_reference?: { message_id: string; channel_id?: string; guild_id?: string };
  allowed_mentions?: unknown;
  webhook_id?: string;
  timestamp: string;
  edited_timestamp: string | null;
  type: number;
  deleted?: boolean;
}

/** A channel or thread as the fake stores it. */
export interface FakeChannel {
  id: string;
  type: number;
  guild_id: string;
  name: string;
  parent_id?: string;
  permission_overwrites?: unknown[];
  thread_metadata?: { archived: boolean; auto_archive_duration: number; archive_timestamp: string; locked: boolean };
  owner_id?: string;
}

/** A request the fake received. */
export interface FakeRequest {
  method: string;
  path: string;
  /**
   * The path segment before `/api` when the client's `apiUrl` has one (`…/a/api` → `'a'`):
   * tells apart several bridges that share this fake.
   */
  via?: string;
  body: unknown;
  files: { name: string; size: number }[];
}

interface Failure {
  method: string;
  path: RegExp;
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Options of `FakeDiscord.start`. */
export interface FakeDiscordOptions {
  /** The type of the configured channel: 0 text, 15 forum. */
  channelType?: number;
  /** Permissions of the bot's role in the guild. */
  botPermissions?: bigint;
  /** Close code sent instead of READY (4014 = disallowed intents, 4004 = bad token). */
  identifyCloseCode?: number;
  /** Application flags (GET /applications/@me, READY). */
  applicationFlags?: number;
}

export class FakeDiscord {
  readonly token = `fake.${randomBytes(12).toString('hex')}`;
  readonly botUser: FakeUser = {
    id: snowflake(),
    username: 'PocketPing',
    global_name: null,
    discriminator: '0',
    avatar: null,
    bot: true,
  };
  readonly guildId = snowflake();
  readonly botRoleId = snowflake();
  readonly channelId = snowflake();
  readonly webhookId = snowflake();
  readonly webhookToken = randomBytes(34).toString('hex');
  readonly channels = new Map<string, FakeChannel>();
  readonly messages = new Map<string, FakeMessage[]>();
  readonly requests: FakeRequest[] = [];
  /** Attachment ids whose bytes were downloaded from the fake CDN, in order. */
  readonly downloads: string[] = [];
  readonly typing: string[] = [];
  botPermissions: bigint;
  applicationFlags: number;
  identifyCloseCode: number | undefined;
  /** Intents the last IDENTIFY asked for. */
  identifiedIntents = 0;
  private readonly failures: Failure[] = [];
  private readonly sockets = new Set<WebSocket>();
  /** Open Gateway sessions that got READY, with the `via` of the client that opened them. */
  private readonly sessions = new Map<WebSocket, string | undefined>();
  /** The `via` of every IDENTIFY that got READY, in order. */
  readonly identified: (string | undefined)[] = [];
  private readonly wss: WebSocketServer;
  private sequence = 0;
  private port = 0;

  private constructor(
    private readonly server: Server,
    options: FakeDiscordOptions,
  ) {
    this.botPermissions = options.botPermissions ?? ALL_BOT_PERMS;
    this.applicationFlags = options.applicationFlags ?? APP_FLAG_MESSAGE_CONTENT_LIMITED;
    this.identifyCloseCode = options.identifyCloseCode;
    this.channels.set(this.channelId, {
      id: this.channelId,
      type: options.channelType ?? 0,
      guild_id: this.guildId,
      name: 'support',
      permission_overwrites: [],
    });
    this.wss = new WebSocketServer({ server });
    this.wss.on('connection', (ws, req) => this.onGateway(ws, /^\/([A-Za-z0-9_-]+)/.exec(req.url ?? '')?.[1]));
    server.on('request', (req, res) => {
      this.onRequest(req, res).catch((err) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: String(err), code: 0 }));
      });
    });
  }

  /** Starts the fake on 127.0.0.1 and a free port. */
  static async start(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
    const server = createServer();
    const fake = new FakeDiscord(server, options);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.port = (server.address() as AddressInfo).port;
    return fake;
  }

  /** `apiUrl` for the bridge. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  /** A webhook URL in Discord's shape; its requests go to `apiUrl`. */
  get webhookUrl(): string {
    return `https://discord.com/api/webhooks/${this.webhookId}/${this.webhookToken}`;
  }

  /** Stops the HTTP server and the Gateway. */
  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ─────────────────────────── controls and views ───────────────────────────

  /** Answers the next request that matches with this status and body (once). */
  failNext(failure: Failure): void {
    this.failures.push(failure);
  }

  /** Answers the next matching request with a 429 and `retry_after`, like Discord's rate limiter. */
  rateLimitNext(method: string, path: RegExp, retryAfterSeconds: number): void {
    this.failNext({
      method,
      path,
      status: 429,
      body: { message: 'You are being rate limited.', retry_after: retryAfterSeconds, global: false },
      headers: { 'retry-after': String(retryAfterSeconds) },
    });
  }

  /** Messages of a channel or thread, oldest first (deleted ones flagged). */
  channelMessages(channelId: string): FakeMessage[] {
    return this.messages.get(channelId) ?? [];
  }

  /** Threads whose parent is the configured channel. */
  threads(): FakeChannel[] {
    return [...this.channels.values()].filter((c) => c.parent_id === this.channelId);
  }

  /** Text of a message as a reader sees it: content plus embed text. */
  static textOf(m: FakeMessage): string {
    const embedText = m.embeds.flatMap((e) => [
      e.title ?? '',
      e.description ?? '',
      ...(e.fields ?? []).map((f) => `${f.name}: ${f.value}`),
    ]);
    return [m.content, ...embedText].filter((s) => s.length > 0).join('\n');
  }

  /** Archives a thread as Discord does after inactivity. */
  archive(threadId: string): void {
    const thread = this.channels.get(threadId);
    if (thread?.thread_metadata) thread.thread_metadata.archived = true;
  }

  /** A human operator in the guild. */
  human(name = 'ana', nick?: string): { user: FakeUser; nick?: string } {
    return {
      user: { id: snowflake(), username: name, global_name: name.toUpperCase(), discriminator: '0', avatar: null },
      ...(nick ? { nick } : {}),
    };
  }

  /** A person writes in a channel; dispatched as MESSAGE_CREATE. */
  say(
    channelId: string,
    text: string,
    options: {
      as?: { user: FakeUser; nick?: string };
      replyTo?: string;
      files?: { filename: string; data: Buffer; contentType: string }[];
      /** Posted by a webhook with this id. */
      webhookId?: string;
    } = {},
  ): FakeMessage {
    const as = options.as ?? this.human();
    const message = this.store(channelId, {
      content: text,
      author: options.webhookId ? { ...as.user, id: options.webhookId, bot: true } : as.user,
      embeds: [],
      files: options.files ?? [],
      ...(options.webhookId ? { webhook_id: options.webhookId } : {}),
      ...(options.replyTo ? { message_reference: { message_id: options.replyTo, channel_id: channelId } } : {}),
    });
    this.dispatch('MESSAGE_CREATE', this.messagePayload(message, as.nick));
    return message;
  }

  /** Dispatches MESSAGE_CREATE for a stored message again (Gateway redelivery). */
  redeliver(messageId: string): void {
    const m = this.find(messageId);
    if (!m) throw new Error(`no message ${messageId}`);
    this.dispatch('MESSAGE_CREATE', this.messagePayload(m));
  }

  /** A person edits their message; dispatched as MESSAGE_UPDATE. */
  edit(messageId: string, text: string): void {
    const m = this.find(messageId);
    if (!m) throw new Error(`no message ${messageId}`);
    m.content = text;
    m.edited_timestamp = new Date().toISOString();
    this.dispatch('MESSAGE_UPDATE', this.messagePayload(m));
  }

  /** A person deletes a message; dispatched as MESSAGE_DELETE. */
  remove(messageId: string): void {
    const m = this.find(messageId);
    if (!m) throw new Error(`no message ${messageId}`);
    m.deleted = true;
    this.dispatch('MESSAGE_DELETE', { id: m.id, channel_id: m.channel_id, guild_id: this.guildId });
  }

  /** A person types in a channel; dispatched as TYPING_START. */
  startTyping(channelId: string, as = this.human()): void {
    this.dispatch('TYPING_START', {
      channel_id: channelId,
      guild_id: this.guildId,
      user_id: as.user.id,
      timestamp: Math.floor(Date.now() / 1000),
      member: this.member(as.user, as.nick),
    });
  }

  /** Sends a Gateway dispatch to every connected client. */
  dispatch(t: string, d: unknown): void {
    const payload = JSON.stringify({ op: 0, t, s: ++this.sequence, d });
    for (const ws of this.sockets) ws.send(payload);
  }

  /** Number of open Gateway connections. */
  get gatewayConnections(): number {
    return this.sockets.size;
  }

  /** Open Gateway sessions that got READY (of one `via`, when given). */
  readyConnections(via?: string): number {
    return [...this.sessions.values()].filter((v) => via === undefined || v === via).length;
  }

  // ─────────────────────────── gateway ───────────────────────────

  private onGateway(ws: WebSocket, via: string | undefined): void {
    this.sockets.add(ws);
    ws.on('close', () => {
      this.sockets.delete(ws);
      this.sessions.delete(ws);
    });
    ws.send(JSON.stringify({ op: 10, d: { heartbeat_interval: 41250 } }));
    ws.on('message', (raw) => {
      const packet = JSON.parse(String(raw)) as { op: number; d: { token?: string; intents?: number } };
      if (packet.op === 1) ws.send(JSON.stringify({ op: 11 }));
      if (packet.op !== 2) return;
      if (packet.d.token !== this.token) {
        ws.close(4004, 'Authentication failed.');
        return;
      }
      if (this.identifyCloseCode) {
        ws.close(this.identifyCloseCode, 'Disallowed intent(s).');
        return;
      }
      this.identifiedIntents = packet.d.intents ?? 0;
      this.sessions.set(ws, via);
      this.identified.push(via);
      ws.send(
        JSON.stringify({
          op: 0,
          t: 'READY',
          s: ++this.sequence,
          d: {
            v: 10,
            user: this.botUser,
            guilds: [{ id: this.guildId, unavailable: true }],
            session_id: randomBytes(8).toString('hex'),
            resume_gateway_url: `ws://127.0.0.1:${this.port}${via ? `/${via}` : ''}`,
            application: { id: this.botUser.id, flags: this.applicationFlags },
          },
        }),
      );
      ws.send(JSON.stringify({ op: 0, t: 'GUILD_CREATE', s: ++this.sequence, d: this.guildPayload(true) }));
    });
  }

  private guildPayload(full: boolean): Record<string, unknown> {
    const all = [...this.channels.values()];
    return {
      id: this.guildId,
      name: 'Acme support',
      icon: null,
      owner_id: snowflake(),
      features: [],
      emojis: [],
      stickers: [],
      roles: [
        {
          id: this.guildId,
          name: '@everyone',
          permissions: '0',
          position: 0,
          color: 0,
          hoist: false,
          managed: false,
          mentionable: false,
          flags: 0,
        },
        {
          id: this.botRoleId,
          name: 'PocketPing',
          permissions: this.botPermissions.toString(),
          position: 1,
          color: 0,
          hoist: false,
          managed: true,
          mentionable: false,
          flags: 0,
        },
      ],
      ...(full
        ? {
            unavailable: false,
            member_count: 2,
            large: false,
            joined_at: new Date().toISOString(),
            channels: all.filter((c) => !c.thread_metadata),
            threads: all.filter((c) => c.thread_metadata && !c.thread_metadata.archived),
            members: [this.member(this.botUser)],
            presences: [],
            voice_states: [],
          }
        : {}),
    };
  }

  private member(user: FakeUser, nick?: string): Record<string, unknown> {
    return {
      user,
      nick: nick ?? null,
      roles: user.id === this.botUser.id ? [this.botRoleId] : [],
      joined_at: new Date().toISOString(),
      deaf: false,
      mute: false,
      flags: 0,
    };
  }

  private messagePayload(m: FakeMessage, nick?: string): Record<string, unknown> {
    const { files: _files, deleted: _deleted, allowed_mentions: _am, ...rest } = m;
    const content = this.identifiedIntents & MESSAGE_CONTENT_INTENT ? m.content : '';
    return {
      ...rest,
      content,
      guild_id: this.guildId,
      mentions: [],
      mention_roles: [],
      mention_everyone: false,
      pinned: false,
      tts: false,
      ...(m.webhook_id ? {} : { member: this.member(m.author, nick) }),
    };
  }

  // ─────────────────────────── REST ───────────────────────────

  private find(messageId: string): FakeMessage | undefined {
    for (const list of this.messages.values()) {
      const m = list.find((x) => x.id === messageId);
      if (m) return m;
    }
    return undefined;
  }

  private store(
    channelId: string,
    input: Pick<FakeMessage, 'content' | 'author' | 'embeds'> &
      Partial<Pick<FakeMessage, 'message_reference' | 'webhook_id' | 'allowed_mentions'>> & {
        files: { filename: string; data: Buffer; contentType?: string }[];
        id?: string;
      },
  ): FakeMessage {
    const id = input.id ?? snowflake();
    const files: Record<string, Buffer> = {};
    const attachments = input.files.map((f) => {
      const aid = snowflake();
      files[aid] = f.data;
      const url = `http://127.0.0.1:${this.port}/cdn/attachments/${channelId}/${aid}/${encodeURIComponent(f.filename)}`;
      return {
        id: aid,
        filename: f.filename,
        size: f.data.byteLength,
        url,
        proxy_url: url,
        ...(f.contentType ? { content_type: f.contentType } : {}),
      };
    });
    const message: FakeMessage = {
      id,
      channel_id: channelId,
      content: input.content,
      embeds: input.embeds,
      author: input.author,
      attachments,
      files,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      type: input.message_reference ? 19 : 0,
      ...(input.message_reference ? { message_reference: input.message_reference } : {}),
      ...(input.webhook_id ? { webhook_id: input.webhook_id } : {}),
      ...(input.allowed_mentions ? { allowed_mentions: input.allowed_mentions } : {}),
    };
    const list = this.messages.get(channelId) ?? [];
    list.push(message);
    this.messages.set(channelId, list);
    return message;
  }

  private async readBody(
    req: IncomingMessage,
  ): Promise<{ body: unknown; files: { filename: string; data: Buffer; contentType: string }[] }> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const type = req.headers['content-type'] ?? '';
    if (type.startsWith('multipart/form-data')) {
      const form = await new Request('http://fake/', {
        method: 'POST',
        headers: { 'content-type': type },
        body: raw,
      }).formData();
      const files: { filename: string; data: Buffer; contentType: string }[] = [];
      let body: unknown = {};
      for (const [key, value] of form.entries()) {
        if (key === 'payload_json') body = JSON.parse(String(value));
        else if (typeof value !== 'string') {
          files.push({ filename: value.name, data: Buffer.from(await value.arrayBuffer()), contentType: value.type });
        }
      }
      return { body, files };
    }
    return { body: raw.length > 0 ? JSON.parse(raw.toString('utf8')) : undefined, files: [] };
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}): undefined => {
      // Like Discord, an empty answer (204) carries no JSON content type.
      res.writeHead(status, { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers });
      res.end(body === undefined ? '' : JSON.stringify(body));
    };

    const cdn = /^\/cdn\/attachments\/(\d+)\/(\d+)\//.exec(url.pathname);
    if (cdn) {
      const data = this.channelMessages(cdn[1]!)
        .map((m) => m.files[cdn[2]!])
        .find(Boolean);
      if (!data) return send(404, { message: 'Not found' });
      this.downloads.push(cdn[2]!);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(data.byteLength) });
      res.end(data);
      return;
    }

    const prefix = /^(?:\/([A-Za-z0-9_-]+))?\/api\/v10/.exec(url.pathname);
    const via = prefix?.[1];
    const path = prefix ? url.pathname.slice(prefix[0].length) : url.pathname;
    const { body, files } = await this.readBody(req);
    this.requests.push({
      ...(via ? { via } : {}),
      method,
      path,
      body,
      files: files.map((f) => ({ name: f.filename, size: f.data.byteLength })),
    });

    const failureIndex = this.failures.findIndex((f) => f.method === method && f.path.test(path));
    if (failureIndex >= 0) {
      const [failure] = this.failures.splice(failureIndex, 1);
      return send(failure!.status, failure!.body, failure!.headers);
    }

    const webhook = /^\/webhooks\/(\d+)\/([^/]+)(?:\/messages\/(\d+))?$/.exec(path);
    if (webhook) return this.onWebhook(method, webhook[1]!, webhook[2]!, webhook[3], body, files, url, send);

    if (req.headers.authorization !== `Bot ${this.token}`) return send(401, { message: '401: Unauthorized', code: 0 });

    if (method === 'GET' && path === '/gateway/bot') {
      return send(200, {
        url: `ws://127.0.0.1:${this.port}${via ? `/${via}` : ''}`,
        shards: 1,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 },
      });
    }
    if (method === 'GET' && path === '/users/@me') return send(200, this.botUser);
    if (method === 'GET' && path === '/applications/@me') {
      return send(200, { id: this.botUser.id, name: 'PocketPing', flags: this.applicationFlags, bot: this.botUser });
    }
    if (method === 'GET' && path === `/guilds/${this.guildId}`) return send(200, this.guildPayload(false));
    if (method === 'GET' && path === `/guilds/${this.guildId}/members/${this.botUser.id}`) {
      return send(200, this.member(this.botUser));
    }

    let m: RegExpExecArray | null;
    if ((m = /^\/channels\/(\d+)$/.exec(path))) {
      const channel = this.channels.get(m[1]!);
      if (!channel) return send(404, { message: 'Unknown Channel', code: 10003 });
      if (method === 'GET') return send(200, channel);
      if (method === 'PATCH') {
        const patch = body as { name?: string; archived?: boolean };
        if (patch.name) channel.name = patch.name;
        if (patch.archived !== undefined && channel.thread_metadata) channel.thread_metadata.archived = patch.archived;
        this.dispatch('THREAD_UPDATE', channel);
        return send(200, channel);
      }
      if (method === 'DELETE') {
        // Like Discord: deleting a thread needs Manage Threads and takes its messages with it.
        if (!channel.thread_metadata) return send(403, { message: 'Missing Permissions', code: 50013 });
        if ((this.botPermissions & Perm.ManageThreads) === 0n) {
          return send(403, { message: 'Missing Permissions', code: 50013 });
        }
        this.channels.delete(channel.id);
        for (const x of this.channelMessages(channel.id)) x.deleted = true;
        this.dispatch('THREAD_DELETE', {
          id: channel.id,
          type: channel.type,
          guild_id: channel.guild_id,
          parent_id: channel.parent_id,
        });
        return send(200, channel);
      }
    }
    if ((m = /^\/channels\/(\d+)\/typing$/.exec(path)) && method === 'POST') {
      this.typing.push(m[1]!);
      return send(204);
    }
    if ((m = /^\/channels\/(\d+)\/messages$/.exec(path)) && method === 'POST') {
      const channel = this.channels.get(m[1]!);
      if (!channel) return send(404, { message: 'Unknown Channel', code: 10003 });
      if (channel.thread_metadata?.archived) {
        return send(400, { message: 'Thread is archived', code: 50083 });
      }
      if (channel.type === 15) return send(400, { message: 'Cannot send messages in a forum channel', code: 50008 });
      const b = body as {
        content?: string;
        embeds?: FakeMessage['embeds'];
        message_reference?: { message_id: string };
        allowed_mentions?: unknown;
      };
      if (!b.content && !(b.embeds && b.embeds.length > 0) && files.length === 0) {
        return send(400, { message: 'Cannot send an empty message', code: 50006 });
      }
      const message = this.store(channel.id, {
        content: b.content ?? '',
        embeds: b.embeds ?? [],
        author: this.botUser,
        files,
        ...(b.message_reference ? { message_reference: b.message_reference } : {}),
        ...(b.allowed_mentions ? { allowed_mentions: b.allowed_mentions } : {}),
      });
      this.dispatch('MESSAGE_CREATE', this.messagePayload(message));
      return send(200, this.messagePayload(message));
    }
    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(path))) {
      const message = this.channelMessages(m[1]!).find((x) => x.id === m![2] && !x.deleted);
      if (!message) return send(404, { message: 'Unknown Message', code: 10008 });
      const thread = this.channels.get(m[1]!);
      if (method !== 'GET' && thread?.thread_metadata?.archived) {
        return send(400, { message: 'Thread is archived', code: 50083 });
      }
      if (method === 'GET') return send(200, this.messagePayload(message));
      if (method === 'PATCH') {
        const b = body as { content?: string; embeds?: FakeMessage['embeds'] };
        if (b.content !== undefined) message.content = b.content;
        if (b.embeds !== undefined) message.embeds = b.embeds;
        message.edited_timestamp = new Date().toISOString();
        this.dispatch('MESSAGE_UPDATE', this.messagePayload(message));
        return send(200, this.messagePayload(message));
      }
      if (method === 'DELETE') {
        message.deleted = true;
        this.dispatch('MESSAGE_DELETE', { id: message.id, channel_id: message.channel_id, guild_id: this.guildId });
        return send(204);
      }
    }
    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)\/threads$/.exec(path)) && method === 'POST') {
      const starter = this.channelMessages(m[1]!).find((x) => x.id === m![2]);
      if (!starter) return send(404, { message: 'Unknown Message', code: 10008 });
      const b = body as { name: string; auto_archive_duration?: number };
      const thread = this.createThread(m[1]!, starter.id, b.name, b.auto_archive_duration);
      return send(201, thread);
    }
    if ((m = /^\/channels\/(\d+)\/threads$/.exec(path)) && method === 'POST') {
      const parent = this.channels.get(m[1]!);
      if (!parent) return send(404, { message: 'Unknown Channel', code: 10003 });
      const b = body as {
        name: string;
        auto_archive_duration?: number;
        message?: { content?: string; embeds?: FakeMessage['embeds'] };
      };
      const id = snowflake();
      const thread = this.createThread(parent.id, id, b.name, b.auto_archive_duration);
      if (b.message) {
        const starter = this.store(id, {
          id,
          content: b.message.content ?? '',
          embeds: b.message.embeds ?? [],
          author: this.botUser,
          files: [],
        });
        this.dispatch('MESSAGE_CREATE', this.messagePayload(starter));
      }
      return send(201, {
        ...thread,
        ...(b.message ? { message: this.messagePayload(this.channelMessages(id)[0]!) } : {}),
      });
    }
    return send(404, { message: `fake-discord: no route ${method} ${path}`, code: 0 });
  }

  private createThread(parentId: string, id: string, name: string, autoArchive = 10080): FakeChannel {
    const thread: FakeChannel = {
      id,
      type: 11,
      guild_id: this.guildId,
      parent_id: parentId,
      name,
      owner_id: this.botUser.id,
      thread_metadata: {
        archived: false,
        auto_archive_duration: autoArchive,
        archive_timestamp: new Date().toISOString(),
        locked: false,
      },
    };
    this.channels.set(id, thread);
    this.dispatch('THREAD_CREATE', { ...thread, newly_created: true });
    return thread;
  }

  private onWebhook(
    method: string,
    id: string,
    token: string,
    messageId: string | undefined,
    body: unknown,
    files: { filename: string; data: Buffer; contentType: string }[],
    url: URL,
    send: (status: number, body?: unknown) => undefined,
  ): undefined {
    if (id !== this.webhookId || token !== this.webhookToken)
      return send(401, { message: 'Invalid Webhook Token', code: 50027 });
    if (!messageId) {
      if (method === 'GET') {
        return send(200, {
          id,
          type: 1,
          channel_id: this.channelId,
          guild_id: this.guildId,
          name: 'PocketPing',
          token,
        });
      }
      const b = body as {
        content?: string;
        embeds?: FakeMessage['embeds'];
        username?: string;
        allowed_mentions?: unknown;
      };
      const message = this.store(this.channelId, {
        content: b.content ?? '',
        embeds: b.embeds ?? [],
        author: {
          id,
          username: b.username ?? 'PocketPing',
          global_name: null,
          discriminator: '0000',
          avatar: null,
          bot: true,
        },
        webhook_id: id,
        files,
        ...(b.allowed_mentions ? { allowed_mentions: b.allowed_mentions } : {}),
      });
      this.dispatch('MESSAGE_CREATE', this.messagePayload(message));
      return url.searchParams.get('wait') === 'true' ? send(200, this.messagePayload(message)) : send(204);
    }
    const message = this.channelMessages(this.channelId).find(
      (m) => m.id === messageId && m.webhook_id === id && !m.deleted,
    );
    if (!message) return send(404, { message: 'Unknown Message', code: 10008 });
    if (method === 'GET') return send(200, this.messagePayload(message));
    if (method === 'PATCH') {
      const b = body as { content?: string; embeds?: FakeMessage['embeds'] };
      if (b.content !== undefined) message.content = b.content;
      if (b.embeds !== undefined) message.embeds = b.embeds;
      message.edited_timestamp = new Date().toISOString();
      return send(200, this.messagePayload(message));
    }
    if (method === 'DELETE') {
      message.deleted = true;
      return send(204);
    }
    return send(405, { message: 'Method not allowed' });
  }
}
