import {
  BridgeError,
  ERROR_STATUS,
  EXPOSED_HEADERS,
  isPocketPingError,
  PocketPingError,
  type PocketPingErrorCode,
  SetupError,
  StorageError,
  toHttpError,
  ValidationError,
  WIDGET_ROUTES,
} from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { CTX, harness, newSession, sendVisitor } from './helpers.js';

/** The status each code must map to (PROTOCOL.md §1.3 and §3). */
const INTENDED: Record<PocketPingErrorCode, number> = {
  CONFIG_INVALID: 500,
  SETUP_INVALID: 500,
  VALIDATION_FAILED: 400,
  REQUEST_INVALID_JSON: 400,
  REQUEST_TOO_LARGE: 413,
  SESSION_NOT_FOUND: 404,
  SESSION_CLOSED: 409,
  MESSAGE_NOT_FOUND: 404,
  MESSAGE_FORBIDDEN: 403,
  MESSAGE_DELETED: 409,
  MESSAGE_TOO_LONG: 400,
  MESSAGE_EMPTY: 400,
  ATTACHMENT_NOT_FOUND: 404,
  ATTACHMENT_NOT_READY: 409,
  ATTACHMENT_TOO_LARGE: 413,
  ATTACHMENT_TYPE_NOT_ALLOWED: 415,
  ATTACHMENT_UPLOAD_EXPIRED: 410,
  ATTACHMENTS_UNAVAILABLE: 501,
  SCREENSHOT_REQUEST_NOT_FOUND: 404,
  CSAT_INVALID: 400,
  WIDGET_VERSION_UNSUPPORTED: 426,
  AUTH_REQUIRED: 401,
  AUTH_INVALID: 401,
  ACCESS_FORBIDDEN: 403,
  NOT_FOUND: 404,
  RATE_LIMITED: 429,
  STORAGE_NOT_SUPPORTED: 501,
  STORAGE_UNAVAILABLE: 503,
  STORAGE_CONFLICT: 409,
  BRIDGE_UNAVAILABLE: 502,
  BRIDGE_RATE_LIMITED: 503,
  BRIDGE_REJECTED: 502,
  BRIDGE_NOT_SUPPORTED: 501,
  WEBHOOK_UNAUTHORIZED: 401,
  WEBSOCKET_UNAVAILABLE: 426,
  INTERNAL: 500,
};

describe('toHttpError', () => {
  it('maps every code to its intended status with an { error, message } body', () => {
    expect(Object.keys(ERROR_STATUS).sort()).toEqual(Object.keys(INTENDED).sort());
    for (const [code, status] of Object.entries(INTENDED) as [PocketPingErrorCode, number][]) {
      const res = toHttpError(new PocketPingError(code, `problem ${code}`));
      expect(res.status, code).toBe(status);
      expect(res.body.error, code).toBe(code);
      expect(typeof res.body.message, code).toBe('string');
      // Client errors say what is wrong; server-side failures never echo internal text.
      if (status < 500) expect(res.body.message, code).toBe(`problem ${code}`);
    }
  });

  it('storage and bridge failures answer a plain sentence, never the driver text', () => {
    const res = toHttpError(new StorageError('storage getSession failed: connect ECONNREFUSED 10.0.0.5:5432'));
    expect(res.status).toBe(503);
    expect(res.body.message).not.toContain('10.0.0.5');
    expect(res.body.message).toMatch(/storage is unavailable/i);
    const unsupported = toHttpError(new StorageError('listSessions missing', { code: 'STORAGE_NOT_SUPPORTED' }));
    expect(unsupported.body.message).toBe('listSessions missing');
  });

  it('maps the subclasses through their codes', () => {
    expect(toHttpError(new ValidationError('bad')).status).toBe(400);
    expect(toHttpError(new StorageError('db down')).status).toBe(503);
    expect(toHttpError(new BridgeError('telegram', 'slow', { retryAfterMs: 1000 })).body.error).toBe(
      'BRIDGE_RATE_LIMITED',
    );
  });

  it('includes safe details such as validation issues', () => {
    const err = new ValidationError('Invalid', { details: { issues: [{ path: 'after', message: 'bad' }] } });
    expect(toHttpError(err).body.details).toEqual({ issues: [{ path: 'after', message: 'bad' }] });
  });

  it('turns an unknown error into a bland 500 without the message or stack', () => {
    const err = new TypeError("Cannot read properties of undefined (reading 'secret_column') at /srv/app/db.js:12");
    const res = toHttpError(err);
    expect(res).toEqual({ status: 500, body: { error: 'INTERNAL', message: expect.any(String) } });
    const text = JSON.stringify(res.body);
    expect(text).not.toContain('secret_column');
    expect(text).not.toContain('/srv/app');
    expect(text).not.toContain('TypeError');
  });

  it('handles thrown non-errors', () => {
    for (const thrown of ['a string', 42, null, undefined, { code: 'HACK', message: 'x' }]) {
      expect(toHttpError(thrown)).toMatchObject({ status: 500, body: { error: 'INTERNAL' } });
    }
  });

  it('a handler error from the widget routes maps to the right status', async () => {
    const { pp } = await harness();
    const err = await pp.handleMessage({ sessionId: 'ses_nope', content: 'x' }).catch((e: unknown) => e);
    expect(toHttpError(err)).toMatchObject({ status: 404, body: { error: 'SESSION_NOT_FOUND' } });
  });
});

