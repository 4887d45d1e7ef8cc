import { z } from 'zod';
import { ValidationError } from './errors.js';
import { CustomEventSchema, UserIdentitySchema } from './models.js';

/** Longest message content accepted, in characters. Longer content is rejected, never cut. */
export const MAX_MESSAGE_LENGTH = 4000;

const id = (what: string) =>
  z
    .string({ error: `${what} is required and must be a string` })
    .min(1, `${what} must not be empty`)
    .max(200, `${what} is too long`);

/** ISO-8601 instant, as the widget sends in `after`. */
const isoInstant = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO-8601 timestamp, e.g. 2026-01-31T12:00:00.000Z')
  .transform((s) => new Date(s));

/** `POST /connect` body. `sessionId` is `null` on a first visit (PROTOCOL.md §3.1). */
export const ConnectRequestSchema = z.object({
  visitorId: id('visitorId'),
  sessionId: z.string().max(200).nullish(),
  inspectorToken: z.string().max(500).optional(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
  // An unusable identity (no id) is dropped instead of failing /connect: a failed connect leaves
  // the widget dead until the page reloads.
  identity: UserIdentitySchema.nullish().catch(undefined),
});
/** `POST /connect` body. */
export type ConnectRequest = z.infer<typeof ConnectRequestSchema>;

/** `POST /message` body. `sender` is accepted and ignored: this route always stores `visitor`. */
export const SendMessageRequestSchema = z.object({
  sessionId: id('sessionId'),
  content: z.string({ error: 'content is required and must be a string (it may be empty when attachments are sent)' }),
  sender: z.string().optional(),
  attachmentIds: z.array(z.string().max(200)).max(10, 'at most 10 attachments per message').nullish(),
  replyTo: z.string().max(200).nullish(),
});
/** `POST /message` body. */
export type SendMessageRequest = z.infer<typeof SendMessageRequestSchema>;

/** `GET /messages` query. */
export const GetMessagesQuerySchema = z.object({
  sessionId: id('sessionId'),
  after: isoInstant.optional(),
  /** Resume point for clients that keep the `seq` of event envelopes (takes precedence over `after`). */
  afterSeq: z.coerce.number().int().nonnegative().optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
/** `GET /messages` query. */
export type GetMessagesQuery = z.infer<typeof GetMessagesQuerySchema>;

/** `POST /typing` body. */
export const TypingRequestSchema = z.object({
  sessionId: id('sessionId'),
  sender: z.string().optional(),
  isTyping: z.boolean().default(true),
});

/** `POST /read` body. */
export const ReadRequestSchema = z.object({
  sessionId: id('sessionId'),
  messageIds: z.array(z.string().max(200)).min(1, 'messageIds must list at least one id').max(500),
  status: z.enum(['read', 'delivered']).default('read'),
});

/** `PATCH /message/{id}` body. */
export const EditMessageRequestSchema = z.object({
  sessionId: id('sessionId'),
  content: z.string({ error: 'content is required and must be a string' }),
});

/** `DELETE /message/{id}` query. */
export const DeleteMessageQuerySchema = z.object({ sessionId: id('sessionId') });

/** `POST /identify` body. */
export const IdentifyRequestSchema = z.object({
  sessionId: id('sessionId'),
  identity: UserIdentitySchema,
});

/** `POST /prechat` body; at least one of email and phone. */
export const PreChatRequestSchema = z
  .object({
    sessionId: id('sessionId'),
    email: z
      .string()
      .trim()
      .max(320)
      .regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'email must look like name@example.com')
      .optional(),
    phone: z
      .string()
      .trim()
      .regex(/^\+[1-9]\d{5,14}$/, 'phone must be E.164, e.g. +33612345678')
      .optional(),
    phoneCountry: z
      .string()
      .trim()
      .regex(/^[A-Za-z]{2}$/, 'phoneCountry must be an ISO 3166 alpha-2 code')
      .optional(),
  })
  .refine((v) => v.email !== undefined || v.phone !== undefined, {
    message: 'give an email or a phone number',
    path: ['email'],
  });

/** `POST /csat` body. */
export const CsatRequestSchema = z.object({
  sessionId: id('sessionId'),
  score: z
    .number({ error: 'score must be a whole number from 1 to 5' })
    .int('score must be a whole number from 1 to 5')
    .min(1, 'score must be from 1 to 5')
    .max(5, 'score must be from 1 to 5'),
  comment: z.string().max(1000, 'comment is limited to 1000 characters').optional(),
});

/** `POST /upload` body. */
export const UploadRequestSchema = z.object({
  sessionId: id('sessionId'),
  filename: z.string().min(1, 'filename must not be empty').max(255, 'filename is limited to 255 characters'),
  mimeType: z.string().max(255).default('application/octet-stream'),
  size: z.number({ error: 'size must be the file size in bytes' }).int().positive('size must be greater than 0'),
});

/** `POST /upload/complete` body. */
export const UploadCompleteRequestSchema = z.object({
  sessionId: id('sessionId'),
  attachmentId: id('attachmentId'),
});

/** `GET /screenshot/requests` query. */
export const ScreenshotRequestsQuerySchema = z.object({ sessionId: id('sessionId') });

/** `POST /screenshot/upload` body. */
export const ScreenshotUploadRequestSchema = z.object({
  sessionId: id('sessionId'),
  requestId: id('requestId'),
});

/** `POST /screenshot/upload/complete` body. */
export const ScreenshotUploadCompleteRequestSchema = z.object({
  sessionId: id('sessionId'),
  requestId: id('requestId'),
  attachmentId: id('attachmentId'),
  size: z.number().int().nonnegative().optional(),
});

/** `POST /disconnect` body (sendBeacon). */
export const DisconnectRequestSchema = z.object({
  sessionId: id('sessionId'),
  duration: z.number().nonnegative().optional(),
  reason: z.string().max(100).optional(),
});

/** `POST /visibility` body. */
export const VisibilityRequestSchema = z.object({
  sessionId: id('sessionId'),
  state: z.enum(['hidden', 'visible']),
  timestamp: z.number().optional(),
});

/** A frame the widget sends over the WebSocket. Unknown types are ignored by the server. */
export const ClientFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('event'), data: CustomEventSchema }),
  z.object({
    type: z.literal('inspector_select'),
    data: z.looseObject({ selector: z.string().max(2000) }),
  }),
  z.object({
    type: z.literal('typing'),
    data: z.object({ isTyping: z.boolean().default(true) }).optional(),
    isTyping: z.boolean().optional(),
  }),
]);
/** A frame the widget sends over the WebSocket. */
export type ClientFrame = z.infer<typeof ClientFrameSchema>;

