// The PocketPing server as `pocketping-server` builds it (buildServer + parseConfig from the built
// packages/server/dist, with core and the storages from their dist), plus a few /__bench routes
// that exist only in this wrapper: seeding sessions in process, GC + memory/connection counts. Prints `READY <port>` when listening on 127.0.0.1.
//
// Env: BENCH_STORAGE=memory|postgres|redis, DATABASE_URL, REDIS_URL, BENCH_PG_SCHEMA,
// BENCH_REDIS_PREFIX, BENCH_API_KEY, BENCH_PORT (default 0), BENCH_LOG_LEVEL (default warn).
import { importServer, importServerSource } from '../lib/deps.mjs';

let { buildServer, parseConfig } = await importServer();
if (typeof buildServer !== 'function' || typeof parseConfig !== 'function') {
  // Older builds did not export them from the package index: load them from the sources.
  ({ buildServer } = await importServerSource('build-server.ts'));
  ({ parseConfig } = await importServerSource('config.ts'));
}

const storageType = process.env.BENCH_STORAGE ?? 'memory';
const storage =
  storageType === 'postgres'
    ? { type: 'postgres', url: process.env.DATABASE_URL, schema: process.env.BENCH_PG_SCHEMA ?? 'bench' }
    : storageType === 'redis'
      ? { type: 'redis', url: process.env.REDIS_URL, keyPrefix: process.env.BENCH_REDIS_PREFIX ?? 'bench:' }
      : { type: 'memory' };

const input = {
  server: {
    host: '127.0.0.1',
    port: Number(process.env.BENCH_PORT ?? 0),
    logLevel: process.env.BENCH_LOG_LEVEL ?? 'warn',
    demo: false,
    apiKey: process.env.BENCH_API_KEY ?? 'bench-admin-key-0123456789',
  },
  storage,
  uploads: { dir: process.env.BENCH_UPLOAD_DIR ?? '/tmp/pocketping-bench-uploads' },
};
// All load comes from 127.0.0.1, so the per-IP and per-session rate limits (when this build has
// them) are switched off: the bench measures the request path, not the limiter's 429s.
let config;
try {
  config = parseConfig({ ...input, security: { rateLimit: { enabled: false } } }, {});
} catch {
  config = parseConfig(input, {});
}

const { app, pocketping } = await buildServer(config);

let seeded = 0;
// Creates sessions through the same code path as POST /connect, `concurrency` at a time.
app.post('/__bench/seed', async (request) => {
  const { count, concurrency = 64, tag = 'seed' } = request.body;
  const pairs = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const visitorId = `v-${tag}-${seeded + i}`;
      const res = await pocketping.handleConnect(
        { visitorId, sessionId: null, metadata: { url: 'http://127.0.0.1/bench', userAgent: 'bench' } },
        { baseUrl: 'http://127.0.0.1/pocketping', ip: '127.0.0.1' },
      );
      pairs[i] = [res.sessionId, visitorId];
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  seeded += count;
  return { pairs };
});

app.get('/__bench/stats', async (request) => {
  if (request.query.gc !== undefined && global.gc) {
    global.gc();
    global.gc();
  }
  const mem = process.memoryUsage();
  return {
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    external: mem.external,
    arrayBuffers: mem.arrayBuffers,
    hubConnections: pocketping.hub.connectionCount,
    hubSessions: pocketping.hub.sessionCount,
    wsClients: app.websocketServer?.clients.size ?? 0,
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

await app.listen({ host: '127.0.0.1', port: config.server.port });
console.log(`READY ${app.server.address().port}`);
