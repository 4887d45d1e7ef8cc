import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS, migrate, PostgresStorage } from '../src/index.js';
import { adminPool, closeAdmin, dropSchema, pgService, randomSchema } from './helpers.js';

const latest = Math.max(...MIGRATIONS.map((m) => m.version));

describe.skipIf(pgService.skip)('PostgresStorage migrations', () => {
  const schemas: string[] = [];
  const storages: PostgresStorage[] = [];
  const fresh = (schema: string) => {
    const s = new PostgresStorage({ url: pgService.url!, schema, poolSize: 2 });
    storages.push(s);
    return s;
  };
  const newSchema = () => {
    const schema = randomSchema();
    schemas.push(schema);
    return schema;
  };

  afterEach(async () => {
    for (const s of storages.splice(0)) await s.close();
    for (const schema of schemas.splice(0)) await dropSchema(schema);
  });
  afterAll(closeAdmin);

  async function recorded(schema: string): Promise<number[]> {
    const { rows } = await adminPool().query<{ version: number }>(
      `SELECT version FROM "${schema}".schema_migrations ORDER BY version`,
    );
    return rows.map((r) => r.version);
  }

  it('init on an empty database creates the schema, every table and records each version once', async () => {
    const schema = newSchema();
    const s = fresh(schema);
    const result = await s.migrate();
    expect(result).toEqual({ applied: MIGRATIONS.map((m) => m.version), version: latest });
    const { rows } = await adminPool().query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [schema],
    );
    expect(rows.map((r) => r.table_name)).toEqual([
      'attachments',
      'bridge_messages',
      'bridge_threads',
      'bus_payloads',
      'leases',
      'messages',
      'outbox',
      'schema_migrations',
      'sessions',
    ]);
    expect(await recorded(schema)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it('running the migrations again applies nothing and keeps the data', async () => {
    const schema = newSchema();
    const s = fresh(schema);
    await s.init();
    const now = new Date();
    await s.createSession({
      id: 'ses_keep',
      visitorId: 'v1',
      createdAt: now,
      lastActivity: now,
      status: 'open',
      metadata: {},
    });
    expect(await s.migrate()).toEqual({ applied: [], version: latest });
    expect(await migrate({ url: pgService.url!, schema })).toEqual({ applied: [], version: latest });
    expect((await s.getSession('ses_keep'))?.visitorId).toBe('v1');
    expect(await recorded(schema)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it('three instances starting at once on a fresh schema all succeed and migrate once', async () => {
    const schema = newSchema();
    const results = await Promise.all([fresh(schema), fresh(schema), fresh(schema)].map((s) => s.migrate()));
    const applied = results.flatMap((r) => r.applied);
    expect(applied.sort()).toEqual(MIGRATIONS.map((m) => m.version).sort());
    expect(results.filter((r) => r.applied.length > 0)).toHaveLength(1);
    expect(await recorded(schema)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it('two table prefixes in one schema keep separate tables', async () => {
    const schema = newSchema();
    const a = new PostgresStorage({ url: pgService.url!, schema, tablePrefix: 'a_', poolSize: 1 });
    const b = new PostgresStorage({ url: pgService.url!, schema, tablePrefix: 'b_', poolSize: 1 });
    storages.push(a, b);
    await Promise.all([a.init(), b.init()]);
    const now = new Date();
    await a.createSession({
      id: 'ses_a',
      visitorId: 'v',
      createdAt: now,
      lastActivity: now,
      status: 'open',
      metadata: {},
    });
    expect(await a.getSession('ses_a')).toBeTruthy();
    expect(await b.getSession('ses_a')).toBeNull();
  });

  it('a column added by a later migration does not break statements prepared on open connections', async () => {
    const schema = newSchema();
    const s = new PostgresStorage({ url: pgService.url!, schema, poolSize: 1 });
    storages.push(s);
    await s.init();
    const now = new Date();
    await s.createSession({
      id: 'ses_prep',
      visitorId: 'v',
      createdAt: now,
      lastActivity: now,
      status: 'open',
      metadata: {},
    });
    expect(await s.getSession('ses_prep')).toBeTruthy();
    await adminPool().query(`ALTER TABLE "${schema}".sessions ADD COLUMN future_field text`);
    await adminPool().query(`ALTER TABLE "${schema}".messages ADD COLUMN future_field text`);
    expect((await s.getSession('ses_prep'))?.id).toBe('ses_prep');
    expect(await s.getMessages('ses_prep', { limit: 10 })).toEqual([]);
  });

  it('the indexes behind history paging, the after delta and every lookup exist', async () => {
    const schema = newSchema();
    await fresh(schema).init();
    const { rows } = await adminPool().query<{ indexdef: string }>(
      'SELECT indexdef FROM pg_indexes WHERE schemaname = $1',
      [schema],
    );
    const defs = rows.map((r) => r.indexdef.replace(/"/g, ''));
    const expected = [
      /messages USING btree \(session_id, created_at, id\)/,
      /messages USING btree \(session_id, updated_at\)/,
      /sessions USING btree \(visitor_id, created_at DESC\)/,
      /sessions USING btree \(last_activity DESC, id\)/,
      /UNIQUE INDEX .* ON .*bridge_threads USING btree \(bridge, thread_id\)/,
      /UNIQUE INDEX .* ON .*bridge_messages USING btree \(bridge, platform_message_id\)/,
    ];
    for (const re of expected)
      expect(
        defs.some((d) => re.test(d)),
        String(re),
      ).toBe(true);
  });
});