describe('errors', () => {
  it('isPocketPingError recognises every subclass and rejects plain errors', () => {
    expect(isPocketPingError(new ValidationError('x'))).toBe(true);
    expect(isPocketPingError(new BridgeError('b', 'x'))).toBe(true);
    expect(isPocketPingError(new SetupError({ component: 'X', problem: 'y' }))).toBe(true);
    expect(isPocketPingError(new Error('x'))).toBe(false);
  });

  it('BridgeError is retryable by default and keeps retryAfterMs', () => {
    const e = new BridgeError('slack', 'rate limited', { retryAfterMs: 3000 });
    expect(e).toMatchObject({ bridge: 'slack', retryAfterMs: 3000, retryable: true, code: 'BRIDGE_RATE_LIMITED' });
    expect(new BridgeError('slack', 'no', { retryable: false }).retryable).toBe(false);
  });

  it('keeps the cause', () => {
    const cause = new Error('ECONNREFUSED');
    expect(new StorageError('down', { cause }).cause).toBe(cause);
  });

  it('SetupError.formattedGuide() is a box with the problem and numbered steps', () => {
    const err = new SetupError({
      component: 'Telegram',
      problem: 'TELEGRAM_BOT_TOKEN is missing',
      steps: ['Open @BotFather in Telegram', 'Send /newbot and copy the token', 'Set TELEGRAM_BOT_TOKEN'],
      docsUrl: 'https://example.com/docs/telegram',
    });
    const guide = err.formattedGuide();
    const lines = guide.split('\n');
    expect(lines[0]).toMatch(/^┌─+┐$/);
    expect(lines.at(-1)).toMatch(/^└─+┘$/);
    for (const line of lines.slice(1, -1)) expect(line).toMatch(/^│ .* │$/);
    expect(guide).toContain('Telegram');
    expect(guide).toContain('TELEGRAM_BOT_TOKEN is missing');
    expect(guide).toMatch(/1\. Open @BotFather in Telegram/);
    expect(guide).toMatch(/2\. Send \/newbot and copy the token/);
    expect(guide).toMatch(/3\. Set TELEGRAM_BOT_TOKEN/);
    expect(guide).toContain('https://example.com/docs/telegram');
    expect(err.code).toBe('SETUP_INVALID');
  });

  it('SetupError.formattedGuide() wraps long lines inside the box', () => {
    const err = new SetupError({ component: 'Slack', problem: 'word '.repeat(40).trim(), steps: ['x'] });
    const lines = err.formattedGuide().split('\n');
    const width = lines[0]!.length;
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(width + 1);
    expect(lines.length).toBeGreaterThan(6);
  });
});

