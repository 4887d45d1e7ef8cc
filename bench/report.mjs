// Renders bench/results/*.json into the figures section of bench/RESULTS.md (between the
// figures markers; the hand-written notes around it are kept). Usage: node bench/report.mjs "<command>"
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR } from './lib/deps.mjs';

const command = process.argv[2] ?? 'bash bench/run.sh';
const dir = join(BENCH_DIR, 'results');
const read = (f) => (existsSync(join(dir, f)) ? JSON.parse(readFileSync(join(dir, f), 'utf8')) : undefined);
const run = read('run.json') ?? {};
const lines = [];
const targets = [];
const mark = (ok) => (ok === undefined ? '–' : ok ? 'met' : '**missed**');
const target = (what, value, ok) => targets.push(`| ${what} | ${value} | ${mark(ok)} |`);

lines.push(
  `Command: \`${command}\` (mode ${run.mode ?? '?'}), commit ${run.commit ?? '?'}, started ${run.started ?? '?'}, ${run.seconds ?? '?'} s.`,
);
lines.push(
  `Machine: ${run.cpus ?? '?'} cores, Node ${run.node ?? '?'}; load average before ${run.loadBefore ?? '?'}, after ${run.loadAfter ?? '?'} (other work on the machine shows up as noise).`,
);
lines.push('');

const http = ['memory', 'postgres', 'redis'].map((s) => read(`http-${s}.json`)).filter(Boolean);
if (http.length > 0) {
  const h = http[0];
  lines.push(
    `### HTTP (wrk, 1 thread, ${h.connections} connections, ${h.pairs} A/B pairs of ${h.durationS} s; ratio = median over pairs of ours/baseline rps)`,
  );
  lines.push('');
  lines.push(
    '| storage | scenario | ours rps | ours p50 / p99 ms | baseline rps | baseline p50 / p99 ms | ratio | ratios per pair | non-2xx/errors (ours) |',
  );
  lines.push('|---|---|---:|---:|---:|---:|---:|---|---:|');
  for (const file of http) {
    for (const r of file.results) {
      lines.push(
        `| ${file.storage} | ${r.name} | ${r.ours.rps} | ${r.ours.p50_ms} / ${r.ours.p99_ms} | ${r.base.rps} | ${r.base.p50_ms} / ${r.base.p99_ms} | **${r.ratio}** | ${r.ratios.join(', ')} | ${r.ours.errors} |`,
      );
    }
    const by = Object.fromEntries(file.results.map((r) => [r.name, r]));
    if (file.storage === 'memory') {
      if (by['message-1000'])
        target('/message, memory: ratio ≥ 0.6', by['message-1000'].ratio, by['message-1000'].ratio >= 0.6);
      if (by['connect-new'])
        target('/connect new visitors, memory: ratio ≥ 0.5', by['connect-new'].ratio, by['connect-new'].ratio >= 0.5);
      const ret = file.results.filter((r) => r.name.startsWith('connect-returning-'));
      for (const r of ret)
        target(`/connect returning (${r.name.split('-').at(-1)} stored), memory: ratio ≥ 0.5`, r.ratio, r.ratio >= 0.5);
      if (ret.length >= 2) {
        const flat = ret.at(-1).ratio / ret[0].ratio;
        target(
          `/connect returning flat from ${ret[0].name.split('-').at(-1)} to ${ret.at(-1).name.split('-').at(-1)} stored (ratio at largest / at smallest ≥ 0.85)`,
          flat.toFixed(3),
          flat >= 0.85,
        );
      }
    }
    if (file.storage === 'postgres') {
      for (const r of file.results) target(`${r.name}, Postgres: ratio ≥ 0.25`, r.ratio, r.ratio >= 0.25);
    }
  }
  lines.push('');
}

const rt = read('realtime.json');
if (rt) {
  lines.push(
    `### Realtime (${rt.pairs} A/B pairs; ${rt.samples} operator replies per side per pair, one at a time; ${rt.rounds} broadcast rounds per side per pair)`,
  );
  lines.push('');
  lines.push(
    'Delivery latency = time from the admin POST leaving the client to the frame arriving on the widget socket.',
  );
  lines.push('Broadcast "all" = time from the POST until the last of N sockets has the event.');
  lines.push('');
  lines.push(
    '| sockets | reply p50 ours / base ms | reply p99 ours / base ms | p99 ratio (pooled; median of pairs) | broadcast all ours / base ms | broadcast p50 / p99 ours ms | ratio |',
  );
  lines.push('|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rt.oneInstance) {
    lines.push(
      `| ${r.sockets} | ${r.single.ours.p50Ms} / ${r.single.base.p50Ms} | ${r.single.ours.p99Ms} / ${r.single.base.p99Ms} | **${r.single.p99Ratio}**; ${r.single.p99RatioMedianOfPairs} | ${r.broadcast.ours.allMs} / ${r.broadcast.base.allMs} | ${r.broadcast.ours.p50Ms} / ${r.broadcast.ours.p99Ms} | **${r.broadcast.ratio}** |`,
    );
    if (r.sockets === 10000) {
      target('reply delivery p99 at 10,000 sockets ≤ 1.2x baseline', r.single.p99Ratio, r.single.p99Ratio <= 1.2);
      target('one event to all 10,000 sessions ≤ 1.1x baseline send loop', r.broadcast.ratio, r.broadcast.ratio <= 1.1);
    }
  }
  lines.push('');
  if (rt.crossInstance.length > 0) {
    lines.push(
      '| across instances via | sockets on A | reply posted to B: p50 / p99 ms | same instance p50 / p99 ms |',
    );
    lines.push('|---|---:|---:|---:|');
    for (const c of rt.crossInstance) {
      if (c.error) {
        lines.push(`| ${c.storage} | – | failed: ${c.error.split('\n')[0]} | – |`);
        target(`across instances via ${c.storage}: p99 < 25 ms`, 'failed', false);
        continue;
      }
      lines.push(
        `| ${c.storage} | ${c.sockets} | ${c.across.p50Ms} / **${c.across.p99Ms}** | ${c.sameInstance.p50Ms} / ${c.sameInstance.p99Ms} |`,
      );
      target(`across instances via ${c.storage}: p99 < 25 ms`, `${c.across.p99Ms} ms`, c.across.p99Ms < 25);
    }
    lines.push('');
  }
}

