// Memory and socket hygiene: resident memory per idle WebSocket and per idle SSE stream at N
// (ours and the bare baseline), what remains after every socket closes, the inbound frame
// limit, and (with --dead) that sockets which stop answering pings are dropped.
// Writes bench/results/memory.json.
//
// Usage: node bench/memory-bench.mjs [--size 10000] [--dead]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR } from './lib/deps.mjs';
import { call, rssOf, sleep, startPool, startServer } from './lib/proc.mjs';
import { round } from './lib/stats.mjs';

const { values: opts } = parseArgs({
  options: { size: { type: 'string', default: '10000' }, dead: { type: 'boolean', default: false } },
});
const N = Number(opts.size);
const RESULTS = join(BENCH_DIR, 'results');
mkdirSync(RESULTS, { recursive: true });
const log = (s) => process.stderr.write(`  [memory] ${s}\n`);
const kb = (bytes) => round(bytes / 1024, 2);

async function settled(server) {
  // GC twice, let the allocator return pages, then read RSS from /proc and the heap from the process.
  await call(server.url, '/__bench/stats?gc', { method: 'GET' });
  await sleep(500);
  const stats = await call(server.url, '/__bench/stats?gc', { method: 'GET' });
  return { ...stats, rss: rssOf(server.pid) };
}

async function waitUntil(server, pred, timeoutMs = 20_000) {
  const end = Date.now() + timeoutMs;
  let stats;
  while (Date.now() < end) {
    stats = await call(server.url, '/__bench/stats', { method: 'GET' });
    if (pred(stats)) return stats;
    await sleep(200);
  }
  return stats;
}

async function measure(who, transport) {
  const server = await startServer(who === 'ours' ? 'ours' : 'baseline', { BENCH_STORAGE: 'memory' });
  const pool = await startPool();
  try {
    const ids = [];
    while (ids.length < N) {
      const n = Math.min(5000, N - ids.length);
      ids.push(...(await call(server.url, '/__bench/seed', { body: { count: n, tag: 'mem' } })).pairs.map(([s]) => s));
    }
    // One warm cycle of 200 connections so lazily built code paths are not counted as per-socket cost.
    const warmOpen = transport === 'ws' ? 'open' : 'openSse';
    const warmClose = transport === 'ws' ? 'close' : 'closeSse';
    await pool.run(warmOpen, { url: server.url, sessionIds: ids.slice(0, 200) });
    await pool.run(warmClose);
    await waitUntil(server, (s) => s.hubConnections === 0 && s.wsClients === 0);

    const before = await settled(server);
    const opened = await pool.run(warmOpen, { url: server.url, sessionIds: ids });
    if (opened.failed > 0) throw new Error(`${who} ${transport}: ${opened.failed} of ${N} failed to open`);
    await waitUntil(server, (s) => s.hubConnections >= N);
    await sleep(1000);
    const open = await settled(server);
    await pool.run(warmClose);
    const after = await waitUntil(server, (s) => s.hubConnections === 0 && s.wsClients === 0 && s.hubSessions === 0);
    const closed = await settled(server);
    const out = {
      who,
      transport,
      connections: N,
      openMs: opened.ms,
      perConnectionKB: {
        rss: kb((open.rss - before.rss) / N),
        heap: kb((open.heapUsed - before.heapUsed) / N),
        external: kb((open.external - before.external) / N),
      },
      rssMB: {
        before: round(before.rss / 2 ** 20, 1),
        open: round(open.rss / 2 ** 20, 1),
        afterClose: round(closed.rss / 2 ** 20, 1),
      },
      heapMB: {
        before: round(before.heapUsed / 2 ** 20, 2),
        open: round(open.heapUsed / 2 ** 20, 2),
        afterClose: round(closed.heapUsed / 2 ** 20, 2),
      },
      afterClose: {
        hubConnections: after.hubConnections,
        hubSessions: after.hubSessions,
        wsClients: after.wsClients,
        heapRetainedKB: kb(closed.heapUsed - before.heapUsed),
      },
    };
    log(
      `${who} ${transport}: ${out.perConnectionKB.rss} KB RSS / ${out.perConnectionKB.heap} KB heap per connection; after close: ${JSON.stringify(out.afterClose)}`,
    );
    return out;
  } finally {
    await pool.stop();
    await server.stop();
  }
}

async function checks() {
  const server = await startServer('ours', { BENCH_STORAGE: 'memory' });
  const pool = await startPool();
  const out = {};
  try {
    const ids = (await call(server.url, '/__bench/seed', { body: { count: 100, tag: 'chk' } })).pairs.map(([s]) => s);
    await pool.run('open', { url: server.url, sessionIds: ids.slice(0, 1) });
    out.frameOverLimit = await pool.run('bigFrame', { bytes: 64 * 1024 + 1 });
    await pool.run('close');
    await pool.run('open', { url: server.url, sessionIds: ids.slice(0, 1) });
    out.frameAtLimit = await pool.run('bigFrame', { bytes: 64 * 1024 - 200 });
    await pool.run('close');
    log(
      `frame limit: 64 KiB + 1 -> ${JSON.stringify(out.frameOverLimit)}; just under -> ${JSON.stringify(out.frameAtLimit)}`,
    );
    if (opts.dead) {
      // Clients that never answer pings: the server must drop them (default ping interval 25 s).
      await pool.run('open', { url: server.url, sessionIds: ids, autoPong: false });
      const t0 = Date.now();
      const stats = await waitUntil(server, (s) => s.wsClients === 0 && s.hubConnections === 0, 80_000);
      out.deadPeers = {
        opened: ids.length,
        remainingOnServer: stats.wsClients,
        hubConnections: stats.hubConnections,
        droppedAfterMs: Date.now() - t0,
      };
      log(`dead peers: ${JSON.stringify(out.deadPeers)}`);
      await pool.run('close');
    }
  } finally {
    await pool.stop();
    await server.stop();
  }
  return out;
}

const result = { at: new Date().toISOString(), size: N, runs: [] };
for (const transport of ['ws', 'sse']) {
  for (const who of ['ours', 'base']) {
    try {
      result.runs.push(await measure(who, transport));
    } catch (err) {
      result.runs.push({ who, transport, error: String(err.message ?? err).slice(0, 500) });
      console.log(`memory ${who} ${transport} failed: ${err.message}`);
    }
  }
}
result.checks = await checks();
writeFileSync(join(RESULTS, 'memory.json'), `${JSON.stringify(result, null, 2)}\n`);
for (const r of result.runs) {
  if (r.error) continue;
  console.log(
    `memory ${r.who.padEnd(4)} ${r.transport.padEnd(3)} ${r.connections}: ${r.perConnectionKB.rss} KB RSS/conn (heap ${r.perConnectionKB.heap} KB); after close heap retained ${r.afterClose.heapRetainedKB} KB, hub ${r.afterClose.hubConnections}/${r.afterClose.hubSessions}, ws ${r.afterClose.wsClients}`,
  );
}