/** `POST /admin/sessions/:id/messages` body. */
export const AdminSendMessageSchema = z.object({
  content: z.string().min(1, 'content must not be empty'),
  operatorName: z.string().max(100).optional(),
  sender: z.enum(['operator', 'ai']).default('operator'),
  replyTo: z.string().max(200).optional(),
  /** Your own id of this reply; echoed in the message's metadata (remote mode uses it to skip its own echo). */
  clientMessageId: z.string().max(200).optional(),
});

/** `PUT /admin/sessions/:id` body (remote mode: mirror a session). */
export const AdminUpsertSessionSchema = z.object({
  visitorId: z.string().min(1).max(200),
  metadata: z.record(z.string(), z.unknown()).optional(),
  identity: UserIdentitySchema.optional(),
});

/** `POST /admin/sessions/:id/visitor-messages` body (remote mode: mirror a visitor message). */
export const AdminVisitorMessageSchema = z.object({
  id: z.string().min(1).max(128),
  content: z.string(),
  replyTo: z.string().max(200).optional(),
  attachments: z
    .array(
      z.object({
        id: z.string().max(128).optional(),
        filename: z.string().min(1).max(255),
        mimeType: z.string().min(1).max(255),
        size: z.number().int().nonnegative(),
        url: z.string().url(),
      }),
    )
    .max(10)
    .optional(),
});

