import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildServer, parseConfig } from '@pocketping/server';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// pocketping-server finds a community bridge the way Node finds any package: in the
// node_modules of the directory it runs in. The test builds such a user project: a folder
// whose node_modules/pocketping-bridge-console links to this package (what `npm install`
// or `pnpm add` would put there), and runs buildServer from it.
const packageDir = resolve(__dirname, '..');
let project: string;
let previousCwd: string;

/** The published entry points are dist/; build them when they are missing or older than src/. */
function ensureBuilt(): void {
  const dist = join(packageDir, 'dist', 'index.cjs');
  const newestSource = Math.max(
    ...readdirSync(join(packageDir, 'src')).map((f) => statSync(join(packageDir, 'src', f)).mtimeMs),
  );
  if (existsSync(dist) && statSync(dist).mtimeMs >= newestSource) return;
  const result = spawnSync('pnpm', ['build'], { cwd: packageDir, encoding: 'utf8' });
  if (result.status !== 0)
    throw new Error(`building pocketping-bridge-console failed:\n${result.stdout}${result.stderr}`);
}

beforeAll(async () => {
  ensureBuilt();
  project = await mkdtemp(join(tmpdir(), 'pp-user-project-'));
  await mkdir(join(project, 'node_modules'));
  await symlink(packageDir, join(project, 'node_modules', 'pocketping-bridge-console'), 'dir');
  previousCwd = process.cwd();
  process.chdir(project);
}, 120_000);

afterAll(async () => {
  if (previousCwd) process.chdir(previousCwd);
  if (project) await rm(project, { recursive: true, force: true });
});

describe('pocketping-server config', () => {
  it('loads pocketping-bridge-console by its package name and relays visitor messages through it', async () => {
    const printed: string[] = [];
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      printed.push(String(chunk));
      return true;
    });
    const built = await buildServer(
      parseConfig({
        server: { demo: false, logLevel: 'silent' },
        bridges: [{ type: 'pocketping-bridge-console', name: 'terminal', operatorName: 'Ana', output: 'stderr' }],
        uploads: { dir: join(project, 'uploads') },
      }),
    );
    try {
      expect(built.pocketping.bridges.map((b) => b.name)).toEqual(['terminal']);
      const connect = await built.app.inject({
        method: 'POST',
        url: '/pocketping/connect',
        payload: { visitorId: 'v-1', sessionId: null, metadata: { url: 'https://shop.example.com/' } },
      });
      const { sessionId } = connect.json() as { sessionId: string };
      await built.app.inject({
        method: 'POST',
        url: '/pocketping/message',
        payload: { sessionId, content: 'Do you ship to Canada?', sender: 'visitor', attachmentIds: [] },
      });
      await built.pocketping.flushDeliveries();
      const label = (await built.pocketping.getSession(sessionId))?.bridgeThreads?.terminal;
      expect(label).toBeTruthy();
      expect(printed.join('')).toContain(`[${label}] visitor: Do you ship to Canada?`);
    } finally {
      await built.app.close();
      stderr.mockRestore();
    }
  });

  it('a bad key in the bridge entry stops the start with the dotted path', async () => {
    await expect(
      buildServer(
        parseConfig({
          server: { demo: false, logLevel: 'silent' },
          bridges: [{ type: 'pocketping-bridge-console', output: 'printer' }],
          uploads: { dir: join(project, 'uploads') },
        }),
      ),
    ).rejects.toThrow(/bridges\[0\] \(pocketping-bridge-console\): .*output/);
  });
});
