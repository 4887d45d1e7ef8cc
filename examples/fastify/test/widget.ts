import WebSocket from 'ws';

/** The page the widget runs on in these tests (the widget is almost always cross-origin). */
export const PAGE_ORIGIN = 'https://shop.example.com';

/** What the widget's JSON helper sends on every call. */
export const WIDGET_HEADERS = {
  'content-type': 'application/json',
  'x-pocketping-version': '2.6.0',
  origin: PAGE_ORIGIN,
};

/** A realtime envelope as the widget receives it. */
export interface Envelope {
  type: string;
  data: Record<string, unknown>;
}

/** POST {base}/connect as a first visit (or a return with `sessionId`); returns the JSON answer. */
export async function connect(
  base: string,
  returning?: { visitorId: string; sessionId: string },
): Promise<{ sessionId: string; visitorId: string; welcomeMessage?: string; messages: Envelope['data'][] }> {
  const res = await fetch(`${base}/connect`, {
    method: 'POST',
    headers: WIDGET_HEADERS,
    body: JSON.stringify({
      visitorId: returning?.visitorId ?? `v-${Math.random().toString(36).slice(2)}`,
      sessionId: returning?.sessionId ?? null,
      metadata: { url: `${PAGE_ORIGIN}/cart`, language: 'en' },
    }),
  });
  if (res.status !== 200) throw new Error(`connect answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as {
    sessionId: string;
    visitorId: string;
    welcomeMessage?: string;
    messages: Envelope['data'][];
  };
}

/** POST {base}/message as the visitor; returns the JSON answer. */
export async function sendMessage(
  base: string,
  sessionId: string,
  content: string,
): Promise<{ messageId: string; timestamp: string }> {
  const res = await fetch(`${base}/message`, {
    method: 'POST',
    headers: WIDGET_HEADERS,
    body: JSON.stringify({ sessionId, content, sender: 'visitor', attachmentIds: [] }),
  });
  if (res.status !== 200) throw new Error(`message answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { messageId: string; timestamp: string };
}

/** The widget's WebSocket: every envelope received, and a way to wait for one. */
export interface WidgetSocket {
  received: Envelope[];
  /** Settles with the close code when the server (or `close()`) ends the socket. */
  closed: Promise<{ code: number }>;
  next(match: (e: Envelope) => boolean, timeoutMs?: number): Promise<Envelope>;
  close(): Promise<void>;
}

/** Opens `{base}/stream?sessionId=...` the way the widget does (ws:// from http://). */
export async function openSocket(base: string, sessionId: string): Promise<WidgetSocket> {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/stream?sessionId=${sessionId}`);
  const received: Envelope[] = [];
  const waiting = new Set<() => void>();
  const closed = new Promise<{ code: number }>((resolve) => ws.on('close', (code) => resolve({ code })));
  ws.on('message', (data) => {
    received.push(JSON.parse(data.toString()) as Envelope);
    for (const check of [...waiting]) check();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    received,
    closed,
    next(match, timeoutMs = 3000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = received.find(match);
          if (!found) return;
          waiting.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiting.delete(check);
          reject(new Error(`no matching envelope in ${timeoutMs} ms; got ${JSON.stringify(received)}`));
        }, timeoutMs);
        waiting.add(check);
        check();
      });
    },
    close() {
      if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
      return new Promise((resolve) => {
        ws.once('close', () => resolve());
        ws.close();
      });
    },
  };
}

/** Sends the CORS preflight a browser sends before the widget's POST /connect. */
export function preflight(base: string, path = '/connect'): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'OPTIONS',
    headers: {
      origin: PAGE_ORIGIN,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type,x-pocketping-version',
    },
  });
}