/** `POST /admin/sessions/:id/events` body. */
export const AdminEventSchema = z.object({
  name: z.string().min(1).max(200),
  data: z.record(z.string(), z.unknown()).optional(),
});

/** Formats zod issues as one readable line: `content: expected string; score: too big`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.length > 0 ? issue.path.join('.') : 'body';
      const msg = issue.message.startsWith('Invalid input: ') ? issue.message.slice(15) : issue.message;
      return msg.startsWith(path) ? msg : `${path}: ${msg}`;
    })
    .join('; ');
}

/** An optional string no longer than `max` (`null` only where `nullable`). */
function optionalString(value: unknown, max: number, nullable: boolean): boolean {
  if (value === undefined || (nullable && value === null)) return true;
  return typeof value === 'string' && value.length <= max;
}

/** A plain object, as JSON.parse makes them (what `z.record` accepts, narrowed). */
function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Hand-written checks for the hottest request bodies (`/connect`, `/message`): the exact output
 * zod gives for a body that is plainly valid, or undefined to let zod decide (it also writes the
 * error messages). Unknown keys are dropped, as zod does; `metadata` is handed over as it is
 * (callers only read it).
 */
const FAST_PARSERS = new Map<z.ZodType, (input: Record<string, unknown>) => unknown>([
  [
    ConnectRequestSchema,
    (input) => {
      const { visitorId, sessionId, inspectorToken, metadata } = input;
      if (typeof visitorId !== 'string' || visitorId.length < 1 || visitorId.length > 200) return undefined;
      if (!optionalString(sessionId, 200, true) || !optionalString(inspectorToken, 500, false)) return undefined;
      if (metadata != null && !isPlainRecord(metadata)) return undefined;
      // identity has its own rules (and is dropped when unusable): zod handles every body with one.
      if (input.identity !== undefined) return undefined;
      const out: ConnectRequest = { visitorId };
      if (sessionId !== undefined) out.sessionId = sessionId as string | null;
      if (inspectorToken !== undefined) out.inspectorToken = inspectorToken as string;
      if (metadata !== undefined) out.metadata = metadata as Record<string, unknown> | null;
      return out;
    },
  ],
  [
    SendMessageRequestSchema,
    (input) => {
      const { sessionId, content, sender, attachmentIds, replyTo } = input;
      if (typeof sessionId !== 'string' || sessionId.length < 1 || sessionId.length > 200) return undefined;
      if (typeof content !== 'string' || !optionalString(sender, Infinity, false)) return undefined;
      if (!optionalString(replyTo, 200, true)) return undefined;
      let ids: string[] | null | undefined = attachmentIds as null | undefined;
      if (attachmentIds != null) {
        if (!Array.isArray(attachmentIds) || attachmentIds.length > 10) return undefined;
        for (const a of attachmentIds) if (typeof a !== 'string' || a.length > 200) return undefined;
        ids = attachmentIds.slice() as string[];
      }
      const out: SendMessageRequest = { sessionId, content };
      if (sender !== undefined) out.sender = sender as string;
      if (ids !== undefined) out.attachmentIds = ids;
      if (replyTo !== undefined) out.replyTo = replyTo as string | null;
      return out;
    },
  ],
]);

/** Validates input against a schema, or throws a `ValidationError` that says what is wrong. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const fast = FAST_PARSERS.get(schema);
  if (fast && isPlainRecord(input)) {
    const out = fast(input);
    if (out !== undefined) return out as z.output<S>;
  }
  const result = schema.safeParse(input ?? {});
  if (!result.success) {
    throw new ValidationError(`Invalid ${what}: ${describeIssues(result.error)}`, {
      details: {
        issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      },
    });
  }
  return result.data;
}
