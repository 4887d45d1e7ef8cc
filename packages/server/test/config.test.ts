import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SetupError } from '@pocketping/core';
import { afterEach, describe, expect, it } from 'vitest';
import { buildServer } from '../src/build-server.js';
import { ConfigError, loadConfigFile, parseConfig } from '../src/config.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pp-config-'));
  dirs.push(d);
  return d;
}

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('an empty config is the embedded default', () => {
    const config = parseConfig({});
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 3000, prefix: '/pocketping', demo: true });
    expect(config.storage).toEqual({ type: 'memory' });
    expect(config.bridges).toEqual([]);
  });

  it('errors name the dotted path and say what is expected', () => {
    const list = problems(() =>
      parseConfig({
        server: { port: 'eighty', prefix: 'no-slash', cors: { origin: ['x'] } },
        bridges: [{ token: 'x' }],
      }),
    );
    expect(list.some((p) => p.startsWith('server.port:'))).toBe(true);
    expect(list.some((p) => p.startsWith('server.prefix:') && p.includes('/pocketping'))).toBe(true);
    expect(list.some((p) => p.startsWith('server.cors:') && p.includes('origin'))).toBe(true);
    expect(list.some((p) => p.startsWith('bridges[0].type:'))).toBe(true);
  });

  it('server.websocket sets the ping interval and the inbound frame limit, with checked bounds', async () => {
    const list = problems(() => parseConfig({ server: { websocket: { pingIntervalMs: 5, maxPayload: 10 } } }));
    expect(list.some((p) => p.startsWith('server.websocket.pingIntervalMs:') && p.includes('at least 100'))).toBe(true);
    expect(list.some((p) => p.startsWith('server.websocket.maxPayload:') && p.includes('at least 1024'))).toBe(true);
    const config = parseConfig({
      server: { host: '127.0.0.1', port: 0, demo: false, apiKey: 'k'.repeat(20), websocket: { maxPayload: 2048 } },
      uploads: { dir: join(await tmp(), 'uploads') },
    });
    const { app, pocketping } = await buildServer(config);
    try {
      const origin = await app.listen({ host: '127.0.0.1', port: 0 });
      const { default: WebSocket } = await import('ws');
      const session = await pocketping.handleConnect({ visitorId: 'v-ws-config', sessionId: null });
      const ws = new WebSocket(`${origin.replace('http', 'ws')}/pocketping/stream?sessionId=${session.sessionId}`);
      await new Promise((r) => ws.once('open', r));
      ws.send('x'.repeat(3000));
      const code = await new Promise((r) => ws.once('close', r));
      expect(code).toBe(1009);
    } finally {
      await app.close();
    }
  });

  it('unknown top-level keys are errors that suggest checking the spelling', () => {
    const list = problems(() => parseConfig({ storag: { type: 'memory' } }));
    expect(list[0]).toMatch(/unknown key storag/);
  });

  it('${VAR} is read from the environment, with ${VAR:-default} fallbacks', () => {
    const config = parseConfig(
      { server: { apiKey: '${KEY}', port: '${PORT:-4000}' }, bridges: [{ type: 'x', token: 'a-${SUFFIX}' }] },
      { KEY: 'k'.repeat(20), SUFFIX: 'b' },
    );
    expect(config.server.apiKey).toBe('k'.repeat(20));
    expect(config.server.port).toBe(4000);
    expect(config.bridges[0]).toMatchObject({ token: 'a-b' });
  });

  it('a missing environment variable names the path and the variable', () => {
    const list = problems(() => parseConfig({ bridges: [{ type: 'telegram', token: '${TELEGRAM_BOT_TOKEN}' }] }, {}));
    expect(list).toEqual([
      expect.stringMatching(/^bridges\[0\]\.token: environment variable TELEGRAM_BOT_TOKEN is not set/),
    ]);
  });

  it('YAML syntax errors and missing files are reported with the file name', async () => {
    const dir = await tmp();
    const file = join(dir, 'config.yaml');
    await writeFile(file, 'server:\n  port: [1, 2\n');
    await expect(loadConfigFile(file)).rejects.toThrow(/not valid YAML/);
    await expect(loadConfigFile(join(dir, 'missing.yaml'))).rejects.toThrow(
      /cannot read .*missing\.yaml.*pocketping-server init/,
    );
  });

  it('a storage or bridge package that is not installed gives an install instruction', async () => {
    const config = parseConfig({ server: { demo: false }, bridges: [{ type: '@acme/pocketping-bridge-fax' }] });
    const err = await buildServer(config, { logger: false }).catch((e) => e);
    expect(err).toBeInstanceOf(SetupError);
    expect((err as SetupError).formattedGuide()).toContain('npm install @acme/pocketping-bridge-fax');
  });

  it('memory storage with options is refused', async () => {
    const config = parseConfig({ storage: { type: 'memory', url: 'x' } });
    await expect(buildServer(config, { logger: false })).rejects.toThrow(/memory storage takes no options/);
  });

  it('buildServer returns an app that is not listening and serves the demo pages', async () => {
    const dir = await tmp();
    const built = await buildServer(parseConfig({ server: { apiKey: 'a'.repeat(20) }, uploads: { dir } }), {
      logger: false,
    });
    try {
      expect(built.app.server.listening).toBe(false);
      expect(built.apiKeyGenerated).toBe(false);
      const page = await built.app.inject({ method: 'GET', url: '/' });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/text\/html/);
      expect(page.body).toContain('/pocketping');
      const inbox = await built.app.inject({ method: 'GET', url: '/inbox' });
      expect(inbox.body).toContain('/admin');
      const health = await built.app.inject({ method: 'GET', url: '/healthz' });
      expect(health.json()).toEqual({ ok: true });
      const ready = await built.app.inject({ method: 'GET', url: '/readyz' });
      expect(ready.json()).toMatchObject({ ok: true });
    } finally {
      await built.app.close();
    }
  });
});
