// The bare Fastify baseline: the same paths as PocketPing, each doing only a JSON parse, a Map
// insert and a JSON reply; a WebSocket echo on /stream, an operator-reply route that sends one
// frame to the session's sockets, and a broadcast route with the plain send loop. SSE on /stream
// writes the same headers and first comment as ours. Prints `READY <port>`.
import { randomBytes } from 'node:crypto';
import { importFromServer } from '../lib/deps.mjs';

const Fastify = await importFromServer('fastify');
const websocket = await importFromServer('@fastify/websocket');

const app = Fastify({ logger: { level: process.env.BENCH_LOG_LEVEL ?? 'warn' }, forceCloseConnections: true });
await app.register(websocket, { options: { maxPayload: 64 * 1024 } });

const records = new Map();
const sockets = new Map(); // sessionId -> Set<WebSocket>
const streams = new Set();
const newId = (p) => `${p}_${randomBytes(16).toString('base64url')}`;

await app.register(
  async (scope) => {
    scope.post('/connect', async (request) => {
      const body = request.body;
      const sessionId = body.sessionId ?? newId('ses');
      records.set(sessionId, { visitorId: body.visitorId, metadata: body.metadata, at: Date.now() });
      return { sessionId, visitorId: body.visitorId, operatorOnline: false, messages: [] };
    });
    scope.post('/message', async (request) => {
      const messageId = newId('msg');
      records.set(messageId, request.body);
      return { messageId, timestamp: new Date().toISOString() };
    });
    scope.route({
      method: 'GET',
      url: '/stream',
      handler: (request, reply) => {
        reply.hijack();
        const raw = reply.raw;
        raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
        raw.write(': connected\n\n');
        const end = () => streams.delete(raw);
        streams.add(raw);
        request.raw.on('close', end);
      },
      wsHandler: (socket, request) => {
        const sessionId = request.query.sessionId;
        let set = sockets.get(sessionId);
        if (!set) sockets.set(sessionId, (set = new Set()));
        set.add(socket);
        socket.on('message', (data) => socket.send(data.toString()));
        socket.on('close', () => {
          set.delete(socket);
          if (set.size === 0) sockets.delete(sessionId);
        });
      },
    });
    scope.post('/admin/sessions/:id/messages', async (request, reply) => {
      const message = {
        id: newId('msg'),
        sessionId: request.params.id,
        content: request.body.content,
        sender: 'operator',
        timestamp: new Date().toISOString(),
      };
      records.set(message.id, message);
      const json = JSON.stringify({ type: 'message', data: message });
      for (const socket of sockets.get(request.params.id) ?? []) socket.send(json);
      return reply.code(201).send({ message });
    });
    scope.post('/admin/events', async (request) => {
      const json = JSON.stringify({ type: 'event', data: { ...request.body, timestamp: new Date().toISOString() } });
      for (const set of sockets.values()) for (const socket of set) socket.send(json);
      return { ok: true };
    });
  },
  { prefix: '/pocketping' },
);

app.post('/__bench/seed', async (request) => {
  const { count, tag = 'seed' } = request.body;
  const pairs = [];
  for (let i = 0; i < count; i++) {
    const sessionId = newId('ses');
    const visitorId = `v-${tag}-${records.size}`;
    records.set(sessionId, { visitorId, at: Date.now() });
    pairs.push([sessionId, visitorId]);
  }
  return { pairs };
});

app.get('/__bench/stats', async (request) => {
  if (request.query.gc !== undefined && global.gc) {
    global.gc();
    global.gc();
  }
  const mem = process.memoryUsage();
  let wsCount = 0;
  for (const set of sockets.values()) wsCount += set.size;
  return {
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    external: mem.external,
    arrayBuffers: mem.arrayBuffers,
    hubConnections: wsCount + streams.size,
    hubSessions: sockets.size,
    wsClients: app.websocketServer.clients.size,
  };
});

const stop = async () => {
  try {
    await app.close();
  } finally {
    process.exit(0);
  }
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

await app.listen({ host: '127.0.0.1', port: Number(process.env.BENCH_PORT ?? 0) });
console.log(`READY ${app.server.address().port}`);