const mem = read('memory.json');
if (mem) {
  lines.push(`### Memory (${mem.size} idle connections; RSS from /proc/<pid>/status after GC)`);
  lines.push('');
  lines.push(
    '| server | transport | RSS per conn KB | heap per conn KB | RSS MB before / open / after close | heap retained after close KB | hub conns / sessions / ws clients after close |',
  );
  lines.push('|---|---|---:|---:|---:|---:|---:|');
  for (const r of mem.runs) {
    if (r.error) {
      lines.push(`| ${r.who} | ${r.transport} | failed: ${r.error.split('\n')[0]} | | | | |`);
      continue;
    }
    const who = r.who === 'ours' ? 'ours' : 'baseline';
    lines.push(
      `| ${who} | ${r.transport} | **${r.perConnectionKB.rss}** | ${r.perConnectionKB.heap} | ${r.rssMB.before} / ${r.rssMB.open} / ${r.rssMB.afterClose} | ${r.afterClose.heapRetainedKB} | ${r.afterClose.hubConnections} / ${r.afterClose.hubSessions} / ${r.afterClose.wsClients} |`,
    );
    if (r.who === 'ours') {
      if (r.transport === 'ws')
        target(
          `RSS per idle WebSocket at ${mem.size} ≤ 8 KB`,
          `${r.perConnectionKB.rss} KB`,
          r.perConnectionKB.rss <= 8,
        );
      const clean = r.afterClose.hubConnections === 0 && r.afterClose.hubSessions === 0 && r.afterClose.wsClients === 0;
      target(
        `${r.transport}: every per-session structure released after the last socket closes`,
        `hub ${r.afterClose.hubConnections}/${r.afterClose.hubSessions}, heap retained ${r.afterClose.heapRetainedKB} KB`,
        clean && r.afterClose.heapRetainedKB < 2048,
      );
    }
  }
  lines.push('');
  const c = mem.checks ?? {};
  if (c.frameOverLimit) {
    lines.push(
      `Inbound frame of 64 KiB + 1 byte: ${c.frameOverLimit.closed ? `socket closed with ${c.frameOverLimit.code}` : 'socket stayed open'}; just under 64 KiB: ${c.frameAtLimit?.closed ? `closed with ${c.frameAtLimit.code}` : 'accepted'}.`,
    );
    target(
      'inbound frames limited to 64 KiB (close 1009)',
      c.frameOverLimit.code ?? 'open',
      c.frameOverLimit.code === 1009 && !c.frameAtLimit?.closed,
    );
  }
  if (c.deadPeers) {
    lines.push(
      `Dead peers (${c.deadPeers.opened} clients that never answer pings): ${c.deadPeers.remainingOnServer} left on the server after ${Math.round(c.deadPeers.droppedAfterMs / 1000)} s (ping interval 25 s).`,
    );
    target(
      'sockets are pinged and dead ones dropped',
      `${c.deadPeers.remainingOnServer} left`,
      c.deadPeers.remainingOnServer === 0 && c.deadPeers.hubConnections === 0,
    );
  }
  lines.push('');
}

const section = ['### Targets', '', '| target | measured | status |', '|---|---|---|', ...targets, '', ...lines].join(
  '\n',
);
const file = join(BENCH_DIR, 'RESULTS.md');
const START = '<!-- figures:start (written by bench/report.mjs) -->';
const END = '<!-- figures:end -->';
let doc = existsSync(file)
  ? readFileSync(file, 'utf8')
  : `# Benchmark results\n\n## Latest figures\n\n${START}\n${END}\n`;
if (!doc.includes(START)) doc += `\n## Latest figures\n\n${START}\n${END}\n`;
doc = `${doc.slice(0, doc.indexOf(START) + START.length)}\n${section}\n${doc.slice(doc.indexOf(END))}`;
writeFileSync(file, doc);
console.log(section);
