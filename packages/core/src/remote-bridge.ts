import { z } from 'zod';
import type {
  Bridge,
  BridgeContext,
  BridgeMessageContext,
  BridgeSendResult,
  BridgeWebhookRequest,
  BridgeWebhookResponse,
} from './bridge.js';
import { BridgeError, SetupError, ValidationError } from './errors.js';
import type { Attachment, Message, Session } from './models.js';
import { signWebhookBody } from './outgoing-webhooks.js';

/** Options of `RemoteBridge` (remote mode). */
export const RemoteBridgeOptionsSchema = z.object({
  /** Endpoint base of the central pocketping-server, e.g. `https://chat.example.com/pocketping`. */
  url: z.string().url('url must be the absolute endpoint base of the central server'),
  /** The central server's admin API key. */
  apiKey: z.string().min(16, 'apiKey must be the central server admin key (16+ characters)'),
  /** Bridge name (key of stored ids). @default 'remote' */
  name: z.string().min(1).default('remote'),
  /**
   * How operator replies come back: `stream` (a long-lived event stream from the central server),
   * `webhook` (the central server's signed outgoing webhooks, POSTed to `{prefix}/webhooks/{name}`),
   * or `none`. @default 'stream'
   */
  receive: z.enum(['stream', 'webhook', 'none']).default('stream'),
  /** Secret of the central server's outgoing webhook (required with `receive: webhook`). */
  webhookSecret: z.string().min(8).optional(),
  /** Per-request timeout to the central server. @default 10000 */
  timeoutMs: z.number().int().positive().default(10_000),
});
/** Options of `RemoteBridge` (input). */
export type RemoteBridgeOptions = z.input<typeof RemoteBridgeOptionsSchema>;

interface RemoteEvent {
  type: string;
  data?: { message?: Message & { metadata?: Record<string, unknown> }; sessionId?: string; isTyping?: boolean };
  session?: { id: string };
}

function revive(message: Record<string, unknown>): Message {
  const out = { ...message } as Record<string, unknown>;
  for (const k of ['timestamp', 'updatedAt', 'deliveredAt', 'readAt', 'editedAt', 'deletedAt']) {
    if (typeof out[k] === 'string') out[k] = new Date(out[k] as string);
  }
  return out as unknown as Message;
}

/**
 * Remote mode: your app keeps the widget endpoints while a central `pocketping-server` owns the
 * bridges. Sessions and visitor messages are mirrored to the central server through its admin
 * API; operator replies, edits, deletes and typing come back by event stream or signed webhook.
 * `new PocketPing({ bridgeUrl, apiKey })` adds one for you.
 *
 * @example
 * ```ts
 * const pp = new PocketPing({ bridgeUrl: 'https://chat.example.com/pocketping', apiKey: process.env.POCKETPING_API_KEY });
 * ```
 */
export class RemoteBridge implements Bridge {
  readonly name: string;
  readonly webhook?: Bridge['webhook'];
  private readonly options: z.output<typeof RemoteBridgeOptionsSchema>;
  private ctx?: BridgeContext;
  private abort?: AbortController;
  private readonly mirrored = new Set<string>();

