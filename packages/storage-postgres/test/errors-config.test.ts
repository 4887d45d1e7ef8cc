import { SetupError, StorageError, silentLogger, ValidationError } from '@pocketping/core';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createStorageFromConfig, migrateFromConfig, PostgresEventBus, PostgresStorage } from '../src/index.js';
import { closeAdmin, dropSchema, pgService, randomSchema } from './helpers.js';

const env = { prefix: '/pocketping', logger: silentLogger };
// Nothing listens on port 1: connections are refused at once.
const deadUrl = 'postgres://postgres:secret@127.0.0.1:1/pocketping';

describe('PostgresStorage options and config', () => {
  it('a missing url in the YAML config names the key and the fix', () => {
    expect(() => createStorageFromConfig({}, env)).toThrow(ValidationError);
    expect(() => createStorageFromConfig({}, env)).toThrow('storage.url is required: a postgres:// URL');
  });

  it('a url that is not a postgres URL is rejected', () => {
    expect(() => createStorageFromConfig({ url: 'mysql://x' }, env)).toThrow(
      'storage.url must be a postgres:// or postgresql:// URL',
    );
  });

  it('an unknown key and a bad poolSize are named', () => {
    expect(() => createStorageFromConfig({ url: 'postgres://x/db', pool_size: 3 }, env)).toThrow(/pool_size/);
    expect(() => createStorageFromConfig({ url: 'postgres://x/db', poolSize: 0 }, env)).toThrow(/storage\.poolSize/);
    expect(() => createStorageFromConfig({ url: 'postgres://x/db', schema: 'no-dashes' }, env)).toThrow(
      /storage\.schema/,
    );
  });

  it('the config gives a storage and an event bus sharing one pool, without connecting', async () => {
    const { storage, eventBus } = createStorageFromConfig({ url: deadUrl, schema: 'chat', poolSize: 3 }, env);
    expect(storage).toBeInstanceOf(PostgresStorage);
    expect(eventBus).toBeInstanceOf(PostgresEventBus);
    expect((storage as PostgresStorage).settings).toMatchObject({ schema: 'chat', poolSize: 3 });
    expect((eventBus as PostgresEventBus).channel).toBe('pocketping.chat.events');
    await eventBus.close?.();
    await storage.close?.();
  });

  it('the constructor rejects both url and pool, or neither', () => {
    const pool = new pg.Pool({ connectionString: deadUrl });
    expect(() => new PostgresStorage({ url: deadUrl, pool })).toThrow(/either url .* or pool/);
    expect(() => new PostgresStorage({})).toThrow(ValidationError);
    return pool.end();
  });
});

describe('PostgresStorage errors', () => {
  it('init against an unreachable server throws a SetupError with a guide, without the password', async () => {
    const storage = new PostgresStorage(deadUrl);
    const err = await storage.init().catch((e: unknown) => e);
    await storage.close();
    expect(err).toBeInstanceOf(SetupError);
    const guide = (err as SetupError).formattedGuide();
    expect(guide).toContain('PostgreSQL setup required');
    expect(guide).toContain('Start PostgreSQL');
    expect(guide).toContain('127.0.0.1:1');
    expect(guide).not.toContain('secret');
    expect((err as SetupError).code).toBe('STORAGE_UNAVAILABLE');
  });

  it('a query against an unreachable server rejects with a StorageError naming the package', async () => {
    const storage = new PostgresStorage(deadUrl);
    const err = await storage.getSession('ses_x').catch((e: unknown) => e);
    await storage.close();
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).message).toMatch(/^@pocketping\/storage-postgres: getSession failed/);
    expect((err as StorageError).cause).toBeDefined();
    expect(await storage.ping()).toBe(false);
  });

  it.skipIf(pgService.skip)(
    'a database error is wrapped in a StorageError with the driver error as cause',
    async () => {
      const schema = randomSchema();
      const storage = new PostgresStorage({ url: pgService.url!, schema, poolSize: 1 });
      // Not initialized: the tables do not exist yet.
      const err = await storage.getMessages('ses_x').catch((e: unknown) => e);
      await storage.close();
      expect(err).toBeInstanceOf(StorageError);
      expect(((err as StorageError).cause as { code?: string }).code).toBe('42P01');
    },
  );

  it.skipIf(pgService.skip)('a call after close rejects with a StorageError', async () => {
    const schema = randomSchema();
    const storage = new PostgresStorage({ url: pgService.url!, schema, poolSize: 1 });
    await storage.init();
    await storage.close();
    await expect(storage.getSession('ses_x')).rejects.toBeInstanceOf(StorageError);
    await dropSchema(schema);
  });

  it.skipIf(pgService.skip)('migrateFromConfig applies the migrations of a YAML storage section', async () => {
    const schema = randomSchema();
    try {
      const first = await migrateFromConfig({ url: pgService.url!, schema });
      expect(first.applied.length).toBeGreaterThan(0);
      expect((await migrateFromConfig({ url: pgService.url!, schema })).applied).toEqual([]);
    } finally {
      await dropSchema(schema);
    }
  });

  it.skipIf(pgService.skip)('a storage given a pool leaves it open on close, and close twice is safe', async () => {
    const schema = randomSchema();
    const pool = new pg.Pool({ connectionString: pgService.url!, max: 2 });
    const storage = new PostgresStorage(pool);
    expect(storage.settings.schema).toBe('pocketping');
    const own = new PostgresStorage({ pool, schema });
    await own.init();
    await own.close();
    await own.close();
    await storage.close();
    expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    await pool.end();
    await dropSchema(schema);
  });

  afterAll(closeAdmin);
});
