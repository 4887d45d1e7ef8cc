import { makeMessage, makeSession } from '@pocketping/conformance';
import type { Message } from '@pocketping/core';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS, PostgresStorage } from '../src/index.js';
import { tableNames } from '../src/names.js';
import { adminPool, closeAdmin, dropSchema, pgService, randomSchema } from './helpers.js';

describe.skipIf(pgService.skip)('PostgresStorage sequence numbers', () => {
  const schemas: string[] = [];
  const storages: PostgresStorage[] = [];
  const open = async (schema: string, poolSize = 4) => {
    const s = new PostgresStorage({ url: pgService.url!, schema, poolSize });
    storages.push(s);
    await s.init();
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

  it('upgrading a database with messages numbers them per session in the order they changed', async () => {
    const schema = newSchema();
    const t = tableNames(schema, '');
    const db = adminPool();
    // The schema as it was before sequence numbers (every migration up to version 4).
    await db.query(`CREATE SCHEMA ${t.qschema}`);
    await db.query(
      `CREATE TABLE ${t.migrations} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    for (const m of MIGRATIONS.filter((m) => m.version <= 4)) {
      for (const sql of m.statements(t)) await db.query(sql);
      await db.query(`INSERT INTO ${t.migrations} (version, name) VALUES ($1, $2)`, [m.version, m.name]);
    }
    const base = Date.UTC(2026, 0, 1);
    const at = (s: number) => new Date(base + s * 1000);
    for (const id of ['ses_old_a', 'ses_old_b', 'ses_old_empty']) {
      await db.query(
        `INSERT INTO ${t.sessions} (id, visitor_id, created_at, last_activity, status) VALUES ($1, 'v', $2, $2, 'open')`,
        [id, at(0)],
      );
    }
    // [id, session, created, updated]: msg_a1 was edited last, so it is numbered last.
    const rows: [string, string, number, number][] = [
      ['msg_a1', 'ses_old_a', 1, 9],
      ['msg_a2', 'ses_old_a', 2, 2],
      ['msg_a3', 'ses_old_a', 3, 3],
      ['msg_b1', 'ses_old_b', 1, 1],
    ];
    for (const [id, session, created, updated] of rows) {
      await db.query(
        `INSERT INTO ${t.messages} (id, session_id, content, sender, created_at, updated_at, status)
         VALUES ($1, $2, 'old', 'visitor', $3, $4, 'sent')`,
        [id, session, at(created), at(updated)],
      );
    }

    const s = await open(schema);
    expect((await s.getSession('ses_old_a'))?.seq).toBe(3);
    expect((await s.getSession('ses_old_b'))?.seq).toBe(1);
    expect((await s.getSession('ses_old_empty'))?.seq).toBe(0);
    expect((await s.getMessages('ses_old_a')).map((m) => [m.id, m.seq])).toEqual([
      ['msg_a1', 3],
      ['msg_a2', 1],
      ['msg_a3', 2],
    ]);
    expect((await s.getMessages('ses_old_a', { afterSeq: 1 })).map((m) => m.id)).toEqual(['msg_a1', 'msg_a3']);
    const next = await s.saveMessage(makeMessage('ses_old_a'));
    expect(next.seq).toBe(4);
    const { rows: index } = await db.query<{ indexdef: string }>(
      'SELECT indexdef FROM pg_indexes WHERE schemaname = $1',
      [schema],
    );
    expect(index.map((r) => r.indexdef.replace(/"/g, ''))).toContainEqual(
      expect.stringMatching(/messages USING btree \(session_id, seq\)/),
    );
  });

  it('a message of an unknown session is stored without a seq, and saving a session again keeps its seq', async () => {
    const s = await open(newSchema());
    const orphan = await s.saveMessage(makeMessage('ses_nobody'));
    expect(orphan.seq).toBeUndefined();
    expect((await s.getMessages('ses_nobody')).map((m) => [m.id, m.seq])).toEqual([[orphan.id, undefined]]);
    expect((await s.updateMessage(orphan.id, { status: 'read' }))?.seq).toBeUndefined();

    const session = makeSession();
    await s.createSession(session);
    await s.saveMessage(makeMessage(session.id));
    await s.saveMessage(makeMessage(session.id));
    // An upsert of the session (same id) never resets the counter, even when given a seq.
    await s.createSession({ ...session, status: 'closed', seq: 0 });
    const again = await s.getSession(session.id);
    expect(again).toMatchObject({ status: 'closed', seq: 2 });
    expect((await s.saveMessage(makeMessage(session.id))).seq).toBe(3);
  });

  it('bulk-saved messages take the next numbers of their sessions, in the order they changed', async () => {
    const s = await open(newSchema());
    const a = makeSession();
    const b = makeSession();
    await s.createSession(a);
    await s.createSession(b);
    const first = await s.saveMessage(makeMessage(a.id));
    const base = Date.now();
    const bulk: Message[] = [
      makeMessage(a.id, { timestamp: new Date(base + 2000), updatedAt: new Date(base + 2000) }),
      makeMessage(b.id, { timestamp: new Date(base + 1000), updatedAt: new Date(base + 1000) }),
      makeMessage(a.id, { timestamp: new Date(base + 1000), updatedAt: new Date(base + 1000) }),
    ];
    await s.saveMessages(bulk);
    expect((await s.getSession(a.id))?.seq).toBe(3);
    expect((await s.getSession(b.id))?.seq).toBe(1);
    expect((await s.getMessages(a.id, { afterSeq: first.seq! })).map((m) => [m.id, m.seq])).toEqual([
      [bulk[2]!.id, 2],
      [bulk[0]!.id, 3],
    ]);
  });

  it('a reader following afterSeq misses nothing while writers on several pools save (with and without a session patch) and edit', async () => {
    const schema = newSchema();
    const writers = await Promise.all([open(schema), open(schema), open(schema)]);
    const reader = await open(schema, 1);
    const session = makeSession();
    await writers[0]!.createSession(session);

    const seen = new Map<string, Message>();
    let cursor = 0;
    let reads = 0;
    const readOnce = async () => {
      const page = await reader.getMessages(session.id, { afterSeq: cursor });
      reads++;
      for (const m of page) {
        expect(m.seq).toBeGreaterThan(cursor);
        seen.set(m.id, m);
      }
      for (const m of page) cursor = Math.max(cursor, m.seq!);
    };
    let writing = true;
    const follow = (async () => {
      while (writing) await readOnce();
    })();
    const write = async (s: PostgresStorage, w: number) => {
      const mine: string[] = [];
      for (let i = 0; i < 40; i++) {
        const message = makeMessage(session.id, { content: `w${w} m${i}` });
        // Half the writes take the one-statement path of the message routes.
        const saved =
          i % 2 === 0
            ? await s.saveMessage(message)
            : (await s.saveMessageWithSession(message, { lastActivity: new Date() }))!.message;
        mine.push(saved.id);
        if (i % 4 === 3) {
          await s.updateMessage(mine[i - 2]!, { content: `w${w} m${i - 2} edited`, updatedAt: new Date() });
        }
      }
    };
    await Promise.all(writers.flatMap((s, w) => [write(s, w * 2), write(s, w * 2 + 1)]));
    writing = false;
    await follow;
    await readOnce();

    const all = await reader.getMessages(session.id);
    expect(all).toHaveLength(240);
    expect(reads).toBeGreaterThan(3);
    // The reader's view, built only from afterSeq reads, is exactly the stored state.
    const view = all.map((m) => [m.id, seen.get(m.id)?.seq, seen.get(m.id)?.content]);
    expect(view).toEqual(all.map((m) => [m.id, m.seq, m.content]));
    expect(new Set(all.map((m) => m.seq)).size).toBe(240);
    expect((await reader.getSession(session.id))?.seq).toBe(240 + 60);
  });
});
