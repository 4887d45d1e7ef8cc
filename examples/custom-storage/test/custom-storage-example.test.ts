import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RunningExample, start } from '../src/app.js';
import { JsonFileStorage } from '../src/json-file-storage.js';
import { connect, openSocket, PAGE_ORIGIN, preflight, sendMessage, type WidgetSocket } from './widget.js';

let dir: string;
let server: RunningExample | undefined;
let socket: WidgetSocket | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pp-custom-storage-'));
});

afterEach(async () => {
  await socket?.close();
  await server?.close();
  socket = undefined;
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function startExample(): Promise<{ server: RunningExample; base: string }> {
  server = await start({ host: '127.0.0.1', port: 0, logger: false, dataFile: join(dir, 'chat.jsonl') });
  return { server, base: `${server.url}/pocketping` };
}

describe('custom-storage example', () => {
  it('answers the CORS preflight the browser sends before the widget connects', async () => {
    const { base } = await startExample();
    const res = await preflight(base);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(PAGE_ORIGIN);
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-pocketping-version');
  });

  it('a visitor connects, sends a message, sees the echo and the operator reply over the WebSocket', async () => {
    const { server, base } = await startExample();
    const { sessionId } = await connect(base);
    socket = await openSocket(base, sessionId);

    const { messageId } = await sendMessage(base, sessionId, 'Do you ship to Canada?');
    const echo = await socket.next((e) => e.type === 'message' && e.data.id === messageId);
    expect(echo.data).toMatchObject({ sender: 'visitor', content: 'Do you ship to Canada?' });

    const reply = await server.pocketping.sendMessage(sessionId, { content: 'Yes, in 5 days.', operatorName: 'Ana' });
    const pushed = await socket.next((e) => e.type === 'message' && e.data.id === reply.id);
    expect(pushed.data).toMatchObject({ sender: 'operator', content: 'Yes, in 5 days.' });
  });

  it('the conversation is still there after a restart, read back from the JSON file', async () => {
    const first = await startExample();
    const { sessionId, visitorId } = await connect(first.base);
    await sendMessage(first.base, sessionId, 'Do you ship to Canada?');
    await first.server.pocketping.sendMessage(sessionId, { content: 'Yes, in 5 days.' });
    await first.server.close();

    const second = await startExample();
    const resumed = await connect(second.base, { visitorId, sessionId });
    expect(resumed.sessionId).toBe(sessionId);
    expect(resumed.messages.map((m) => [m.sender, m.content])).toEqual([
      ['visitor', 'Do you ship to Canada?'],
      ['operator', 'Yes, in 5 days.'],
    ]);
  });
});

describe('JsonFileStorage', () => {
  it('dates written to the file read back as the same instants', async () => {
    const file = join(dir, 'dates.jsonl');
    const storage = new JsonFileStorage({ file });
    await storage.init();
    const createdAt = new Date('2026-01-02T03:04:05.678Z');
    await storage.createSession({
      id: 'ses_dates',
      visitorId: 'v-1',
      createdAt,
      lastActivity: createdAt,
      status: 'open',
      metadata: {},
    } as Parameters<JsonFileStorage['createSession']>[0]);
    await storage.close();

    const reopened = new JsonFileStorage({ file });
    await reopened.init();
    const session = await reopened.getSession('ses_dates');
    expect(session?.createdAt).toBeInstanceOf(Date);
    expect(session?.createdAt.getTime()).toBe(createdAt.getTime());
    await reopened.close();
    const [line] = (await readFile(file, 'utf8')).trim().split('\n');
    expect(JSON.parse(line!).session.createdAt).toEqual({ $date: createdAt.toISOString() });
  });

  it('a damaged line stops the start with an error that names the file and the line', async () => {
    const file = join(dir, 'broken.jsonl');
    await writeFile(file, '{"session":{"id":"ses_a"\n{"session":{"id":"ses_b","visitorId":"v"}}\n');
    const storage = new JsonFileStorage({ file });
    await expect(storage.init()).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
      message: expect.stringMatching(/broken\.jsonl line 1 is not valid JSON/),
    });
  });

  it('a half-written last line (a crash during a write) is dropped and the rest is kept', async () => {
    const file = join(dir, 'torn.jsonl');
    const storage = new JsonFileStorage({ file });
    await storage.init();
    const at = new Date('2026-01-02T03:04:05.678Z');
    const session = { id: 'ses_kept', visitorId: 'v-1', createdAt: at, lastActivity: at, status: 'open', metadata: {} };
    await storage.createSession(session as Parameters<JsonFileStorage['createSession']>[0]);
    await storage.close();
    await writeFile(file, `${await readFile(file, 'utf8')}{"message":{"id":"msg_torn","sess`);

    const reopened = new JsonFileStorage({ file });
    await reopened.init();
    expect((await reopened.getSession('ses_kept'))?.visitorId).toBe('v-1');
    expect(await reopened.getMessage('msg_torn')).toBeNull();
    await reopened.close();
  });
});
