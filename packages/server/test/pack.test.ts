import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { serviceUrl } from '@pocketping/conformance';
import { afterAll, describe, expect, it } from 'vitest';

// "Installable alone": the tarballs `pnpm pack` makes (what `changeset publish` uploads) must
// install with npm into an empty project and run there, with no workspace around them.
const run = promisify(execFile);
const pg = serviceUrl('DATABASE_URL', 'PostgreSQL');
if (pg.skip) console.warn(`[pack] installable-alone test skipped: ${pg.skip}`);

/** What the empty project installs: the server and one storage, nothing else. */
const INSTALLED = ['core', 'server', 'storage-postgres'];
const packagesDir = resolve(__dirname, '../..');
const schema = `pp_pack_${randomBytes(6).toString('hex')}`;

let workDir: string | undefined;
let child: ChildProcess | undefined;
let schemaCreated = false;

/** The `pg` the project installed (storage-postgres depends on it); the server package has none. */
interface PgModule {
  Client: new (options: {
    connectionString: string;
  }) => {
    connect(): Promise<unknown>;
    query(sql: string): Promise<{ rows: Record<string, unknown>[] }>;
    end(): Promise<void>;
  };
}

async function withProjectPg<T>(project: string, fn: (client: InstanceType<PgModule['Client']>) => Promise<T>) {
  const { Client } = createRequire(join(project, 'package.json'))('pg') as PgModule;
  const client = new Client({ connectionString: pg.url! });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (workDir) {
    const project = join(workDir, 'project');
    if (schemaCreated) await withProjectPg(project, (c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
    await rm(workDir, { recursive: true, force: true });
  }
});

function waitForListening(proc: ChildProcess, timeoutMs: number): Promise<string> {
  let out = '';
  let err = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "listening on" line in ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`)),
      timeoutMs,
    );
    proc.stdout!.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolvePromise(m[1]!);
      }
    });
    proc.stderr!.on('data', (chunk) => {
      err += chunk;
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pocketping-server exited with ${code} before listening\nstdout: ${out}\nstderr: ${err}`));
    });
  });
}

/** The packages of packages/ that are published (not private). */
async function publishable(): Promise<{ dir: string; name: string }[]> {
  const out: { dir: string; name: string }[] = [];
  for (const dir of await readdir(packagesDir)) {
    const file = join(packagesDir, dir, 'package.json');
    if (!existsSync(file)) continue;
    const manifest = JSON.parse(await readFile(file, 'utf8')) as { name: string; private?: boolean };
    if (!manifest.private) out.push({ dir, name: manifest.name });
  }
  return out;
}

/** Packs one package (pnpm rewrites workspace: ranges to real versions, as publishing does). */
async function pack(dir: string, destination: string): Promise<string> {
  const { stdout } = await run('pnpm', ['pack', '--pack-destination', destination], { cwd: join(packagesDir, dir) });
  const tarball = stdout.trim().split('\n').pop()!.trim();
  if (!tarball.endsWith('.tgz')) throw new Error(`pnpm pack in packages/${dir} printed no tarball: ${stdout}`);
  return tarball;
}

describe.skipIf(pg.skip)('installable alone', () => {
  it('core + server + storage-postgres tarballs install with npm into an empty project and serve from there', async () => {
    const packages = await publishable();
    for (const { dir } of packages) {
      if (!existsSync(join(packagesDir, dir, 'dist', 'index.js'))) {
        throw new Error(`packages/${dir}/dist is missing: run \`pnpm build\` first (pnpm test does)`);
      }
    }
    workDir = await mkdtemp(join(tmpdir(), 'pp-pack-'));
    const tarballDir = join(workDir, 'tarballs');
    const project = join(workDir, 'project');
    await mkdir(tarballDir);
    await mkdir(project);

    // Every publishable package packs into a tarball with its built entry points and a manifest
    // without workspace: ranges (npm would refuse those).
    const tarballs = new Map<string, string>();
    for (const { dir, name } of packages) {
      const tarball = await pack(dir, tarballDir);
      tarballs.set(dir, tarball);
      const { stdout: listing } = await run('tar', ['-tzf', tarball]);
      expect(listing.split('\n'), name).toEqual(
        expect.arrayContaining(['package/package.json', 'package/dist/index.js', 'package/dist/index.d.ts']),
      );
      const { stdout: manifest } = await run('tar', ['-xOzf', tarball, 'package/package.json']);
      expect(manifest, `${name} manifest`).not.toContain('workspace:');
    }
    expect([...tarballs.keys()]).toEqual(expect.arrayContaining(INSTALLED));

    // Those versions are not on the registry: installing the three together lets npm resolve
    // @pocketping/core locally; fastify, pg, zod and the rest come from the registry.
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'pp-user-project', private: true }));
    const started = Date.now();
    const installed = INSTALLED.map((dir) => tarballs.get(dir)!);
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...installed], {
      cwd: project,
      maxBuffer: 16 * 1024 * 1024,
    });
    console.info(`[pack] npm install of ${installed.length} tarballs took ${Date.now() - started} ms`);

    await writeFile(
      join(project, 'config.yaml'),
      [
        'server:',
        '  demo: false',
        '  logLevel: warn',
        'storage:',
        '  type: postgres',
        `  url: ${JSON.stringify(pg.url)}`,
        `  schema: ${schema}`,
        'uploads:',
        '  dir: ./uploads',
        '',
      ].join('\n'),
    );
    schemaCreated = true;
    child = spawn(join(project, 'node_modules', '.bin', 'pocketping-server'), ['--config', 'config.yaml'], {
      cwd: project,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    const address = await waitForListening(child, 30_000);

    const health = await fetch(`${address}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });

    const connect = await fetch(`${address}/pocketping/connect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-pocketping-version': '2.6.0' },
      body: JSON.stringify({ visitorId: 'v-pack', sessionId: null, metadata: { url: 'https://shop.example.com/' } }),
    });
    expect(connect.status).toBe(200);
    const { sessionId } = (await connect.json()) as { sessionId: string };
    expect(sessionId).toMatch(/^[A-Za-z0-9_-]+$/);

    // The session went to PostgreSQL, in the schema from config.yaml, through the installed storage.
    const rows = await withProjectPg(project, (c) =>
      c.query(`SELECT count(*)::int AS n FROM "${schema}".sessions`).then((r) => r.rows),
    );
    expect(rows[0]?.n).toBe(1);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 120_000);
});
