// Starting and stopping the processes of a scenario: servers pinned to core 0, load generators
// pinned to core 1. Every child is killed by pid when the scenario ends (or the bench exits).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR } from './deps.mjs';

export const SERVER_CPU = process.env.BENCH_SERVER_CPU ?? '0';
export const LOAD_CPU = process.env.BENCH_LOAD_CPU ?? '1';

const children = new Set();
function killAll() {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {}
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

/**
 * Starts `bench/servers/<name>.mjs` pinned to the server core and waits for its `READY <port>` line.
 * Extra env is passed through; `nodeArgs` go before the script (e.g. --cpu-prof).
 */
export async function startServer(name, env = {}, { nodeArgs = [], cpu = SERVER_CPU, timeoutMs = 120_000 } = {}) {
  const script = join(BENCH_DIR, 'servers', `${name}.mjs`);
  const child = spawn('taskset', ['-c', cpu, process.execPath, '--expose-gc', ...nodeArgs, script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
  });
  const port = await new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start in ${timeoutMs} ms\n${stderr}`)), timeoutMs);
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /READY (\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready\n${stderr}`));
    });
  });
  child.stdout.resume();
  const url = `http://127.0.0.1:${port}`;
  return {
    name,
    pid: child.pid,
    port,
    url,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      children.delete(child);
    },
  };
}

/** Runs a command pinned to the load core; resolves with its stdout. */
export function runPinned(cmd, args, { cpu = LOAD_CPU, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', cpu, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      children.delete(child);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} exited with ${code}: ${err}${out}`));
    });
  });
}

/** Resident memory of a process in bytes, from /proc/<pid>/status. */
export function rssOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** Open file descriptors of a process (sockets included). */
export function fdCount(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** JSON over HTTP to a local server (fetch; used for control calls, never on measured paths). */
export async function call(url, path, { method = 'POST', body, headers = {} } = {}) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : undefined;
}

/** Forks a client pool (bench/lib/pool.mjs) on the load core; returns `run(cmd, args)`. */
export async function startPool() {
  const { fork } = await import('node:child_process');
  const child = fork(join(BENCH_DIR, 'lib', 'pool.mjs'), [], {
    execPath: 'taskset',
    execArgv: ['-c', LOAD_CPU, process.execPath, '--max-old-space-size=2048'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`pool exited with ${code}`)));
  });
  let nextId = 0;
  const pending = new Map();
  child.on('message', (msg) => {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(new Error(msg.error));
    else p.resolve(msg.result);
  });
  return {
    run(cmd, args = {}) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, cmd, ...args });
      });
    },
    async stop() {
      child.kill('SIGKILL');
      children.delete(child);
    },
  };
}
