import { z } from 'zod';
import { PocketPingError, ValidationError } from '../errors.js';
import type { PocketPing, RequestContext } from '../pocketping.js';
import { versionHeaders } from '../version.js';
import { EXPOSED_HEADERS, toHttpError, WIDGET_ROUTES, type WidgetRoute } from '../http.js';
import { RateLimiter } from '../security.js';
import { ADMIN_ROUTES, type AdminRoute, apiKeyMatches } from './admin-api.js';
import { Router } from './router.js';

/** Options of the shared HTTP layer (every adapter: Fastify, Express, fetch). */
export const HttpOptionsSchema = z.object({
  /** Allowed widget origins; `*` allows every origin. @default ['*'] */
  corsOrigins: z.array(z.string().min(1)).default(['*']),
  /** Bearer key of the admin API; without it the admin API answers 401. */
  apiKey: z.string().min(16, 'apiKey must be at least 16 characters').optional(),
  /** Largest JSON body in bytes. @default 65536 */
  bodyLimit: z
    .number()
    .int()
    .positive()
    .default(64 * 1024),
  /** Largest bridge webhook body in bytes. @default 1048576 */
  webhookBodyLimit: z
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
});
/** Options of the shared HTTP layer. */
export type HttpOptions = z.input<typeof HttpOptionsSchema>;

/** A request as every adapter hands it to the pipeline. */
export interface ProtocolHttpRequest {
  method: string;
  /** Path below the PocketPing prefix, starting with `/` (no query string). */
  path: string;
  query: Record<string, string | undefined>;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  /** The raw body, when there is one (read up to `bodyLimitFor(...)` bytes). */
  body?: Uint8Array;
  /** Client IP. */
  ip?: string;
  /** Absolute base URL of the PocketPing endpoints as this request reached them. */
  baseUrl: string;
}

/** What the pipeline answers; adapters write it out. */
export type ProtocolHttpResponse =
  | { kind: 'json'; status: number; headers: Record<string, string>; body: unknown }
  | { kind: 'empty'; status: number; headers: Record<string, string> }
  | {
      kind: 'bytes';
      status: number;
      headers: Record<string, string>;
      data: Uint8Array | AsyncIterable<Uint8Array>;
    }
  /** Open a Server-Sent Events stream (see `openSseStream`): one session's widget events, or all PocketPing events (admin). */
  | {
      kind: 'sse';
      status: 200;
      headers: Record<string, string>;
      sessionId?: string;
      after?: Date;
      /** Resume point from a client that keeps the `seq` of event envelopes. */
      afterSeq?: number;
      adminEvents?: boolean;
    };

type Handler = (
  req: ProtocolHttpRequest,
  params: Record<string, string>,
  body: unknown,
) => Promise<ProtocolHttpResponse>;

const ALLOW_METHODS = 'GET, POST, PATCH, DELETE, PUT, OPTIONS';
/** Calls that create something for the operators; typing, reads and polling are not counted per session. */
const SESSION_LIMITED = new Set(['/message', '/upload', '/identify', '/prechat', '/csat', '/screenshot/upload']);
const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
};
const ALLOW_HEADERS = 'Content-Type, X-PocketPing-Version, Authorization';
const EXPOSE_HEADERS = EXPOSED_HEADERS.join(', ');
const UPPER_METHODS = new Set(['GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS', 'HEAD']);

function inlineSafe(mimeType: string): boolean {
  // SVG and HTML can run script in the server's origin; they are always downloaded, never shown.
  const t = mimeType.toLowerCase();
  if (t === 'image/svg+xml') return false;
  return t.startsWith('image/') || t.startsWith('audio/') || t.startsWith('video/') || t === 'application/pdf';
}

const decoder = new TextDecoder();

function decodeJson(body: Uint8Array | undefined): unknown {
  if (!body || body.byteLength === 0) return undefined;
  const text = decoder.decode(body);
  // The widget sends a JSON Content-Type on GET and DELETE with no body at all. (A body that
  // starts with `{` is not blank: the common case skips the trim.)
  if (text.charCodeAt(0) !== 0x7b && text.trim() === '') return undefined;
  try {
    // Dropping __proto__ keys keeps a crafted body from reaching an object's prototype.
    // (The reviver costs a visit of every value, so it only runs when such a key can be there.)
    return text.includes('__proto__')
      ? JSON.parse(text, (key, value) => (key === '__proto__' ? undefined : value))
      : JSON.parse(text);
  } catch (err) {
    throw new ValidationError(`the body is not valid JSON: ${(err as Error).message}`, {
      code: 'REQUEST_INVALID_JSON',
    });
  }
}

