import { isPocketPingError, type PocketPingErrorCode } from './errors.js';
import type { PocketPing, RequestContext } from './pocketping.js';

/**
 * HTTP status of every error code. The one place where codes become statuses; every HTTP
 * adapter (Fastify, Express, fetch) uses it.
 */
export const ERROR_STATUS: Record<PocketPingErrorCode, number> = {
  CONFIG_INVALID: 500,
  SETUP_INVALID: 500,
  VALIDATION_FAILED: 400,
  REQUEST_INVALID_JSON: 400,
  REQUEST_TOO_LARGE: 413,
  SESSION_NOT_FOUND: 404,
  SESSION_CLOSED: 409,
  MESSAGE_NOT_FOUND: 404,
  MESSAGE_FORBIDDEN: 403,
  MESSAGE_DELETED: 409,
  MESSAGE_TOO_LONG: 400,
  MESSAGE_EMPTY: 400,
  ATTACHMENT_NOT_FOUND: 404,
  ATTACHMENT_NOT_READY: 409,
  ATTACHMENT_TOO_LARGE: 413,
  ATTACHMENT_TYPE_NOT_ALLOWED: 415,
  ATTACHMENT_UPLOAD_EXPIRED: 410,
  ATTACHMENTS_UNAVAILABLE: 501,
  SCREENSHOT_REQUEST_NOT_FOUND: 404,
  CSAT_INVALID: 400,
  WIDGET_VERSION_UNSUPPORTED: 426,
  AUTH_REQUIRED: 401,
  AUTH_INVALID: 401,
  ACCESS_FORBIDDEN: 403,
  NOT_FOUND: 404,
  RATE_LIMITED: 429,
  STORAGE_NOT_SUPPORTED: 501,
  STORAGE_UNAVAILABLE: 503,
  STORAGE_CONFLICT: 409,
  BRIDGE_UNAVAILABLE: 502,
  BRIDGE_RATE_LIMITED: 503,
  BRIDGE_REJECTED: 502,
  BRIDGE_NOT_SUPPORTED: 501,
  WEBHOOK_UNAUTHORIZED: 401,
  WEBSOCKET_UNAVAILABLE: 426,
  INTERNAL: 500,
};

/** 5xx codes whose message helps the integrator and leaks nothing about the infrastructure. */
const DEVELOPER_FACING_5XX = new Set<PocketPingErrorCode>([
  'STORAGE_NOT_SUPPORTED',
  'ATTACHMENTS_UNAVAILABLE',
  'BRIDGE_NOT_SUPPORTED',
]);

const GENERIC_5XX: Partial<Record<PocketPingErrorCode, string>> = {
  STORAGE_UNAVAILABLE: 'The storage is unavailable right now; try again shortly',
  BRIDGE_UNAVAILABLE: 'A messaging bridge is unavailable right now',
  BRIDGE_RATE_LIMITED: 'A messaging bridge is rate limited; try again shortly',
  BRIDGE_REJECTED: 'A messaging bridge refused the request',
};

/** The JSON error body every endpoint answers with. */
export interface ErrorBody {
  /** Machine-readable code (see docs/errors.md). */
  error: string;
  /** What is wrong, for humans. */
  message: string;
  details?: Record<string, unknown>;
}

/** Turns any thrown value into a status and JSON body; unknown errors become a bland 500. */
export function toHttpError(err: unknown): { status: number; body: ErrorBody } {
  if (isPocketPingError(err)) {
    const status = ERROR_STATUS[err.code] ?? 500;
    // Storage and bridge failures carry driver text (hosts, ports); clients get a plain sentence.
    if (status >= 500 && !DEVELOPER_FACING_5XX.has(err.code)) {
      return {
        status,
        body: { error: err.code, message: GENERIC_5XX[err.code] ?? 'Something went wrong on the server' },
      };
    }
    const body: ErrorBody = { error: err.code, message: err.message };
    if (err.details) body.details = err.details;
    return { status, body };
  }
  return { status: 500, body: { error: 'INTERNAL', message: 'Something went wrong on the server' } };
}

