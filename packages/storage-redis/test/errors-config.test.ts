import { makeMessage, makeSession } from '@pocketping/conformance';
import { SetupError, StorageError, silentLogger, ValidationError } from '@pocketping/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createStorageFromConfig, RedisEventBus, RedisStorage } from '../src/index.js';
import { closeAdmin, deletePrefix, keysUnder, randomPrefix, redisService } from './helpers.js';

const env = { prefix: '/pocketping', logger: silentLogger };
// Nothing listens on port 1: connections are refused at once.
const deadUrl = 'redis://:secret@127.0.0.1:1/0';

describe('RedisStorage options and config', () => {
  it('a missing url in the YAML config names the key and the fix', () => {
    expect(() => createStorageFromConfig({}, env)).toThrow(ValidationError);
    expect(() => createStorageFromConfig({}, env)).toThrow('storage.url is required: a redis:// URL');
  });

  it('a bad url, ttlDays or unknown key is named', () => {
    expect(() => createStorageFromConfig({ url: 'http://x' }, env)).toThrow('storage.url must be a redis://');
    expect(() => createStorageFromConfig({ url: 'redis://x', ttlDays: 0 }, env)).toThrow(/storage\.ttlDays/);
    expect(() => createStorageFromConfig({ url: 'redis://x', key_prefix: 'a' }, env)).toThrow(/key_prefix/);
  });

  it('the config gives a storage and an event bus sharing one client, without connecting', async () => {
    const { storage, eventBus } = createStorageFromConfig({ url: deadUrl, keyPrefix: 'chat:', ttlDays: 30 }, env);
    expect(storage).toBeInstanceOf(RedisStorage);
    expect(eventBus).toBeInstanceOf(RedisEventBus);
    expect((storage as RedisStorage).settings).toMatchObject({ keyPrefix: 'chat:', ttlDays: 30 });
    expect((eventBus as RedisEventBus).channel).toBe('chat:events');
    expect((storage as RedisStorage).client.status).toBe('wait');
    await eventBus.close?.();
    await storage.close?.();
  });

  it('the constructor rejects both url and client, or neither', () => {
    const client = new Redis(deadUrl, { lazyConnect: true });
    expect(() => new RedisStorage({ url: deadUrl, client })).toThrow(/either url .* or client/);
    expect(() => new RedisStorage({})).toThrow(ValidationError);
    client.disconnect();
  });
});

describe('RedisStorage errors', () => {
  it('init against an unreachable server throws a SetupError with a guide, without the password', async () => {
    const storage = new RedisStorage(deadUrl);
    const err = await storage.init().catch((e: unknown) => e);
    await storage.close();
    expect(err).toBeInstanceOf(SetupError);
    const guide = (err as SetupError).formattedGuide();
    expect(guide).toContain('Redis setup required');
    expect(guide).toContain('ECONNREFUSED');
    expect(guide).toContain('Start Redis');
    expect(guide).not.toContain('secret');
  });

  it('the event bus against an unreachable server throws a SetupError too', async () => {
    const bus = new RedisEventBus(deadUrl);
    const err = await bus.init().catch((e: unknown) => e);
    await bus.close();
    expect(err).toBeInstanceOf(SetupError);
  });

  it('a command against an unreachable server rejects with a StorageError naming the package', async () => {
    const storage = new RedisStorage(deadUrl);
    const [err, scriptErr, alive] = await Promise.all([
      storage.getSession('ses_x').catch((e: unknown) => e),
      storage.saveMessage(makeMessage('ses_x')).catch((e: unknown) => e),
      storage.ping(),
    ]);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).message).toMatch(/^@pocketping\/storage-redis: getSession failed/);
    expect(scriptErr).toBeInstanceOf(StorageError);
    expect(alive).toBe(false);
    await storage.close();
  });
});

describe.skipIf(redisService.skip)('RedisStorage with a given client', () => {
  afterAll(closeAdmin);

  it('keeps every key, including those written by scripts, under the client keyPrefix and ours', async () => {
    const ours = randomPrefix();
    const client = new Redis(redisService.url!, { keyPrefix: 'app:' });
    const storage = new RedisStorage({ client, keyPrefix: ours });
    await storage.init();
    const session = makeSession();
    await storage.createSession(session);
    const m = makeMessage(session.id);
    await storage.saveMessage(m);
    await storage.setBridgeThread(session.id, 'slack', '1700000000.000100');
    await storage.saveBridgeMessageId(m.id, 'slack', '1700000000.000200');
    expect((await storage.findSessionByBridgeThread('slack', '1700000000.000100'))?.id).toBe(session.id);
    expect((await storage.findMessageByBridgeId('slack', '1700000000.000200'))?.id).toBe(m.id);
    const keys = await keysUnder(`app:${ours}`);
    expect(keys.length).toBeGreaterThanOrEqual(8);
    expect(await keysUnder(ours)).toEqual([]);
    await storage.close();
    await storage.close();
    // The given client is left open.
    expect(await client.ping()).toBe('PONG');
    await client.quit();
    await deletePrefix(`app:${ours}`);
  });

  it('a call after close rejects with a StorageError', async () => {
    const storage = new RedisStorage({ url: redisService.url!, keyPrefix: randomPrefix() });
    await storage.init();
    await storage.close();
    await expect(storage.getSession('ses_x')).rejects.toBeInstanceOf(StorageError);
    await expect(storage.saveMessage(makeMessage('ses_x'))).rejects.toBeInstanceOf(StorageError);
  });

  it('scripts are loaded again after Redis forgets them (SCRIPT FLUSH)', async () => {
    const keyPrefix = randomPrefix();
    const storage = new RedisStorage({ url: redisService.url!, keyPrefix });
    await storage.init();
    const session = makeSession();
    await storage.createSession(session);
    await storage.client.script('FLUSH');
    expect((await storage.updateSession(session.id, { status: 'closed' }))?.status).toBe('closed');
    await storage.close();
    await deletePrefix(keyPrefix);
  });
});
