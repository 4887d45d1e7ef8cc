import type { PocketPing } from '../pocketping.js';
import { type HttpOptions, ProtocolHttpHandler, type ProtocolHttpResponse } from './pipeline.js';
import { openSseStream } from './sse.js';

/** Options of `createFetchHandler`. */
export interface FetchHandlerOptions extends HttpOptions {
  /** Path prefix the handler is mounted at, e.g. `/api/pocketping`. @default '/pocketping' */
  prefix?: string;
  /** SSE keep-alive interval in milliseconds. @default 20000 */
  sseKeepAliveMs?: number;
  /** Client IP of a request (the platform's own API, or a trusted proxy header). */
  getClientIp?: (request: Request) => string | undefined;
}

const encoder = new TextEncoder();

function toWebResponse(pp: PocketPing, res: ProtocolHttpResponse, keepAliveMs: number, signal?: AbortSignal): Response {
  if (res.kind === 'json') {
    return new Response(JSON.stringify(res.body), {
      status: res.status,
      headers: { ...res.headers, 'content-type': 'application/json; charset=utf-8' },
    });
  }
  if (res.kind === 'empty') return new Response(null, { status: res.status, headers: res.headers });
  if (res.kind === 'bytes') {
    const data = res.data;
    const body =
      data instanceof Uint8Array
        ? data
        : new ReadableStream<Uint8Array>({
            async start(controller) {
              for await (const chunk of data) controller.enqueue(chunk);
              controller.close();
            },
          });
    return new Response(body, { status: res.status, headers: res.headers });
  }
  let stop: (() => void) | undefined;
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      let open = true;
      stop = await openSseStream(pp, {
        ...(res.sessionId ? { sessionId: res.sessionId } : {}),
        ...(res.adminEvents ? { adminEvents: true } : {}),
        ...(res.after ? { after: res.after } : {}),
        ...(res.afterSeq !== undefined ? { afterSeq: res.afterSeq } : {}),
        keepAliveMs,
        write(chunk) {
          if (!open) return false;
          controller.enqueue(encoder.encode(chunk));
          return true;
        },
        end() {
          if (!open) return;
          open = false;
          controller.close();
        },
      });
      signal?.addEventListener('abort', () => stop?.());
    },
    cancel() {
      stop?.();
    },
  });
  return new Response(stream, { status: 200, headers: res.headers });
}

/**
 * The widget protocol as a Web-standard handler: `(request: Request) => Promise<Response>`, for
 * Next.js route handlers, Hono, Bun, Deno and Workers-style runtimes. Realtime works through SSE
 * and polling there; WebSocket upgrades are refused at once so the widget moves on to SSE within
 * its 2-second window.
 *
 * @example
 * ```ts
 * // app/api/pocketping/[...path]/route.ts (Next.js)
 * const handler = createFetchHandler(pp, { prefix: '/api/pocketping' });
 * export { handler as GET, handler as POST, handler as PATCH, handler as DELETE, handler as PUT, handler as OPTIONS };
 * ```
 */
export function createFetchHandler(
  pp: PocketPing,
  options: FetchHandlerOptions = {},
): (request: Request) => Promise<Response> {
  const { prefix: rawPrefix, sseKeepAliveMs, getClientIp, ...httpOptions } = options;
  const prefix = (rawPrefix ?? '/pocketping').replace(/\/+$/, '');
  const http = new ProtocolHttpHandler(pp, httpOptions);
  const keepAliveMs = sseKeepAliveMs ?? 20_000;
  return async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const headers: Record<string, string> = {};
    request.headers.forEach((value, key) => {
      headers[key.toLowerCase()] = value;
    });
    if (!url.pathname.startsWith(prefix)) {
      return Response.json({ error: 'NOT_FOUND', message: `PocketPing is mounted at ${prefix}` }, { status: 404 });
    }
    const path = url.pathname.slice(prefix.length) || '/';
    if ((headers.upgrade ?? '').toLowerCase() === 'websocket') {
      // No WebSocket here: refuse fast so the widget switches to SSE instead of waiting 5 s.
      return Response.json(
        { error: 'WEBSOCKET_UNAVAILABLE', message: 'WebSockets are not served by this runtime; use SSE or polling' },
        { status: 426, headers: http.corsHeaders(headers.origin) },
      );
    }
    const limit = http.bodyLimitFor(request.method.toUpperCase(), path);
    const declared = Number(headers['content-length'] ?? '0');
    if (declared > limit) return toWebResponse(pp, http.tooLarge({ headers }), keepAliveMs);
    let body: Uint8Array | undefined;
    if (request.body && request.method !== 'GET' && request.method !== 'HEAD') {
      body = new Uint8Array(await request.arrayBuffer());
      if (body.byteLength > limit) return toWebResponse(pp, http.tooLarge({ headers }), keepAliveMs);
    }
    const query: Record<string, string> = {};
    url.searchParams.forEach((value, key) => {
      query[key] = value;
    });
    const ip = getClientIp?.(request) ?? headers['x-forwarded-for']?.split(',')[0]?.trim();
    const res = await http.handle({
      method: request.method,
      path,
      query,
      headers,
      ...(body ? { body } : {}),
      ...(ip ? { ip } : {}),
      baseUrl: `${url.origin}${prefix}`,
    });
    return toWebResponse(pp, res, keepAliveMs, request.signal);
  };
}