describe('WIDGET_ROUTES', () => {
  it('covers every JSON endpoint of PROTOCOL.md §0', () => {
    const routes = WIDGET_ROUTES.map((r) => `${r.method} ${r.path}`).sort();
    expect(routes).toEqual(
      [
        'POST /connect',
        'POST /message',
        'GET /messages',
        'POST /typing',
        'POST /read',
        'PATCH /message/:messageId',
        'DELETE /message/:messageId',
        'GET /presence',
        'POST /identify',
        'POST /prechat',
        'POST /csat',
        'POST /upload',
        'POST /upload/complete',
        'GET /screenshot/requests',
        'POST /screenshot/upload',
        'POST /screenshot/upload/complete',
        'POST /disconnect',
        'POST /visibility',
      ].sort(),
    );
  });

  it('skips the version check only for the beacons', () => {
    const unchecked = WIDGET_ROUTES.filter((r) => !r.versionChecked).map((r) => r.path);
    expect(unchecked.sort()).toEqual(['/disconnect', '/visibility']);
  });

  it('exposes the four version headers', () => {
    expect([...EXPOSED_HEADERS].sort()).toEqual(
      [
        'X-PocketPing-Version-Status',
        'X-PocketPing-Min-Version',
        'X-PocketPing-Latest-Version',
        'X-PocketPing-Version-Message',
      ].sort(),
    );
  });

  it('reads the ids from the right places: PATCH params + body, DELETE params + query, GET query', async () => {
    const { pp, storage } = await harness();
    const route = (method: string, path: string) => WIDGET_ROUTES.find((r) => r.method === method && r.path === path)!;
    const sessionId = await newSession(pp);
    const { messageId } = await sendVisitor(pp, sessionId, 'before');
    const edited = await route('PATCH', '/message/:messageId').handle(pp, {
      params: { messageId },
      query: {},
      body: { sessionId, content: 'after' },
      ctx: CTX,
    });
    expect(edited).toMatchObject({ message: { id: messageId, content: 'after' } });
    const polled = (await route('GET', '/messages').handle(pp, {
      params: {},
      query: { sessionId },
      body: undefined,
      ctx: CTX,
    })) as { messages: { content: string }[] };
    expect(polled.messages.map((m) => m.content)).toEqual(['after']);
    // DELETE arrives with no body (Content-Type JSON, empty): the session id is in the query.
    const deleted = await route('DELETE', '/message/:messageId').handle(pp, {
      params: { messageId },
      query: { sessionId },
      body: undefined,
      ctx: CTX,
    });
    expect(deleted).toEqual({ deleted: true });
    expect((await storage.getMessages(sessionId))[0]!.deletedAt).toBeInstanceOf(Date);
  });

  it('every route answers a JSON object on success', async () => {
    const { pp } = await harness();
    const route = (method: string, path: string) => WIDGET_ROUTES.find((r) => r.method === method && r.path === path)!;
    const sessionId = await newSession(pp);
    const req = (body: unknown, query: Record<string, unknown> = {}) => ({ params: {}, query, body, ctx: CTX });
    const answers = [
      await route('POST', '/typing').handle(pp, req({ sessionId, sender: 'visitor', isTyping: true })),
      await route('GET', '/presence').handle(pp, req(undefined)),
      await route('POST', '/identify').handle(pp, req({ sessionId, identity: { id: 'u' } })),
      await route('POST', '/prechat').handle(pp, req({ sessionId, email: 'a@b.co' })),
      await route('POST', '/csat').handle(pp, req({ sessionId, score: 5 })),
      await route('GET', '/screenshot/requests').handle(pp, req(undefined, { sessionId })),
      await route('POST', '/disconnect').handle(pp, req({ sessionId, duration: 3, reason: 'page_unload' })),
      await route('POST', '/visibility').handle(pp, req({ sessionId, state: 'visible', timestamp: Date.now() })),
    ];
    for (const a of answers) {
      expect(typeof a).toBe('object');
      expect(a).not.toBeNull();
      expect(JSON.parse(JSON.stringify(a))).toEqual(a);
    }
  });
});
