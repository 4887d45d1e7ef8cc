// Realtime scenarios: operator reply → widget delivery latency (one session at a time) and one
// event to all sessions, with N open WebSockets on one instance, ours against the bare Fastify
// baseline (same HTTP route shape, plain send / send loop), alternating A/B; then across two
// instances sharing Redis or Postgres (socket on A, reply posted to B).
// Writes bench/results/realtime.json.
//
// Usage: node bench/realtime-bench.mjs [--sizes 1000,10000] [--pairs 5] [--samples 200]
//        [--rounds 3] [--cross redis,postgres] [--cross-size 1000]
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR } from './lib/deps.mjs';
import { call, startPool, startServer } from './lib/proc.mjs';
import { median, percentile, round } from './lib/stats.mjs';

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000' },
    pairs: { type: 'string', default: '5' },
    samples: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
    cross: { type: 'string', default: 'redis,postgres' },
    'cross-size': { type: 'string', default: '1000' },
    'cross-samples': { type: 'string', default: '500' },
  },
});
const PAIRS = Number(opts.pairs);
const SAMPLES = Number(opts.samples);
const ROUNDS = Number(opts.rounds);
const WARMUP_REPLIES = 500;
const API_KEY = 'bench-admin-key-0123456789';
const RESULTS = join(BENCH_DIR, 'results');
mkdirSync(RESULTS, { recursive: true });
const log = (s) => process.stderr.write(`  [realtime] ${s}\n`);
const ms = (x) => round(x, 2);

async function seed(server, count) {
  const pairs = [];
  while (pairs.length < count) {
    const n = Math.min(5000, count - pairs.length);
    pairs.push(...(await call(server.url, '/__bench/seed', { body: { count: n, tag: 'rt' } })).pairs);
  }
  return pairs.map(([sessionId]) => sessionId);
}

async function oneInstance(size) {
  const servers = { ours: await startServer('ours', { BENCH_STORAGE: 'memory' }), base: await startServer('baseline') };
  const pools = { ours: await startPool(), base: await startPool() };
  try {
    for (const who of ['ours', 'base']) {
      const ids = await seed(servers[who], size);
      const r = await pools[who].run('open', { url: servers[who].url, sessionIds: ids });
      log(`${who}: ${r.opened} sockets open in ${r.ms} ms (${r.failed} failed)`);
      if (r.failed > 0) throw new Error(`${who}: ${r.failed} of ${size} sockets failed to open`);
    }
    // Warm-up of both paths, not counted: 500 replies each, so that the optimizing compiler has
    // finished with the whole reply path (ours is far more code than the baseline's; with 50
    // warm-up replies its compile jobs still landed in the measured samples: profiled).
    for (const who of ['ours', 'base'])
      await pools[who].run('single', { url: servers[who].url, apiKey: API_KEY, samples: WARMUP_REPLIES });

    const single = { ours: [], base: [], pairs: [], timeouts: { ours: 0, base: 0 } };
    for (let i = 0; i < PAIRS; i++) {
      const order = i % 2 === 0 ? ['ours', 'base'] : ['base', 'ours'];
      const pair = {};
      for (const who of order) {
        const r = await pools[who].run('single', { url: servers[who].url, apiKey: API_KEY, samples: SAMPLES });
        single[who].push(...r.latencies);
        single.timeouts[who] += r.timeouts;
        pair[who] = { p50: percentile(r.latencies, 50), p99: percentile(r.latencies, 99) };
      }
      single.pairs.push({ p50Ratio: pair.ours.p50 / pair.base.p50, p99Ratio: pair.ours.p99 / pair.base.p99 });
      log(`${size} single pair ${i + 1}/${PAIRS}: p99 ours ${ms(pair.ours.p99)} ms, base ${ms(pair.base.p99)} ms`);
    }

    const bc = { ours: [], base: [], ratios: [] };
    for (const who of ['ours', 'base'])
      await pools[who].run('broadcast', { url: servers[who].url, apiKey: API_KEY, rounds: 1 });
    for (let i = 0; i < PAIRS; i++) {
      const order = i % 2 === 0 ? ['ours', 'base'] : ['base', 'ours'];
      const pair = {};
      for (const who of order) {
        const rounds = await pools[who].run('broadcast', { url: servers[who].url, apiKey: API_KEY, rounds: ROUNDS });
        for (const r of rounds)
          if (r.received !== r.expected) throw new Error(`${who}: broadcast reached ${r.received}/${r.expected}`);
        bc[who].push(...rounds);
        pair[who] = median(rounds.map((r) => r.allMs));
      }
      bc.ratios.push(pair.ours / pair.base);
      log(`${size} broadcast pair ${i + 1}/${PAIRS}: all delivered ours ${ms(pair.ours)} ms, base ${ms(pair.base)} ms`);
    }
    const s = (list) => ({ p50Ms: ms(percentile(list, 50)), p99Ms: ms(percentile(list, 99)), samples: list.length });
    const b = (list) => ({
      allMs: ms(median(list.map((r) => r.allMs))),
      p50Ms: ms(median(list.map((r) => r.p50Ms))),
      p99Ms: ms(median(list.map((r) => r.p99Ms))),
      rounds: list.length,
    });
    return {
      sockets: size,
      single: {
        ours: s(single.ours),
        base: s(single.base),
        p99Ratio: round(percentile(single.ours, 99) / percentile(single.base, 99), 3),
        p99RatioMedianOfPairs: round(median(single.pairs.map((p) => p.p99Ratio)), 3),
        p50Ratio: round(percentile(single.ours, 50) / percentile(single.base, 50), 3),
        timeouts: single.timeouts,
      },
      broadcast: {
        ours: b(bc.ours),
        base: b(bc.base),
        ratio: round(median(bc.ratios), 3),
        ratios: bc.ratios.map((r) => round(r, 3)),
      },
    };
  } finally {
    for (const p of Object.values(pools)) await p.stop();
    for (const s of Object.values(servers)) await s.stop();
  }
}

