import type { PocketPing } from '../pocketping.js';
import { webhookPayload } from '../outgoing-webhooks.js';
import type { OutgoingFrame } from '../realtime-hub.js';

/** Options of `openSseStream`. */
export interface SseStreamOptions {
  /** The session whose widget events are streamed. */
  sessionId?: string;
  /** Stream every PocketPing event instead (the admin event stream, for remote mode and dashboards). */
  adminEvents?: boolean;
  /** Replay messages created or changed after this instant (the widget's `after`). */
  after?: Date;
  /** Replay messages created or changed after this sequence number (wins over `after`). */
  afterSeq?: number;
  /** Interval of `: ping` comment lines. @default 20000 */
  keepAliveMs?: number;
  /** Writes text to the response; return false when the client is gone. */
  write(chunk: string): boolean | void;
  /** Ends the response. */
  end(): void;
}

/**
 * Runs one Server-Sent Events stream for a widget: every event as the whole `{type, data}`
 * envelope on a `data:` line of the default event, a replay of what the widget missed, and
 * keep-alive comments so the stream never goes silent (any end or error sends the widget to
 * polling for good). Returns the function that stops it; call it when the client disconnects.
 */
export async function openSseStream(pp: PocketPing, options: SseStreamOptions): Promise<() => void> {
  let ended = false;
  const send = (frame: OutgoingFrame) => {
    if (!ended) options.write(`data: ${frame.json}\n\n`);
  };
  // A first comment flushes the headers through proxies right away.
  options.write(': connected\n\n');
  // Subscribe before the replay: a duplicate is harmless (the widget merges by id), a gap is not.
  const unsubscribe = options.adminEvents
    ? pp.on('*', (event) => {
        if (!ended) options.write(`data: ${JSON.stringify(webhookPayload(event))}\n\n`);
      })
    : pp.subscribe(options.sessionId ?? '', send);
  const keepAlive = setInterval(() => {
    if (!ended) options.write(': ping\n\n');
  }, options.keepAliveMs ?? 20_000);
  (keepAlive as { unref?: () => void }).unref?.();
  const stop = () => {
    if (ended) return;
    ended = true;
    clearInterval(keepAlive);
    unsubscribe();
    pp.releaseStream(stop);
    try {
      options.end();
    } catch {
      // The client may already be gone.
    }
  };
  pp.trackStream(stop);
  if (options.adminEvents || !options.sessionId) return stop;
  try {
    const cursor = {
      ...(options.after ? { after: options.after } : {}),
      ...(options.afterSeq !== undefined ? { afterSeq: options.afterSeq } : {}),
    };
    for (const frame of await pp.streamReplay(options.sessionId, cursor)) send(frame);
  } catch (err) {
    pp.logger.warn({ err }, 'SSE replay failed');
  }
  return stop;
}