  constructor(options: RemoteBridgeOptions) {
    const parsed = RemoteBridgeOptionsSchema.safeParse(options);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ');
      throw new ValidationError(`Invalid remote mode options: ${detail}`, { code: 'CONFIG_INVALID' });
    }
    this.options = { ...parsed.data, url: parsed.data.url.replace(/\/+$/, '') };
    this.name = this.options.name;
    if (this.options.receive === 'webhook') {
      if (!this.options.webhookSecret) {
        throw new ValidationError(
          'remote mode with receive: webhook needs webhookSecret (the central webhooks[].secret)',
          {
            code: 'CONFIG_INVALID',
          },
        );
      }
      this.webhook = { path: this.name, handle: (req) => this.onWebhook(req) };
    }
  }

  async init(ctx: BridgeContext): Promise<void> {
    this.ctx = ctx;
    await this.check();
    if (this.options.receive === 'stream') {
      this.abort = new AbortController();
      void this.streamLoop(this.abort.signal);
    }
  }

  async close(): Promise<void> {
    this.abort?.abort();
    this.abort = undefined;
  }

  /** Checks that the central server answers and accepts the API key. */
  async check(): Promise<void> {
    let res: Response;
    try {
      res = await this.request('GET', '/admin/sessions?limit=1');
    } catch (err) {
      throw new SetupError({
        component: 'Remote mode',
        problem: `the central server at ${this.options.url} cannot be reached (${(err as Error).message})`,
        steps: [
          'Check bridgeUrl: it is the endpoint base of pocketping-server, e.g. https://chat.example.com/pocketping',
          'Make sure pocketping-server is running and reachable from this app',
        ],
        cause: err,
      });
    }
    if (res.status === 401) {
      throw new SetupError({
        component: 'Remote mode',
        problem: 'the central server refused the API key',
        steps: ['Use the admin key of the central server (its server.apiKey or POCKETPING_API_KEY) as apiKey'],
      });
    }
    if (!res.ok && res.status !== 501) {
      throw new SetupError({
        component: 'Remote mode',
        problem: `the central server answered ${res.status} at ${this.options.url}/admin/sessions`,
        steps: ['Check that bridgeUrl includes the prefix (e.g. /pocketping)'],
      });
    }
  }

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${this.options.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.options.apiKey}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(this.options.timeoutMs),
    });
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await this.request(method, path, body);
    } catch (err) {
      throw new BridgeError(this.name, `remote: ${method} ${path} failed: ${(err as Error).message}`, { cause: err });
    }
    const text = await res.text();
    if (!res.ok) {
      const retryAfter = Number(res.headers.get('retry-after'));
      throw new BridgeError(this.name, `remote: ${method} ${path} answered ${res.status}: ${text.slice(0, 200)}`, {
        ...(res.status === 429 && Number.isFinite(retryAfter) ? { retryAfterMs: retryAfter * 1000 } : {}),
        // A 4xx other than 408/429 will not succeed on retry.
        retryable: res.status >= 500 || res.status === 408 || res.status === 429,
      });
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  private async mirrorSession(session: Session): Promise<void> {
    await this.call('PUT', `/admin/sessions/${session.id}`, {
      visitorId: session.visitorId,
      metadata: session.metadata,
      ...(session.identity ? { identity: session.identity } : {}),
    });
    this.mirrored.add(session.id);
  }

  async onNewSession(session: Session): Promise<void> {
    await this.mirrorSession(session);
  }

  async onIdentityUpdate(session: Session): Promise<void> {
    await this.mirrorSession(session);
  }

  async onVisitorMessage(message: Message, session: Session): Promise<BridgeSendResult> {
    if (!this.mirrored.has(session.id) && !session.bridgeThreads?.[this.name]) await this.mirrorSession(session);
    await this.call('POST', `/admin/sessions/${session.id}/visitor-messages`, {
      id: message.id,
      content: message.content,
      ...(message.replyTo ? { replyTo: message.replyTo } : {}),
      ...(message.attachments?.length
        ? {
            attachments: message.attachments.map((a) => ({
              id: a.id,
              filename: a.filename,
              mimeType: a.mimeType,
              size: a.size,
              url: a.url,
            })),
          }
        : {}),
    });
    // Visitor messages keep their id on the central server.
    return { platformMessageId: message.id, threadId: session.id };
  }

  async onOperatorMessage(
    message: Message,
    session: Session,
    context: BridgeMessageContext,
  ): Promise<BridgeSendResult> {
    if (!this.mirrored.has(session.id) && !session.bridgeThreads?.[this.name]) await this.mirrorSession(session);
    const out = await this.call<{ message: { id: string } }>('POST', `/admin/sessions/${session.id}/messages`, {
      content: message.content,
      sender: message.sender === 'ai' ? 'ai' : 'operator',
      ...(context.operatorName ? { operatorName: context.operatorName } : {}),
      ...(message.replyTo ? { replyTo: message.replyTo } : {}),
      clientMessageId: message.id,
    });
    return { platformMessageId: out.message.id, threadId: session.id };
  }

  async onMessageEdit(message: Message, session: Session, platformMessageId: string): Promise<void> {
    const path = message.sender === 'visitor' ? 'visitor-messages' : 'messages';
    await this.call('PATCH', `/admin/sessions/${session.id}/${path}/${platformMessageId}`, {
      content: message.content,
    });
  }

  async onMessageDelete(message: Message, session: Session, platformMessageId: string): Promise<void> {
    const path = message.sender === 'visitor' ? 'visitor-messages' : 'messages';
    await this.call('DELETE', `/admin/sessions/${session.id}/${path}/${platformMessageId}`);
  }

  async onSessionClosed(session: Session): Promise<void> {
    await this.call('POST', `/admin/sessions/${session.id}/close`, {});
  }

  /** Applies one event from the central server (stream or webhook). */
  async apply(event: RemoteEvent): Promise<void> {
    const ctx = this.ctx;
    if (!ctx) return;
    const raw = event.data?.message;
    if (event.type === 'operator.typing' && event.data?.sessionId) {
      if (await ctx.getSession(event.data.sessionId))
        await ctx.operatorTyping(event.data.sessionId, event.data.isTyping ?? false);
      return;
    }
    if (event.type === 'session.closed' && event.session?.id) {
      const local = await ctx.getSession(event.session.id);
      if (local && local.status !== 'closed') await ctx.closeSession(local.id);
      return;
    }
    if (!raw) return;
    const message = revive(raw as unknown as Record<string, unknown>);
    // Visitor messages start here; our own operator replies come back with their client id.
    if (message.sender === 'visitor' || message.metadata?.clientMessageId) return;
    if (!(await ctx.getSession(message.sessionId))) return;
    const key = `${event.type}:${message.id}:${message.updatedAt instanceof Date ? message.updatedAt.getTime() : ''}`;
    if (!(await ctx.firstDelivery(key))) return;
    if (event.type === 'message.created') {
      if (await ctx.findMessageByPlatformId(message.id)) return;
      const attachments: Attachment[] = (message.attachments ?? []).map((a) => ({
        ...a,
        createdAt: new Date(a.createdAt ?? Date.now()),
      }));
      await ctx.operatorMessage({
        sessionId: message.sessionId,
        content: message.content,
        platformMessageId: message.id,
        ...(message.operatorName ? { operatorName: message.operatorName } : {}),
        ...(message.replyTo ? { replyToPlatformMessageId: message.replyTo } : {}),
        ...(attachments.length ? { attachments } : {}),
      });
    } else if (event.type === 'message.edited') {
      await ctx.operatorEdit({ platformMessageId: message.id, content: message.content });
    } else if (event.type === 'message.deleted') {
      await ctx.operatorDelete({ platformMessageId: message.id });
    }
  }

  private async onWebhook(req: BridgeWebhookRequest): Promise<BridgeWebhookResponse> {
    const presented = req.headers['x-pocketping-signature'] ?? '';
    const expected = `sha256=${await signWebhookBody(this.options.webhookSecret!, req.rawBody)}`;
    if (!constantTimeEqual(presented, expected)) {
      return { status: 401, body: { error: 'WEBHOOK_UNAUTHORIZED', message: 'bad or missing X-PocketPing-Signature' } };
    }
    try {
      await this.apply(req.body as RemoteEvent);
    } catch (err) {
      this.ctx?.logger.warn({ err }, 'remote: applying a webhook event failed');
      return { status: 500, body: { error: 'INTERNAL', message: 'could not apply the event; retry later' } };
    }
    return { status: 200, body: { ok: true } };
  }

  private async streamLoop(signal: AbortSignal): Promise<void> {
    let delay = 500;
    while (!signal.aborted) {
      try {
        const res = await fetch(`${this.options.url}/admin/events`, {
          headers: { authorization: `Bearer ${this.options.apiKey}`, accept: 'text/event-stream' },
          signal,
        });
        if (!res.ok || !res.body) throw new Error(`event stream answered ${res.status}`);
        delay = 500;
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        // One event at a time, in order: an edit must not overtake the message it edits.
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let i: number;
          while ((i = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, i);
            buffer = buffer.slice(i + 2);
            const data = block
              .split('\n')
              .filter((l) => l.startsWith('data:'))
              .map((l) => l.slice(5).trim())
              .join('');
            if (!data) continue;
            try {
              await this.apply(JSON.parse(data) as RemoteEvent);
            } catch (err) {
              this.ctx?.logger.warn({ err }, 'remote: applying an event failed');
            }
          }
        }
      } catch (err) {
        if (signal.aborted) return;
        this.ctx?.logger.warn({ err: (err as Error).message }, 'remote: event stream lost; reconnecting');
      }
      if (signal.aborted) return;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(30_000, delay * 2);
    }
  }
}

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