/** A widget request, framework-free. */
export interface ProtocolRequest {
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  ctx: RequestContext;
}

/** One widget endpoint of PROTOCOL.md. */
export interface WidgetRoute {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Path below the endpoint base, with `:param` segments. */
  path: string;
  /** False for beacons, which carry no version header and whose answer is ignored. */
  versionChecked: boolean;
  handle(pp: PocketPing, req: ProtocolRequest): Promise<unknown>;
}

/**
 * Every JSON endpoint the widget calls (PROTOCOL.md §0), framework-free. Realtime (`/stream`),
 * raw uploads (`PUT /upload/:id`) and file downloads are transport-specific and live in the
 * adapters.
 */
export const WIDGET_ROUTES: readonly WidgetRoute[] = [
  { method: 'POST', path: '/connect', versionChecked: true, handle: (pp, r) => pp.handleConnect(r.body, r.ctx) },
  { method: 'POST', path: '/message', versionChecked: true, handle: (pp, r) => pp.handleMessage(r.body, r.ctx) },
  { method: 'GET', path: '/messages', versionChecked: true, handle: (pp, r) => pp.handleGetMessages(r.query) },
  { method: 'POST', path: '/typing', versionChecked: true, handle: (pp, r) => pp.handleTyping(r.body) },
  { method: 'POST', path: '/read', versionChecked: true, handle: (pp, r) => pp.handleRead(r.body) },
  {
    method: 'PATCH',
    path: '/message/:messageId',
    versionChecked: true,
    handle: (pp, r) => pp.handleEditMessage(r.params.messageId ?? '', r.body),
  },
  {
    method: 'DELETE',
    path: '/message/:messageId',
    versionChecked: true,
    handle: (pp, r) => pp.handleDeleteMessage(r.params.messageId ?? '', r.query),
  },
  { method: 'GET', path: '/presence', versionChecked: true, handle: (pp) => pp.handlePresence() },
  { method: 'POST', path: '/identify', versionChecked: true, handle: (pp, r) => pp.handleIdentify(r.body) },
  { method: 'POST', path: '/prechat', versionChecked: true, handle: (pp, r) => pp.handlePreChat(r.body) },
  { method: 'POST', path: '/csat', versionChecked: true, handle: (pp, r) => pp.handleCsat(r.body) },
  { method: 'POST', path: '/upload', versionChecked: true, handle: (pp, r) => pp.handleUploadRequest(r.body, r.ctx) },
  {
    method: 'POST',
    path: '/upload/complete',
    versionChecked: true,
    handle: (pp, r) => pp.handleUploadComplete(r.body, r.ctx),
  },
  {
    method: 'GET',
    path: '/screenshot/requests',
    versionChecked: true,
    handle: (pp, r) => pp.handleScreenshotRequests(r.query),
  },
  {
    method: 'POST',
    path: '/screenshot/upload',
    versionChecked: true,
    handle: (pp, r) => pp.handleScreenshotUpload(r.body, r.ctx),
  },
  {
    method: 'POST',
    path: '/screenshot/upload/complete',
    versionChecked: true,
    handle: (pp, r) => pp.handleScreenshotUploadComplete(r.body, r.ctx),
  },
  { method: 'POST', path: '/disconnect', versionChecked: false, handle: (pp, r) => pp.handleDisconnect(r.body) },
  { method: 'POST', path: '/visibility', versionChecked: false, handle: (pp, r) => pp.handleVisibility(r.body) },
];

/** Response headers the widget must be able to read cross-origin. */
export const EXPOSED_HEADERS = [
  'X-PocketPing-Version-Status',
  'X-PocketPing-Min-Version',
  'X-PocketPing-Latest-Version',
  'X-PocketPing-Version-Message',
] as const;
