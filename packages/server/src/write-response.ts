import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { openSseStream, type PocketPing, type ProtocolHttpResponse } from '@pocketping/core';

/**
 * Writes a pipeline answer to a Node response (Express, and Fastify after `reply.hijack()`).
 * SSE answers keep the response open and stream events until the client goes away.
 */
export async function writeNodeResponse(
  pp: PocketPing,
  req: IncomingMessage,
  res: ServerResponse,
  answer: ProtocolHttpResponse,
  sseKeepAliveMs: number,
): Promise<void> {
  if (answer.kind === 'json') {
    const text = JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      ...answer.headers,
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(text)),
    });
    res.end(text);
    return;
  }
  if (answer.kind === 'empty') {
    res.writeHead(answer.status, answer.headers);
    res.end();
    return;
  }
  if (answer.kind === 'bytes') {
    res.writeHead(answer.status, answer.headers);
    const data = answer.data;
    if (data instanceof Uint8Array) {
      res.end(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      return;
    }
    Readable.from(data).pipe(res);
    return;
  }
  res.writeHead(200, { ...answer.headers, connection: 'keep-alive' });
  res.flushHeaders();
  const stop = await openSseStream(pp, {
    ...(answer.sessionId ? { sessionId: answer.sessionId } : {}),
    ...(answer.adminEvents ? { adminEvents: true } : {}),
    ...(answer.after ? { after: answer.after } : {}),
    ...(answer.afterSeq !== undefined ? { afterSeq: answer.afterSeq } : {}),
    keepAliveMs: sseKeepAliveMs,
    write: (chunk) => res.write(chunk),
    end: () => {
      if (!res.writableEnded) res.end();
    },
  });
  req.on('close', stop);
  res.on('error', stop);
  if (res.destroyed) stop();
}
