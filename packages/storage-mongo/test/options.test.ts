import { silentLogger, ValidationError } from '@pocketping/core';
import { MongoClient } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { createStorageFromConfig, MongoStorage } from '../src/index.js';

const env = { prefix: '/pocketping', logger: silentLogger };

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('MongoStorage options', () => {
  it('accepts a URL, a client or an options object, without connecting', async () => {
    // Nothing listens on port 1: a constructor that connected would fail or hang.
    const fromUrl = new MongoStorage('mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=100');
    const client = new MongoClient('mongodb://127.0.0.1:1');
    const fromClient = new MongoStorage(client);
    const fromOptions = new MongoStorage({ client, database: 'support', collectionPrefix: '' });
    for (const s of [fromUrl, fromClient, fromOptions]) expect(s).toBeInstanceOf(MongoStorage);
    await Promise.all([fromUrl.close(), fromClient.close(), fromOptions.close()]);
    await client.close();
  });

  it.each([
    [{}, 'url: give either url or client'],
    [{ url: 'mongodb://h', client: new MongoClient('mongodb://h') }, 'client: give either url or client, not both'],
    [{ url: 'postgres://h/db' }, 'url: expected a connection string'],
    [{ url: 'mongodb://h', database: 'a.b' }, 'database: expected a MongoDB database name'],
    [{ url: 'mongodb://h', collectionPrefix: 'bad$' }, 'collectionPrefix: expected up to 64 characters'],
    [{ url: 'mongodb://h', collectionPrefix: 'system.x' }, 'collectionPrefix: must not start with "system."'],
    [{ url: 'mongodb://h', databse: 'typo' }, 'databse: unknown option'],
  ])('rejects invalid options %o naming the key', (options, expected) => {
    const err = thrown(() => new MongoStorage(options as never));
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).code).toBe('CONFIG_INVALID');
    expect((err as Error).message).toContain('@pocketping/storage-mongo');
    expect((err as Error).message).toContain(expected);
  });

  it('rejects a connection string the driver cannot parse, as a ValidationError on url', () => {
    const err = thrown(() => new MongoStorage('mongodb://127.0.0.1:27017/?notAnOption=1&w=banana'));
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toContain('url: not a usable MongoDB connection string');
  });
});

describe('createStorageFromConfig', () => {
  it('builds a MongoStorage from the storage block of config.yaml', async () => {
    const { storage } = createStorageFromConfig(
      { url: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=100', database: 'support', collectionPrefix: 'pp_' },
      env,
    );
    expect(storage).toBeInstanceOf(MongoStorage);
    await storage.close?.();
  });

  it.each([
    [{}, 'storage.url'],
    [{ url: 42 }, 'storage.url'],
    [{ url: 'mongodb://h', database: '' }, 'storage.database'],
    [{ url: 'mongodb://h', prefix: 'pp_' }, 'storage.prefix: unknown option'],
  ])('rejects %o with a ValidationError naming %s', (options, key) => {
    const err = thrown(() => createStorageFromConfig(options, env));
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toContain(key);
  });
});
