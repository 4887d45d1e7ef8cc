import { z } from 'zod';
import type { PocketPingEvent, PocketPingEventType } from './events.js';
import type { Logger } from './logger.js';
import type { Session } from './models.js';

/** One outgoing webhook target. */
export const OutgoingWebhookSchema = z.object({
  /** Where to POST. */
  url: z.string().url('webhooks[].url must be an absolute URL'),
  /** HMAC-SHA256 key; requests carry `X-PocketPing-Signature: sha256=<hex of the raw body>`. */
  secret: z.string().min(8, 'webhooks[].secret must be at least 8 characters').optional(),
  /** Event types to send (e.g. `message.created`, `session.started`, `custom_event`); all when absent. */
  events: z.array(z.string().min(1)).optional(),
  /** Per-request timeout. @default 5000 */
  timeoutMs: z.number().int().positive().default(5000),
  /** Attempts before giving up on one delivery. @default 6 */
  maxAttempts: z.number().int().positive().max(20).default(6),
});
/** One outgoing webhook target (input). */
export type OutgoingWebhookOptions = z.input<typeof OutgoingWebhookSchema>;

function sessionSummary(s: Session) {
  return {
    id: s.id,
    visitorId: s.visitorId,
    status: s.status,
    metadata: s.metadata,
    ...(s.identity ? { identity: s.identity } : {}),
  };
}

/** The JSON body of one webhook delivery. */
export function webhookPayload(event: PocketPingEvent): Record<string, unknown> {
  const sentAt = new Date().toISOString();
  switch (event.type) {
    case 'custom_event':
      // The shape the PocketPing SDKs send for custom events, plus `type`.
      return { type: event.type, event: event.event, session: sessionSummary(event.session), sentAt };
    case 'csat.submitted':
      return {
        type: event.type,
        data: {
          sessionId: event.session.id,
          score: event.csat.score,
          comment: event.csat.comment,
          respondedAt: event.csat.respondedAt,
        },
        session: sessionSummary(event.session),
        sentAt,
      };
    case 'message.created':
    case 'message.edited':
    case 'message.deleted': {
      const { bridgeMessageIds: _ids, ...message } = event.message;
      return { type: event.type, data: { message }, session: sessionSummary(event.session), sentAt };
    }
    case 'operator.typing':
      return { type: event.type, data: { sessionId: event.sessionId, isTyping: event.isTyping }, sentAt };
    case 'delivery.failed':
      return {
        type: event.type,
        data: {
          bridge: event.bridge,
          sessionId: event.sessionId,
          operation: event.operation,
          deadLettered: event.deadLettered,
          error: event.error instanceof Error ? event.error.message : String(event.error),
        },
        sentAt,
      };
    default: {
      const { type, session, ...rest } = event as PocketPingEvent & { session: Session };
      return { type, data: rest, session: sessionSummary(session), sentAt };
    }
  }
}

/** Hex HMAC-SHA256 of `body` with `secret` (Web Crypto: works on every runtime). */
export async function signWebhookBody(secret: string, body: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await globalThis.crypto.subtle.importKey(
    'raw',
    enc.encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const sig = new Uint8Array(await globalThis.crypto.subtle.sign('HMAC', key, enc.encode(body)));
  return Array.from(sig, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Posts PocketPing events to configured URLs, HMAC-signed, retried with exponential backoff
 * and jitter. Deliveries to one URL keep their order; a slow or failing URL never delays the
 * visitor's requests or the other URLs.
 */
export class OutgoingWebhooks {
  private readonly targets: z.output<typeof OutgoingWebhookSchema>[];
  private readonly chains = new Map<number, Promise<void>>();
  private closed = false;

  constructor(
    targets: OutgoingWebhookOptions[],
    private readonly logger: Logger,
    private readonly fetchImpl: typeof fetch = globalThis.fetch,
  ) {
    this.targets = targets.map((t) => OutgoingWebhookSchema.parse(t));
  }

  /** Queues the event for every target that wants it. */
  notify(event: PocketPingEvent): void {
    if (this.closed) return;
    let body: string | undefined;
    this.targets.forEach((target, i) => {
      if (target.events && !target.events.includes(event.type as PocketPingEventType)) return;
      body ??= JSON.stringify(webhookPayload(event));
      const payload = body;
      const previous = this.chains.get(i) ?? Promise.resolve();
      const next = previous.then(() => this.deliver(target, payload, event.type));
      this.chains.set(i, next);
      void next.finally(() => {
        if (this.chains.get(i) === next) this.chains.delete(i);
      });
    });
  }

  /** Resolves when every queued delivery finished (or gave up). */
  async flush(): Promise<void> {
    await Promise.all([...this.chains.values()]);
  }

  /** Stops sending new deliveries. */
  close(): void {
    this.closed = true;
  }

  private async deliver(target: z.output<typeof OutgoingWebhookSchema>, body: string, type: string): Promise<void> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'PocketPing-Webhooks/1',
    };
    if (target.secret) headers['x-pocketping-signature'] = `sha256=${await signWebhookBody(target.secret, body)}`;
    for (let attempt = 1; attempt <= target.maxAttempts; attempt++) {
      let retryAfterMs: number | undefined;
      try {
        const res = await this.fetchImpl(target.url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(target.timeoutMs),
        });
        if (res.ok) return;
        const ra = Number(res.headers.get('retry-after'));
        if (Number.isFinite(ra) && ra > 0) retryAfterMs = Math.min(ra * 1000, 60_000);
        // A 4xx other than 408/429 is the receiver refusing this payload: retrying cannot help.
        if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
          this.logger.warn({ url: target.url, status: res.status, type }, 'outgoing webhook refused');
          return;
        }
      } catch (err) {
        this.logger.debug({ url: target.url, err, attempt }, 'outgoing webhook failed');
      }
      if (this.closed || attempt === target.maxAttempts) break;
      const base = retryAfterMs ?? Math.min(30_000, 500 * 2 ** (attempt - 1));
      await new Promise((r) => setTimeout(r, base * (0.8 + Math.random() * 0.4)));
    }
    this.logger.warn({ url: target.url, type }, 'outgoing webhook gave up after retries');
  }
}
