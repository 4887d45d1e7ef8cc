// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by package.
// Usage: node bench/profile-summary.mjs <file.cpuprofile> [top=30]
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
const top = Number(topArg ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const fnTime = new Map();
const pkgTime = new Map();
const pkgOf = (url) => {
  if (!url) return '(native/v8)';
  const m =
    /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url) ??
    /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  const p = /packages\/([^/]+)\//.exec(url);
  if (p) return `@pocketping/${p[1]}`;
  if (url.startsWith('node:')) return 'node:internal';
  return url.split('/').slice(-2).join('/');
};
for (const [id, t] of self) {
  const n = byId.get(id);
  const cf = n.callFrame;
  const key = `${cf.functionName || '(anonymous)'} ${cf.url ? `${cf.url.replace(/^.*\/(packages|node_modules)\//, '$1/')}:${cf.lineNumber + 1}` : ''}`;
  fnTime.set(key, (fnTime.get(key) ?? 0) + t);
  const pkg = pkgOf(cf.url);
  pkgTime.set(pkg, (pkgTime.get(pkg) ?? 0) + t);
}
const pct = (t) => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
console.log(`total sampled ${(total / 1e6).toFixed(2)} s`);
console.log('\nby package (self time):');
for (const [k, t] of [...pkgTime].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`${pct(t)}  ${k}`);
console.log('\nby function (self time):');
for (const [k, t] of [...fnTime].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`);
