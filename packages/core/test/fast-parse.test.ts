import { ConnectRequestSchema, parseInput, SendMessageRequestSchema } from '@pocketping/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** Values of the kinds a JSON body can hold, weighted towards the edges of each field's rule. */
const jsonish = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.string({ maxLength: 4 }),
  fc.string({ minLength: 195, maxLength: 205 }),
  fc.string({ minLength: 495, maxLength: 505 }),
  fc.array(fc.string({ maxLength: 3 }), { maxLength: 12 }),
  fc.array(fc.oneof(fc.integer(), fc.string({ minLength: 199, maxLength: 201 })), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }), { maxKeys: 3 }),
);

function body(keys: string[]) {
  return fc.record(Object.fromEntries(keys.map((k) => [k, jsonish])), { requiredKeys: [] });
}

/** What parseInput answers (its hand-written fast path included), next to what zod alone answers. */
function both(schema: typeof ConnectRequestSchema | typeof SendMessageRequestSchema, input: object) {
  let ours: { ok: true; data: unknown } | { ok: false };
  try {
    ours = { ok: true, data: parseInput(schema, input, 'body') };
  } catch {
    ours = { ok: false };
  }
  const zod = schema.safeParse(input);
  return { ours, zod: zod.success ? { ok: true, data: zod.data } : { ok: false } };
}

describe('hand-written checks of the hot request bodies agree with zod', () => {
  it('POST /connect bodies', () => {
    fc.assert(
      fc.property(body(['visitorId', 'sessionId', 'inspectorToken', 'metadata', 'extra']), (input) => {
        const { ours, zod } = both(ConnectRequestSchema, input);
        expect(ours).toEqual(zod);
      }),
      { numRuns: 3000 },
    );
  });

  it('POST /message bodies', () => {
    fc.assert(
      fc.property(body(['sessionId', 'content', 'sender', 'attachmentIds', 'replyTo', 'extra']), (input) => {
        const { ours, zod } = both(SendMessageRequestSchema, input);
        expect(ours).toEqual(zod);
      }),
      { numRuns: 3000 },
    );
  });
});
