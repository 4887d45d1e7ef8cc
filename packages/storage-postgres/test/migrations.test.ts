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

  it('touches and messages within a minute are HOT updates (no index writes)', async () => {
    const schema = newSchema();
    const s = fresh(schema);
    await s.init();
    const minute = Date.UTC(2026, 10, 27, 12, 0, 0);
    const session = {
      id: 'ses_hot0000000000000000000001',
      visitorId: 'v-hot',
      createdAt: new Date(minute),
      lastActivity: new Date(minute),
      status: 'open' as const,
      metadata: { url: 'https://a.example/' },
    };
    await s.createSession(session);
    for (let i = 1; i <= 20; i++) {
      await s.touchSession(session.id, session.visitorId, {
        lastActivity: new Date(minute + i * 1000),
        metadata: { url: `https://a.example/${i}` },
        keepKeys: [],
      });
      const at = new Date(minute + i * 1000 + 500);
      const message = {
        id: `msg_hot${String(i).padStart(21, '0')}`,
        sessionId: session.id,
        content: `m${i}`,
        sender: 'visitor' as const,
        timestamp: at,
        updatedAt: at,
        status: 'sent' as const,
      };
      await s.saveMessageWithSession(message, { lastActivity: at, hasVisitorMessage: true, status: 'open' });
    }
    // A backend's statistics reach the shared counters when it ends (or a while after it idles).
    await s.close();
    const deadline = Date.now() + 15_000;
    let counts = { upd: 0, hot: 0 };
    while (Date.now() < deadline) {
      await adminPool().query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await adminPool().query<{ upd: string; hot: string }>(
        'SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2',
        [schema, 'sessions'],
      );
      counts = { upd: Number(rows[0]?.upd ?? 0), hot: Number(rows[0]?.hot ?? 0) };
      if (counts.upd >= 40) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(counts.upd).toBe(40);
    // Page pruning may lag behind once or twice; without migration 6 none of them is HOT.
    expect(counts.hot).toBeGreaterThanOrEqual(36);
  });

  it('lists sessions in exact activity order across and within minutes, with every bound', async () => {
    const schema = newSchema();
    const s = fresh(schema);
    await s.init();
    const base = Date.UTC(2026, 10, 27, 12, 0, 0);
    const sessions = Array.from({ length: 40 }, (_, i) => ({
      id: `ses_order${String(i).padStart(19, '0')}`,
      visitorId: `v-${i}`,
      createdAt: new Date(base),
      // Spread over three minutes, with ties (equal times break by id).
      lastActivity: new Date(base + Math.floor((i * 7919) % 180) * 1000 + (i % 3 === 0 ? 0 : 250)),
      status: (i % 4 === 0 ? 'closed' : 'open') as 'open' | 'closed',
      metadata: {},
    }));
    for (const x of sessions) await s.createSession(x);
    const order = (list: typeof sessions) =>
      [...list]
        .sort((a, b) => b.lastActivity.getTime() - a.lastActivity.getTime() || (a.id < b.id ? -1 : 1))
        .map((x) => x.id);
    const ids = async (q: Parameters<PostgresStorage['listSessions']>[0]) => (await s.listSessions(q)).map((x) => x.id);
    expect(await ids({})).toEqual(order(sessions));
    const cut = new Date(base + 60_250);
    expect(await ids({ before: cut })).toEqual(order(sessions.filter((x) => x.lastActivity < cut)));
    expect(await ids({ since: cut })).toEqual(order(sessions.filter((x) => x.lastActivity >= cut)));
    expect(await ids({ status: 'closed', since: new Date(base + 30_000), limit: 5 })).toEqual(
      order(sessions.filter((x) => x.status === 'closed' && x.lastActivity.getTime() >= base + 30_000)).slice(0, 5),
    );
    expect(await ids({ limit: 7 })).toEqual(order(sessions).slice(0, 7));
    expect(await s.cleanupOldSessions(cut)).toBe(sessions.filter((x) => x.lastActivity < cut).length);
    expect(await ids({})).toEqual(order(sessions.filter((x) => x.lastActivity >= cut)));
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
      /sessions USING btree \(activity_minute DESC\)/,
      /sessions USING btree \(status, activity_minute DESC\)/,
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
