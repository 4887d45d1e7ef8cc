// HTTP scenarios: POST /connect (new and returning visitors with N stored sessions) and
// POST /message, ours against the bare Fastify baseline in the same run, alternating A/B, wrk on
// the load core and the servers on the server core. Writes bench/results/http-<storage>.json.
//
// Usage: node bench/http-bench.mjs --storage memory|postgres|redis [--pairs 5] [--duration 5]
//        [--sizes 100,10000,50000] [--scenarios returning,message,new] [--connections 50]
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR } from './lib/deps.mjs';
import { call, runPinned, startServer } from './lib/proc.mjs';
import { median, round } from './lib/stats.mjs';

const { values: opts } = parseArgs({
  options: {
    storage: { type: 'string', default: 'memory' },
    pairs: { type: 'string', default: '5' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    sizes: { type: 'string', default: '100,10000,50000' },
    scenarios: { type: 'string', default: 'returning,message,new' },
    connections: { type: 'string', default: '50' },
    profile: { type: 'boolean', default: false },
  },
});
const storage = opts.storage;
const PAIRS = Number(opts.pairs);
const DURATION = Number(opts.duration);
const WARMUP = Number(opts.warmup);
const SIZES = opts.sizes.split(',').map(Number);
const SCENARIOS = new Set(opts.scenarios.split(','));
const CONNECTIONS = Number(opts.connections);
const RESULTS = join(BENCH_DIR, 'results');
const TMP = join(RESULTS, 'tmp');
mkdirSync(TMP, { recursive: true });
const runTag = `${process.pid}-${Date.now().toString(36)}`;
const pgSchema = `bench_${process.pid}`;
const redisPrefix = `bench:${runTag}:`;

function cleanupServices() {
  if (storage === 'postgres') {
    spawnSync('psql', [process.env.DATABASE_URL, '-qc', `drop schema if exists ${pgSchema} cascade`], {
      stdio: 'ignore',
    });
  }
  if (storage === 'redis') {
    const script =
      "local n=0 for _,k in ipairs(redis.call('keys', ARGV[1])) do redis.call('del', k) n=n+1 end return n";
    spawnSync('redis-cli', ['-u', process.env.REDIS_URL, 'eval', script, '0', `${redisPrefix}*`], { stdio: 'ignore' });
  }
}

async function wrk(target, lua, args, seconds) {
  const out = await runPinned(
    'wrk',
    [
      '-t1',
      `-c${CONNECTIONS}`,
      `-d${seconds}s`,
      '--timeout',
      '5s',
      '-s',
      join(BENCH_DIR, 'lua', lua),
      target,
      '--',
      ...args,
    ],
    { timeoutMs: (seconds + 30) * 1000 },
  );
  const line = out.split('\n').find((l) => l.startsWith('{"requests"'));
  if (!line) throw new Error(`no summary from wrk:\n${out}`);
  const r = JSON.parse(line);
  const errors = r.errors.connect + r.errors.read + r.errors.write + r.errors.status + r.errors.timeout;
  return {
    rps: r.requests / (r.duration_us / 1e6),
    requests: r.requests,
    errors,
    errorDetail: r.errors,
    latency: r.latency_us,
  };
}

/** Runs one scenario: warm-up, then PAIRS alternating A/B pairs; the ratio is ours / baseline. */
async function scenario(name, path, lua, argsOurs, argsBase, servers) {
  const targetOurs = `${servers.ours.url}${path}`;
  const targetBase = `${servers.base.url}${path}`;
  await wrk(targetOurs, lua, argsOurs('warm'), WARMUP);
  await wrk(targetBase, lua, argsBase('warm'), WARMUP);
  const pairs = [];
  for (let i = 0; i < PAIRS; i++) {
    const order = i % 2 === 0 ? ['ours', 'base'] : ['base', 'ours'];
    const pair = {};
    for (const who of order) {
      pair[who] =
        who === 'ours'
          ? await wrk(targetOurs, lua, argsOurs(i), DURATION)
          : await wrk(targetBase, lua, argsBase(i), DURATION);
    }
    pair.ratio = pair.ours.rps / pair.base.rps;
    pairs.push(pair);
    process.stderr.write(
      `  [${storage}] ${name} pair ${i + 1}/${PAIRS}: ours ${round(pair.ours.rps, 0)} rps, base ${round(pair.base.rps, 0)} rps, ratio ${round(pair.ratio, 3)}${pair.ours.errors ? ` (ours errors: ${JSON.stringify(pair.ours.errorDetail)})` : ''}\n`,
    );
  }
  const summary = (who) => ({
    rps: round(median(pairs.map((p) => p[who].rps)), 0),
    p50_ms: round(median(pairs.map((p) => p[who].latency.p50)) / 1000, 2),
    p99_ms: round(median(pairs.map((p) => p[who].latency.p99)) / 1000, 2),
    errors: pairs.reduce((n, p) => n + p[who].errors, 0),
    requests: pairs.reduce((n, p) => n + p[who].requests, 0),
  });
  return {
    name,
    storage,
    ours: summary('ours'),
    base: summary('base'),
    ratio: round(median(pairs.map((p) => p.ratio)), 3),
    ratios: pairs.map((p) => round(p.ratio, 3)),
  };
}

async function main() {
  cleanupServices();
  const env = { BENCH_STORAGE: storage, BENCH_PG_SCHEMA: pgSchema, BENCH_REDIS_PREFIX: redisPrefix };
  const nodeArgs = [
    ...(opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(RESULTS, 'profiles')}`] : []),
    ...(process.env.BENCH_OURS_NODE_ARGS ?? '').split(' ').filter(Boolean),
  ];
  const servers = { ours: await startServer('ours', env, { nodeArgs }), base: await startServer('baseline') };
  const results = [];
  try {
    const pairsOurs = [];
    const pairsBase = [];
    const seedTo = async (n) => {
      while (pairsOurs.length < n) {
        const count = Math.min(5000, n - pairsOurs.length);
        pairsOurs.push(...(await call(servers.ours.url, '/__bench/seed', { body: { count, tag: runTag } })).pairs);
      }
      while (pairsBase.length < n) {
        const count = n - pairsBase.length;
        pairsBase.push(...(await call(servers.base.url, '/__bench/seed', { body: { count, tag: runTag } })).pairs);
      }
      if (storage === 'postgres') {
        // Seeding grows the tables 100-fold within seconds, faster than autovacuum's next
        // ANALYZE (about a minute later in a real deployment). Plans cached while the table was
        // small would otherwise be measured: the batched statements' generic plans scan a
        // 100-row table sequentially and keep doing so at 50,000 rows until that ANALYZE.
        spawnSync('psql', [process.env.DATABASE_URL, '-qc', `ANALYZE ${pgSchema}.sessions, ${pgSchema}.messages`], {
          stdio: 'ignore',
        });
      }
    };
    const writePairs = (file, list) => {
      writeFileSync(file, `${list.map(([s, v]) => `${s} ${v}`).join('\n')}\n`);
      return file;
    };
    if (SCENARIOS.has('returning')) {
      for (const size of SIZES) {
        const t0 = Date.now();
        await seedTo(size);
        process.stderr.write(`  [${storage}] ${size} sessions stored (seeding took ${Date.now() - t0} ms)\n`);
        const fo = writePairs(join(TMP, `pairs-ours-${storage}.txt`), pairsOurs);
        const fb = writePairs(join(TMP, `pairs-base-${storage}.txt`), pairsBase);
        results.push(
          await scenario(
            `connect-returning-${size}`,
            '/pocketping/connect',
            'connect-returning.lua',
            () => [fo],
            () => [fb],
            servers,
          ),
        );
      }
    }
    if (SCENARIOS.has('message')) {
      await seedTo(1000);
      const fo = writePairs(join(TMP, `sessions-ours-${storage}.txt`), pairsOurs.slice(0, 1000));
      const fb = writePairs(join(TMP, `sessions-base-${storage}.txt`), pairsBase.slice(0, 1000));
      results.push(
        await scenario(
          'message-1000',
          '/pocketping/message',
          'message.lua',
          () => [fo],
          () => [fb],
          servers,
        ),
      );
    }
    if (SCENARIOS.has('new')) {
      results.push(
        await scenario(
          'connect-new',
          '/pocketping/connect',
          'connect-new.lua',
          (i) => [`${runTag}-o${i}`],
          (i) => [`${runTag}-b${i}`],
          servers,
        ),
      );
    }
  } finally {
    await servers.ours.stop();
    await servers.base.stop();
    cleanupServices();
  }
  const file = join(RESULTS, `http-${storage}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ at: new Date().toISOString(), storage, pairs: PAIRS, durationS: DURATION, connections: CONNECTIONS, results }, null, 2)}\n`,
  );
  for (const r of results) {
    console.log(
      `${storage.padEnd(8)} ${r.name.padEnd(26)} ours ${String(r.ours.rps).padStart(6)} rps  base ${String(r.base.rps).padStart(6)} rps  ratio ${r.ratio}${r.ours.errors ? `  OURS ERRORS ${r.ours.errors}` : ''}`,
    );
  }
}

await main();