async function crossInstance(storage, size) {
  const tag = `${process.pid}x${Date.now().toString(36)}`;
  const env = {
    BENCH_STORAGE: storage,
    BENCH_PG_SCHEMA: `bench_rt_${process.pid}`,
    BENCH_REDIS_PREFIX: `bench:rt:${tag}:`,
  };
  const cleanup = () => {
    if (storage === 'postgres')
      spawnSync('psql', [process.env.DATABASE_URL, '-qc', `drop schema if exists ${env.BENCH_PG_SCHEMA} cascade`], {
        stdio: 'ignore',
      });
    if (storage === 'redis') {
      const script = "for _,k in ipairs(redis.call('keys', ARGV[1])) do redis.call('del', k) end return 1";
      spawnSync('redis-cli', ['-u', process.env.REDIS_URL, 'eval', script, '0', `${env.BENCH_REDIS_PREFIX}*`], {
        stdio: 'ignore',
      });
    }
  };
  cleanup();
  const a = await startServer('ours', env);
  const b = await startServer('ours', env);
  const pool = await startPool();
  try {
    const ids = await seed(a, size);
    const r = await pool.run('open', { url: a.url, sessionIds: ids });
    if (r.failed > 0) throw new Error(`${r.failed} sockets failed to open on instance A`);
    const samples = Number(opts['cross-samples']);
    await pool.run('single', { url: b.url, apiKey: API_KEY, samples: 30 });
    const cross = await pool.run('single', { url: b.url, apiKey: API_KEY, samples });
    const same = await pool.run('single', { url: a.url, apiKey: API_KEY, samples });
    const out = {
      storage,
      sockets: size,
      across: {
        p50Ms: ms(percentile(cross.latencies, 50)),
        p99Ms: ms(percentile(cross.latencies, 99)),
        samples: cross.latencies.length,
        timeouts: cross.timeouts,
      },
      sameInstance: {
        p50Ms: ms(percentile(same.latencies, 50)),
        p99Ms: ms(percentile(same.latencies, 99)),
        samples: same.latencies.length,
      },
    };
    log(
      `across instances via ${storage}: p50 ${out.across.p50Ms} ms, p99 ${out.across.p99Ms} ms (same instance p99 ${out.sameInstance.p99Ms} ms)`,
    );
    return out;
  } finally {
    await pool.stop();
    await a.stop();
    await b.stop();
    cleanup();
  }
}

const result = {
  at: new Date().toISOString(),
  pairs: PAIRS,
  samples: SAMPLES,
  rounds: ROUNDS,
  oneInstance: [],
  crossInstance: [],
};
for (const size of opts.sizes.split(',').filter(Boolean).map(Number)) {
  result.oneInstance.push(await oneInstance(size));
  const r = result.oneInstance.at(-1);
  console.log(
    `realtime ${size} sockets: single p99 ours ${r.single.ours.p99Ms} ms / base ${r.single.base.p99Ms} ms = ${r.single.p99Ratio}x; broadcast all-delivered ours ${r.broadcast.ours.allMs} ms / base ${r.broadcast.base.allMs} ms = ${r.broadcast.ratio}x`,
  );
}
for (const storage of opts.cross.split(',').filter(Boolean)) {
  try {
    result.crossInstance.push(await crossInstance(storage, Number(opts['cross-size'])));
  } catch (err) {
    result.crossInstance.push({ storage, error: String(err.message ?? err).slice(0, 500) });
    console.log(`cross-instance ${storage} failed: ${err.message}`);
  }
}
writeFileSync(join(RESULTS, 'realtime.json'), `${JSON.stringify(result, null, 2)}\n`);
