import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFetchHandler, MemoryAttachmentStore, PocketPing, silentLogger } from '@pocketping/core';
import { CONTRACT_API_KEY, protocolContract } from './protocol-contract.js';

/** Serves a Web fetch handler from a Node HTTP server, streaming the response body as it comes. */
function serveFetch(handler: (request: Request) => Promise<Response>) {
  return createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const controller = new AbortController();
    req.on('close', () => controller.abort());
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD' && chunks.length > 0;
    const response = await handler(
      new Request(`http://${req.headers.host}${req.url}`, {
        method: req.method,
        headers,
        signal: controller.signal,
        ...(hasBody ? { body: Buffer.concat(chunks) } : {}),
      }),
    );
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (!response.body) return res.end();
    try {
      for await (const chunk of response.body) res.write(chunk);
    } catch {
      // The client went away.
    }
    res.end();
  });
}

protocolContract('Web fetch handler', async () => {
  const pp = new PocketPing({ logger: silentLogger, attachmentStore: new MemoryAttachmentStore() });
  await pp.init();
  const server = serveFetch(createFetchHandler(pp, { prefix: '/pocketping', apiKey: CONTRACT_API_KEY }));
  // WebSocket upgrades go to the fetch handler as plain requests, as on serverless hosts.
  server.on('upgrade', async (req, socket) => {
    const res = await createFetchHandler(pp, { prefix: '/pocketping' })(
      new Request(`http://${req.headers.host}${req.url}`, { headers: { upgrade: 'websocket' } }),
    );
    socket.end(
      `HTTP/1.1 ${res.status} Upgrade Required\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n${await res.text()}`,
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    pp,
    base: `http://127.0.0.1:${port}/pocketping`,
    websocket: false,
    async close() {
      pp.closeStreams();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await pp.close();
    },
  };
});
