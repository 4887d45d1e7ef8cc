import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, connect, startServer, type TestServer } from './helpers.js';

let s: TestServer;
let sessionId: string;
let messageId: string;

beforeAll(async () => {
  // Rate limits off: the fuzzer sends thousands of requests from one address.
  s = await startServer({ listen: false, pp: { security: { rateLimit: { enabled: false } } } });
  sessionId = await connect(s);
  const res = await s.app.inject({
    method: 'POST',
    url: '/pocketping/message',
    headers: { 'content-type': 'application/json' },
    payload: { sessionId, content: 'seed', attachmentIds: [] },
  });
  messageId = res.json().messageId;
});

afterAll(async () => {
  await s.close();
});

const ROUTES: [string, string][] = [
  ['POST', '/connect'],
  ['POST', '/message'],
  ['GET', '/messages'],
  ['POST', '/typing'],
  ['POST', '/read'],
  ['PATCH', '/message/:id'],
  ['DELETE', '/message/:id'],
  ['GET', '/presence'],
  ['POST', '/identify'],
  ['POST', '/prechat'],
  ['POST', '/csat'],
  ['POST', '/upload'],
  ['PUT', '/upload/:id'],
  ['POST', '/upload/complete'],
  ['GET', '/screenshot/requests'],
  ['POST', '/screenshot/upload'],
  ['POST', '/screenshot/upload/complete'],
  ['POST', '/disconnect'],
  ['POST', '/visibility'],
  ['GET', '/files/:id/:name'],
  ['POST', '/webhooks/:id'],
  ['GET', '/admin/sessions'],
  ['POST', '/admin/sessions/:id/messages'],
  ['PUT', '/admin/sessions/:id'],
  ['POST', '/admin/sessions/:id/visitor-messages'],
];

/** Values that break naive handlers: wrong types, huge numbers, odd strings, nesting. */
const nasty = fc.oneof(
  fc.string(),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '../../etc/passwd',
    '__proto__',
    'temp-lz3k',
    'null',
    'NaN',
    '2026-13-45T99:00:00Z',
  ),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
);

const field = (known: string[]) => fc.oneof(fc.constantFrom(...known), fc.string({ maxLength: 12 }));

describe('fuzzing every endpoint', () => {
  it('no input makes the server answer 5xx or crash', async () => {
    const bodyArb = fc.oneof(
      fc
        .dictionary(
          field([
            'sessionId',
            'visitorId',
            'content',
            'messageIds',
            'identity',
            'attachmentIds',
            'score',
            'size',
            'mimeType',
            'filename',
            'after',
            'state',
            'replyTo',
            'metadata',
            'requestId',
            'attachmentId',
            'isTyping',
            'email',
            'phone',
          ]),
          fc.oneof(nasty, fc.constant(sessionId), fc.constant(messageId)),
          { maxKeys: 6 },
        )
        .map((o) => JSON.stringify(o)),
      fc.string(),
      fc.constantFrom('', '{', '[]', 'null', '"x"', '{"sessionId":', '\u0000\u0001'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        bodyArb,
        fc.dictionary(
          field(['sessionId', 'after', 'limit', 'status']),
          fc.oneof(fc.string({ maxLength: 20 }), fc.constant(sessionId)),
          { maxKeys: 3 },
        ),
        fc.oneof(
          fc.constant(sessionId),
          fc.constant(messageId),
          fc.string({ maxLength: 20 }).map((x) => encodeURIComponent(x) || 'x'),
        ),
        fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'image/png'),
        fc.boolean(),
        async ([method, path], body, query, id, contentType, withKey) => {
          const url = `/pocketping${path.replace(/:id|:name/g, id)}?${new URLSearchParams(query as Record<string, string>).toString()}`;
          const res = await s.app.inject({
            method: method as 'GET',
            url,
            headers: { 'content-type': contentType, ...(withKey ? { authorization: `Bearer ${API_KEY}` } : {}) },
            ...(method === 'GET' ? {} : { payload: body }),
          });
          if (res.statusCode >= 500 && res.statusCode !== 501) {
            throw new Error(`${method} ${url} ${body.slice(0, 200)} → ${res.statusCode} ${res.body.slice(0, 300)}`);
          }
          if (res.headers['content-type']?.toString().includes('json')) {
            const parsed = res.json();
            if (res.statusCode >= 400) expect(typeof parsed.message).toBe('string');
          }
        },
      ),
      { numRuns: 2500, seed: 20261127 },
    );
  }, 120_000);
});
