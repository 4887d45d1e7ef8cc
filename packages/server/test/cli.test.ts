import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

const CLI = resolve(__dirname, '../dist/cli.js');
const children: ChildProcess[] = [];
const dirs: string[] = [];

beforeAll(() => {
  if (!existsSync(CLI))
    throw new Error('packages/server/dist/cli.js is missing: run `pnpm build` first (pnpm test does)');
});

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pp-cli-'));
  dirs.push(d);
  return d;
}

function run(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}) {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    exited,
    out: () => stdout,
    err: () => stderr,
    async waitForOutput(re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const m = stdout.match(re);
        if (m) return m;
        if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${stdout}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`timed out waiting for ${re}: ${stdout}\n${stderr}`);
    },
  };
}

describe('pocketping-server CLI', () => {
  it('starts the embedded default with no config, serves the demo, and stops on SIGTERM', async () => {
    const cwd = await tmp();
    const p = run([], { cwd });
    const [, address] = await p.waitForOutput(/listening on (http:\/\/\S+)/);
    expect(p.out()).toMatch(/admin key \(generated for this run/);
    const key = p.out().match(/inbox#key=(\S+)/)![1]!;
    expect((await fetch(`${address}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${address}/`)).text()).toContain('PocketPing demo');
    const connect = await fetch(`${address}/pocketping/connect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ visitorId: 'v', sessionId: null, metadata: {} }),
    });
    expect(connect.status).toBe(200);
    const sessions = await fetch(`${address}/pocketping/admin/sessions`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(((await sessions.json()) as { sessions: unknown[] }).sessions).toHaveLength(1);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });

  it('refuses a bad config at start with the dotted path, and exits 1', async () => {
    const dir = await tmp();
    const file = join(dir, 'config.yaml');
    await writeFile(file, 'server:\n  port: 3000\n  cors:\n    origin: ["https://x.example"]\n');
    const p = run(['--config', file]);
    expect(await p.exited).toBe(1);
    expect(p.err()).toMatch(/server\.cors: unknown key origin/);
  });

  it('skips the literal -- that pnpm passes through, and reads POCKETPING_CONFIG', async () => {
    const dir = await tmp();
    const file = join(dir, 'config.yaml');
    await writeFile(
      file,
      `server:\n  apiKey: "${'k'.repeat(24)}"\n  demo: false\nuploads:\n  dir: ${JSON.stringify(join(dir, 'up'))}\n`,
    );
    const a = run(['--', '--config', file]);
    await a.waitForOutput(/listening on/);
    expect(a.out()).not.toMatch(/generated for this run/);
    a.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    const b = run([], { env: { POCKETPING_CONFIG: file } });
    await b.waitForOutput(new RegExp(`config: +${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  });

  it('init writes a commented config that check then accepts', async () => {
    const dir = await tmp();
    const init = run(['init', '--output', join(dir, 'config.yaml')]);
    expect(await init.exited).toBe(0);
    const text = await readFile(join(dir, 'config.yaml'), 'utf8');
    expect(text).toContain('# PocketPing server configuration');
    const again = run(['init', '--output', join(dir, 'config.yaml')]);
    expect(await again.exited).toBe(1);
    const check = run(['check', '--config', join(dir, 'config.yaml')]);
    expect(await check.exited).toBe(0);
    expect(check.out()).toContain('Everything looks good');
  });

  it('check reports an uninstalled bridge package with how to install it', async () => {
    const dir = await tmp();
    const file = join(dir, 'config.yaml');
    await writeFile(file, 'bridges:\n  - type: "@acme/pocketping-bridge-fax"\n');
    const p = run(['check', '--config', file]);
    expect(await p.exited).toBe(1);
    expect(p.out()).toContain('npm install @acme/pocketping-bridge-fax');
  });
});