/**
 * The one request pipeline behind every HTTP adapter: CORS, the widget version policy, body
 * parsing, routing of the widget endpoints, uploads, files, the admin API, bridge webhooks and
 * health checks, and error mapping. Framework-free and runtime-neutral (Web Crypto only).
 *
 * @example
 * ```ts
 * const http = new ProtocolHttpHandler(pp, { corsOrigins: ['https://example.com'], apiKey });
 * const res = await http.handle({ method: 'POST', path: '/connect', query: {}, headers, body, baseUrl });
 * ```
 */
export class ProtocolHttpHandler {
  readonly options: z.output<typeof HttpOptionsSchema>;
  private readonly router = new Router<Handler>();
  private readonly allowAll: boolean;
  private readonly allowed: Set<string>;
  private readonly ipLimiter?: RateLimiter;
  private readonly sessionLimiter?: RateLimiter;

  constructor(
    readonly pp: PocketPing,
    options: HttpOptions = {},
  ) {
    const parsed = HttpOptionsSchema.safeParse(options);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ');
      throw new ValidationError(`Invalid HTTP options: ${detail}`, { code: 'CONFIG_INVALID' });
    }
    this.options = parsed.data;
    this.allowAll = this.options.corsOrigins.includes('*');
    this.allowed = new Set(this.options.corsOrigins.map((o) => o.replace(/\/+$/, '')));
    const limits = pp.settings.security.rateLimit;
    if (limits.enabled) {
      this.ipLimiter = new RateLimiter(limits.perIp.max, limits.perIp.windowMs);
      this.sessionLimiter = new RateLimiter(limits.perSession.max, limits.perSession.windowMs);
    }
    for (const route of WIDGET_ROUTES) this.router.add(route.method, route.path, this.widgetHandler(route));
    for (const route of ADMIN_ROUTES) this.router.add(route.method, `/admin${route.path}`, this.adminHandler(route));
    this.router.add(
      'GET',
      '/admin/events',
      this.adminHandler({
        method: 'GET',
        path: '/events',
        handle: async () => ({ __sse: true }),
      }),
    );
    this.router.add('GET', '/stream', (req) => this.stream(req));
    this.router.add('PUT', '/upload/:attachmentId', (req, params) => this.upload(req, params.attachmentId ?? ''));
    this.router.add('GET', '/files/:attachmentId/:filename', (_req, params) => this.file(params.attachmentId ?? ''));
    this.router.add('POST', '/webhooks/:bridge', (req, params) => this.webhook(req, params.bridge ?? ''));
    this.router.add('GET', '/healthz', async () => this.json(200, { ok: true }));
    this.router.add('GET', '/readyz', async () => {
      const ready = await this.pp.isReady();
      return this.json(ready ? 200 : 503, { ok: ready, storage: ready ? 'ok' : 'unreachable' });
    });
  }

  /** How many body bytes an adapter should read for this request before answering 413. */
  bodyLimitFor(method: string, path: string): number {
    if (method === 'PUT' && path.startsWith('/upload/')) return this.pp.settings.maxAttachmentSize;
    if (path.startsWith('/webhooks/')) return this.options.webhookBodyLimit;
    return this.options.bodyLimit;
  }

  /** The answer to a body over the limit. */
  tooLarge(req: Pick<ProtocolHttpRequest, 'headers'>): ProtocolHttpResponse {
    return this.withCors(req, this.json(413, { error: 'REQUEST_TOO_LARGE', message: 'the request body is too large' }));
  }

  /** CORS headers for an actual (non-preflight) response. */
  corsHeaders(origin: string | undefined): Record<string, string> {
    if (!origin || !this.originAllowed(origin)) return origin ? { vary: 'Origin' } : {};
    // The origin is always echoed (never `*`) with credentials allowed: sendBeacon calls are
    // credentialed CORS requests and are dropped silently otherwise (PROTOCOL.md §1.4).
    return {
      'access-control-allow-origin': origin,
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': EXPOSE_HEADERS,
      vary: 'Origin',
    };
  }

  private originAllowed(origin: string): boolean {
    return this.allowAll || this.allowed.has(origin);
  }

  /** Handles one request; never throws. */
  async handle(req: ProtocolHttpRequest): Promise<ProtocolHttpResponse> {
    // Node and fetch hand over upper-case methods already (toUpperCase goes through ICU).
    const method = UPPER_METHODS.has(req.method) ? req.method : req.method.toUpperCase();
    if (method === 'OPTIONS') return this.preflight(req);
    try {
      const match = this.router.match(method === 'HEAD' ? 'GET' : method, req.path);
      if (!match) {
        return this.withCors(
          req,
          this.json(404, { error: 'NOT_FOUND', message: `no PocketPing route ${method} ${req.path.slice(0, 200)}` }),
        );
      }
      const limit = this.bodyLimitFor(method, req.path);
      if (req.body && req.body.byteLength > limit) return this.tooLarge(req);
      const isRaw = (method === 'PUT' && req.path.startsWith('/upload/')) || req.path.startsWith('/webhooks/');
      const body = isRaw ? undefined : decodeJson(req.body);
      // Platforms (webhooks), operators (admin) and probes are not widget traffic.
      const widgetTraffic = !/^\/(admin|webhooks|healthz|readyz)(\/|$)/.test(req.path);
      if (widgetTraffic) {
        const refused = this.guard(req, method, body);
        if (refused) return this.withCors(req, refused);
      }
      return this.withCors(req, await match.value(req, match.params, body));
    } catch (err) {
      return this.withCors(req, this.error(err));
    }
  }

  /** IP/User-Agent filters and rate limits for widget traffic; the refusal, or undefined. */
  private guard(req: ProtocolHttpRequest, method: string, body: unknown): ProtocolHttpResponse | undefined {
    const client: { ip?: string; userAgent?: string } = {};
    if (req.ip) client.ip = req.ip;
    const userAgent = req.headers['user-agent'];
    if (userAgent) client.userAgent = userAgent;
    const reason = this.pp.checkAccess(client);
    if (reason) return this.json(403, { error: 'ACCESS_FORBIDDEN', message: reason });
    if (this.ipLimiter && req.ip) {
      const wait = this.ipLimiter.hit(req.ip);
      if (wait > 0) return this.limited(wait);
    }
    if (this.sessionLimiter && method === 'POST' && SESSION_LIMITED.has(req.path)) {
      const sessionId = (body as { sessionId?: unknown } | undefined)?.sessionId;
      if (typeof sessionId === 'string') {
        const wait = this.sessionLimiter.hit(sessionId);
        if (wait > 0) return this.limited(wait);
      }
    }
    return undefined;
  }

  private limited(seconds: number): ProtocolHttpResponse {
    return this.json(
      429,
      { error: 'RATE_LIMITED', message: `too many requests; try again in ${seconds} s` },
      { 'retry-after': String(seconds) },
    );
  }

  private preflight(req: ProtocolHttpRequest): ProtocolHttpResponse {
    const origin = req.headers.origin;
    const headers: Record<string, string> = { vary: 'Origin', 'content-length': '0' };
    if (origin && this.originAllowed(origin)) {
      Object.assign(headers, {
        'access-control-allow-origin': origin,
        'access-control-allow-credentials': 'true',
        'access-control-allow-methods': ALLOW_METHODS,
        'access-control-allow-headers': ALLOW_HEADERS,
        // Large on purpose: polling would otherwise preflight every 2 seconds.
        'access-control-max-age': '86400',
      });
    }
    return { kind: 'empty', status: 204, headers };
  }

  private withCors(req: Pick<ProtocolHttpRequest, 'headers'>, res: ProtocolHttpResponse): ProtocolHttpResponse {
    const origin = req.headers.origin;
    // No Origin (same-origin calls, beacons, servers): no CORS headers to add. Every answer but
    // SSE already has headers of its own; SSE shares a constant object, which is never handed out.
    if (!origin && res.kind !== 'sse') return res;
    const cors = this.corsHeaders(origin);
    return { ...res, headers: { ...res.headers, ...cors } } as ProtocolHttpResponse;
  }

  private json(status: number, body: unknown, headers: Record<string, string> = {}): ProtocolHttpResponse {
    return { kind: 'json', status, headers, body };
  }

  /** Maps any error to its JSON answer (the same for every adapter). */
  error(err: unknown): ProtocolHttpResponse {
    const { status, body } = toHttpError(err);
    if (status >= 500 && status !== 501 && status !== 503)
      this.pp.logger.error({ err }, 'unexpected error in a PocketPing route');
    return this.json(status, body);
  }

  private context(req: ProtocolHttpRequest): RequestContext {
    const ctx: RequestContext = { baseUrl: this.pp.settings.publicUrl ?? req.baseUrl };
    if (req.ip) ctx.ip = req.ip;
    if (req.headers['user-agent']) ctx.userAgent = req.headers['user-agent'];
    if (req.headers['x-pocketping-version']) ctx.widgetVersion = req.headers['x-pocketping-version'];
    return ctx;
  }

  private widgetHandler(route: WidgetRoute): Handler {
    const isConnect = route.path === '/connect';
    return async (req, params, body) => {
      let extra: Record<string, string> = {};
      if (route.versionChecked) {
        // Unsupported widgets are refused with 426; warnings go on /connect only, so the console
        // is not flooded on every keystroke and poll (PROTOCOL.md §1.5).
        const result = this.pp.checkWidgetVersion(req.headers['x-pocketping-version']);
        if (result.status === 'unsupported') {
          return this.json(
            426,
            { error: 'WIDGET_VERSION_UNSUPPORTED', message: result.message, minVersion: result.minVersion },
            versionHeaders(result),
          );
        }
        if (isConnect && result.status !== 'ok') extra = versionHeaders(result);
      }
      const out = await route.handle(this.pp, { params, query: req.query, body, ctx: this.context(req) });
      return this.json(200, out, extra);
    };
  }

  private adminHandler(route: AdminRoute): Handler {
    return async (req, params, body) => {
      const apiKey = this.options.apiKey;
      if (!apiKey) {
        throw new PocketPingError(
          'AUTH_INVALID',
          'the admin API is disabled: set apiKey (server.apiKey or POCKETPING_API_KEY)',
        );
      }
      const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
      if (!match) throw new PocketPingError('AUTH_REQUIRED', 'send Authorization: Bearer <apiKey>');
      if (!apiKeyMatches(match[1]!.trim(), apiKey))
        throw new PocketPingError('AUTH_INVALID', 'the API key is not valid');
      const out = await route.handle(this.pp, { params, query: req.query, body });
      if (out && typeof out === 'object' && (out as { __sse?: boolean }).__sse) {
        return { kind: 'sse', status: 200, headers: SSE_HEADERS, adminEvents: true };
      }
      return this.json(route.status ?? 200, out);
    };
  }

  private async stream(req: ProtocolHttpRequest): Promise<ProtocolHttpResponse> {
    const sessionId = req.query.sessionId;
    if (!sessionId || !(await this.pp.sessionExists(sessionId))) {
      return this.json(404, {
        error: 'SESSION_NOT_FOUND',
        message: sessionId ? 'unknown sessionId; call POST /connect first' : 'sessionId query parameter is required',
      });
    }
    let after: Date | undefined;
    if (req.query.after) {
      const t = Date.parse(req.query.after);
      if (Number.isNaN(t)) throw new ValidationError('after must be an ISO-8601 timestamp');
      after = new Date(t);
    }
    let afterSeq: number | undefined;
    if (req.query.afterSeq !== undefined) {
      afterSeq = Number(req.query.afterSeq);
      if (!/^\d{1,15}$/.test(req.query.afterSeq))
        throw new ValidationError('afterSeq must be a non-negative integer (the seq of the last event received)');
    }
    return {
      kind: 'sse',
      status: 200,
      headers: SSE_HEADERS,
      sessionId,
      ...(after ? { after } : {}),
      ...(afterSeq !== undefined ? { afterSeq } : {}),
    };
  }

  private async upload(req: ProtocolHttpRequest, attachmentId: string): Promise<ProtocolHttpResponse> {
    const body = req.body;
    if (!body || body.byteLength === 0) throw new ValidationError('the upload body is empty: PUT the file bytes');
    return this.json(200, await this.pp.handleUploadData(attachmentId, body));
  }

  private async file(attachmentId: string): Promise<ProtocolHttpResponse> {
    const file = await this.pp.readAttachment(attachmentId);
    if (!file) throw new PocketPingError('ATTACHMENT_NOT_FOUND', 'no such file');
    const { attachment } = file;
    const inline = inlineSafe(attachment.mimeType);
    return {
      kind: 'bytes',
      status: 200,
      headers: {
        'content-type': inline ? attachment.mimeType : 'application/octet-stream',
        'content-length': String(file.size),
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'; sandbox",
        'cache-control': 'private, max-age=86400',
        'content-disposition': `${inline ? 'inline' : 'attachment'}; filename*=UTF-8''${encodeURIComponent(attachment.filename)}`,
      },
      data: file.data,
    };
  }

  private async webhook(req: ProtocolHttpRequest, path: string): Promise<ProtocolHttpResponse> {
    const bridge = this.pp.bridges.find((b) => b.webhook?.path === path);
    if (!bridge?.webhook) throw new PocketPingError('NOT_FOUND', `no bridge receives webhooks at ${path.slice(0, 80)}`);
    const raw = req.body ? new TextDecoder().decode(req.body) : '';
    const type = req.headers['content-type'] ?? '';
    let parsed: unknown;
    try {
      if (type.includes('application/x-www-form-urlencoded')) parsed = Object.fromEntries(new URLSearchParams(raw));
      else if (raw.trim() !== '') parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    const result = await bridge.webhook.handle({
      method: req.method,
      headers: req.headers,
      rawBody: raw,
      body: parsed,
      query: req.query,
    });
    return this.json(result.status, result.body ?? { ok: result.status < 300 }, result.headers ?? {});
  }
}
