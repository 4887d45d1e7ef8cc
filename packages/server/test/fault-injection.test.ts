import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { TelegramBridge } from '@pocketping/bridge-telegram';
import { serviceUrl } from '@pocketping/conformance';
import { PocketPing, silentLogger } from '@pocketping/core';
import { PostgresStorage } from '@pocketping/storage-postgres';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeTelegram } from '../../bridge-telegram/test/fake-telegram.js';

const pgService = serviceUrl('DATABASE_URL', 'PostgreSQL');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function until(
  check: () => boolean | Promise<boolean>,
  ms: number,
  what: string | (() => string),
): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
}

/** Drives the worker process: one JSON command per line, one JSON answer per line. */
function worker(env: Record<string, string>) {
  const child: ChildProcess = spawn(process.execPath, [resolve(__dirname, 'fixtures/outbox-worker.mjs')], {
    cwd: resolve(__dirname, '..'),
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const answers = new Map<number, (v: Record<string, string>) => void>();
  let ready: () => void;
  const started = new Promise<void>((r) => {
    ready = r;
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const msg = JSON.parse(line);
    if (msg.ready) ready();
    else answers.get(msg.id)?.(msg);
  });
  let next = 0;
  const send = (cmd: Record<string, string>) =>
    new Promise<Record<string, string>>((res, rej) => {
      const id = ++next;
      answers.set(id, (v) => (v.error ? rej(new Error(v.error)) : res(v)));
      child.stdin!.write(`${JSON.stringify({ ...cmd, id })}\n`);
    });
  return { child, started, send };
}

describe.skipIf(Boolean(pgService.skip))('fault injection: nothing lost, nothing twice', () => {
  it('500s, 429s, dropped connections and a crash mid-queue still deliver every message exactly once, in order', async () => {
    const schema = `pp_fault_${Math.random().toString(36).slice(2, 10)}`;
    const admin = new pg.Pool({ connectionString: pgService.url });
    cleanups.push(async () => {
      await admin.query(`drop schema if exists "${schema}" cascade`);
      await admin.end();
    });
    const fake = await FakeTelegram.start();
    cleanups.push(() => fake.close());
    const env = {
      PP_SCHEMA: schema,
      TG_TOKEN: fake.token,
      TG_CHAT: String(fake.chat.id),
      TG_API_ROOT: fake.apiRoot,
      DATABASE_URL: pgService.url!,
    };

    // Faults for the first sends: server errors, a rate limit, lost connections.
    fake.failNext('sendMessage', { error_code: 500, description: 'Internal Server Error' }, 2);
    fake.failNext('createForumTopic', { error_code: 502, description: 'Bad Gateway' }, 1);
    fake.failNext(
      'sendMessage',
      { error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } },
      1,
    );
    fake.faultNext('sendMessage', 'drop', 2);

    const a = worker(env);
    cleanups.push(async () => {
      if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL');
    });
    await a.started;
    const sessions: string[] = [];
    for (let i = 0; i < 3; i++) sessions.push((await a.send({ op: 'connect', visitorId: `visitor-${i}` })).sessionId!);
    // Every message is acknowledged only once it (and its delivery) is stored.
    for (let n = 0; n < 10; n++)
      for (const [i, s] of sessions.entries()) await a.send({ op: 'send', sessionId: s, content: `s${i} m${n}` });

    const posted = () => fake.messages.filter((m) => /^s\d m\d+$/.test(m.visible)).length;
    await until(
      () => posted() >= 8,
      20_000,
      () =>
        `the first deliveries (posted: ${JSON.stringify(fake.messages.slice(-5).map((m) => m.visible))} calls: ${fake.calls.map((c) => c.method).join(',')})`,
    );
    // Crash while a delivery is in flight: hold every new post, let finished ones settle, kill -9.
    for (const method of ['sendMessage', 'createForumTopic', 'sendChatAction']) fake.faultNext(method, 'hang', 1000);
    await new Promise((r) => setTimeout(r, 500));
    await until(() => fake.hungCalls >= 1, 10_000, 'a held delivery');
    a.child.kill('SIGKILL');
    await new Promise((r) => a.child.once('exit', r));
    fake.clearFaults();
    fake.releaseHung();
    expect(posted()).toBeLessThan(30);

    // A new instance on the same database takes over the queue once the dead worker's leases expire.
    const pp = new PocketPing({
      storage: new PostgresStorage({ url: pgService.url!, schema }),
      bridges: [
        new TelegramBridge({
          token: fake.token,
          chatId: String(fake.chat.id),
          apiRoot: fake.apiRoot,
          updates: 'webhook',
          rateLimit: false,
        }),
      ],
      delivery: { baseDelayMs: 50, maxDelayMs: 300, leaseMs: 1500, pollMs: 50 },
      logger: silentLogger,
    });
    cleanups.push(() => pp.close());
    await pp.init();
    await until(() => posted() === 30, 30_000, 'all 30 messages');
    await pp.flushDeliveries();

    for (const [i, sessionId] of sessions.entries()) {
      const session = await pp.getSession(sessionId);
      const topic = session!.bridgeThreads!.telegram!;
      const texts = fake
        .topicMessages(topic)
        .map((m) => m.visible)
        .filter((t) => /^s\d m\d+$/.test(t));
      expect(texts).toEqual(Array.from({ length: 10 }, (_, n) => `s${i} m${n}`));
      const stored = await pp.getMessages(sessionId);
      expect(stored.every((m) => m.bridgeMessageIds?.telegram && m.status === 'delivered')).toBe(true);
    }
    expect(fake.callsOf('createForumTopic').length).toBeGreaterThanOrEqual(3);
    expect(new Set(fake.topics.keys()).size).toBe(3);
    expect(await pp.deadLetters()).toEqual([]);
  }, 90_000);
});
