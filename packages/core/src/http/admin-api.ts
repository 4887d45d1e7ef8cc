import { z } from 'zod';
import { PocketPingError, ValidationError } from '../errors.js';
import { isUrlSafeId } from '../ids.js';
import type { Session } from '../models.js';
import type { PocketPing } from '../pocketping.js';
import {
  AdminEventSchema,
  AdminSendMessageSchema,
  AdminUpsertSessionSchema,
  AdminVisitorMessageSchema,
  parseInput,
} from '../protocol-schemas.js';

/** One admin route: runs with the parsed JSON body and returns the JSON answer. */
export interface AdminRoute {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT';
  path: string;
  /** 200 unless stated. */
  status?: number;
  handle(
    pp: PocketPing,
    input: { params: Record<string, string>; query: Record<string, string | undefined>; body: unknown },
  ): Promise<unknown>;
}

const isoDate = (name: string) =>
  z
    .string()
    .refine((s) => !Number.isNaN(Date.parse(s)), `${name} must be an ISO-8601 timestamp`)
    .transform((s) => new Date(s));

const ListSessionsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: isoDate('before').optional(),
  status: z.enum(['open', 'closed']).optional(),
});

const ListMessagesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(200),
  after: isoDate('after').optional(),
  before: isoDate('before').optional(),
});

async function sessionOr404(pp: PocketPing, id: string | undefined): Promise<Session> {
  const session = id && isUrlSafeId(id) ? await pp.getSession(id) : null;
  if (!session) throw new PocketPingError('SESSION_NOT_FOUND', `session ${String(id).slice(0, 80)} does not exist`);
  return session;
}

/**
 * The operator API over HTTP (`{prefix}/admin/...`), framework-free: the SDK's operator methods
 * for scripts, dashboards and other backends. Authentication is checked by the pipeline.
 */
export const ADMIN_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/sessions',
    async handle(pp, { query }) {
      const q = parseInput(ListSessionsQuery, query, 'query');
      const sessions = await pp.getSessions({
        limit: q.limit,
        ...(q.before ? { before: q.before } : {}),
        ...(q.status ? { status: q.status } : {}),
      });
      return { sessions };
    },
  },
  {
    method: 'GET',
    path: '/sessions/:id',
    async handle(pp, { params }) {
      return { session: await sessionOr404(pp, params.id) };
    },
  },
  {
    method: 'GET',
    path: '/sessions/:id/messages',
    async handle(pp, { params, query }) {
      const session = await sessionOr404(pp, params.id);
      const q = parseInput(ListMessagesQuery, query, 'query');
      const messages = await pp.getMessages(session.id, {
        limit: q.limit,
        ...(q.after ? { after: q.after } : {}),
        ...(q.before ? { before: q.before } : {}),
      });
      return { messages };
    },
  },
  {
    method: 'POST',
    path: '/sessions/:id/messages',
    status: 201,
    async handle(pp, { params, body }) {
      const session = await sessionOr404(pp, params.id);
      const b = parseInput(AdminSendMessageSchema, body, 'request body');
      const message = await pp.sendMessage(session.id, {
        content: b.content,
        type: b.sender,
        ...(b.operatorName ? { operatorName: b.operatorName } : {}),
        ...(b.replyTo ? { replyTo: b.replyTo } : {}),
        ...(b.clientMessageId ? { metadata: { clientMessageId: b.clientMessageId } } : {}),
      });
      return { message };
    },
  },
  {
    method: 'PUT',
    path: '/sessions/:id',
    async handle(pp, { params, body }) {
      const b = parseInput(AdminUpsertSessionSchema, body, 'request body');
      return pp.upsertSession({
        id: params.id ?? '',
        visitorId: b.visitorId,
        ...(b.metadata ? { metadata: b.metadata } : {}),
        ...(b.identity ? { identity: b.identity } : {}),
      });
    },
  },
  {
    method: 'POST',
    path: '/sessions/:id/visitor-messages',
    status: 201,
    async handle(pp, { params, body }) {
      const b = parseInput(AdminVisitorMessageSchema, body, 'request body');
      const message = await pp.ingestVisitorMessage(params.id ?? '', {
        id: b.id,
        content: b.content,
        ...(b.replyTo ? { replyTo: b.replyTo } : {}),
        ...(b.attachments ? { attachments: b.attachments } : {}),
      });
      return { message };
    },
  },
  {
    method: 'PATCH',
    path: '/sessions/:id/visitor-messages/:messageId',
    async handle(pp, { params, body }) {
      const b = parseInput(z.object({ content: z.string().min(1, 'content must not be empty') }), body, 'request body');
      return { message: await pp.editVisitorMessage(params.id ?? '', params.messageId ?? '', b.content) };
    },
  },
  {
    method: 'DELETE',
    path: '/sessions/:id/visitor-messages/:messageId',
    async handle(pp, { params }) {
      return { message: await pp.deleteVisitorMessage(params.id ?? '', params.messageId ?? '') };
    },
  },
  {
    method: 'PATCH',
    path: '/sessions/:id/messages/:messageId',
    async handle(pp, { params, body }) {
      const session = await sessionOr404(pp, params.id);
      const b = parseInput(z.object({ content: z.string().min(1, 'content must not be empty') }), body, 'request body');
      return { message: await pp.editOperatorMessage(session.id, params.messageId ?? '', b.content) };
    },
  },
  {
    method: 'DELETE',
    path: '/sessions/:id/messages/:messageId',
    async handle(pp, { params }) {
      const session = await sessionOr404(pp, params.id);
      return { message: await pp.deleteOperatorMessage(session.id, params.messageId ?? '') };
    },
  },
  {
    method: 'POST',
    path: '/sessions/:id/read',
    async handle(pp, { params, body }) {
      const session = await sessionOr404(pp, params.id);
      const b = parseInput(z.object({ messageIds: z.array(z.string()).optional() }), body ?? {}, 'request body');
      return { updated: await pp.markVisitorMessagesRead(session.id, b.messageIds) };
    },
  },
  {
    method: 'POST',
    path: '/sessions/:id/typing',
    async handle(pp, { params, body }) {
      const session = await sessionOr404(pp, params.id);
      const b = parseInput(z.object({ isTyping: z.boolean().default(true) }), body ?? {}, 'request body');
      pp.setOperatorTyping(session.id, b.isTyping);
      return { ok: true };
    },
  },
  {
    method: 'POST',
    path: '/sessions/:id/close',
    async handle(pp, { params }) {
      const session = await sessionOr404(pp, params.id);
      return { session: await pp.closeSession(session.id) };
    },
  },
  {
    method: 'POST',
    path: '/sessions/:id/events',
    async handle(pp, { params, body }) {
      const session = await sessionOr404(pp, params.id);
      const b = parseInput(AdminEventSchema, body, 'request body');
      pp.emitEvent(session.id, b.name, b.data);
      return { ok: true };
    },
  },
  {
    method: 'POST',
    path: '/sessions/:id/csat',
    async handle(pp, { params }) {
      const session = await sessionOr404(pp, params.id);
      await pp.requestCsat(session.id);
      return { ok: true };
    },
  },
  {
    method: 'POST',
    path: '/sessions/:id/screenshot',
    async handle(pp, { params, body }) {
      const session = await sessionOr404(pp, params.id);
      const b = parseInput(
        z.object({ requestedBy: z.string().max(100).optional(), silent: z.boolean().optional() }),
        body ?? {},
        'request body',
      );
      return { request: await pp.requestScreenshot(session.id, { ...b, requestedFrom: 'admin' }) };
    },
  },
  {
    method: 'POST',
    path: '/presence',
    async handle(pp, { body }) {
      const b = parseInput(z.object({ online: z.boolean() }), body, 'request body');
      pp.setOperatorOnline(b.online);
      return { online: pp.isOperatorOnline() };
    },
  },
  {
    method: 'POST',
    path: '/events',
    async handle(pp, { body }) {
      const b = parseInput(AdminEventSchema, body, 'request body');
      pp.broadcastEvent(b.name, b.data);
      return { ok: true };
    },
  },
  {
    method: 'GET',
    path: '/sessions/:id/export',
    async handle(pp, { params }) {
      return pp.exportSession(params.id ?? '');
    },
  },
  {
    method: 'DELETE',
    path: '/sessions/:id',
    async handle(pp, { params }) {
      await sessionOr404(pp, params.id);
      return { erased: await pp.eraseSession(params.id ?? '') };
    },
  },
  {
    method: 'GET',
    path: '/visitors/:visitorId/export',
    async handle(pp, { params }) {
      const sessions = await pp.sessionsOfVisitor(params.visitorId ?? '');
      return { visitorId: params.visitorId, sessions: await Promise.all(sessions.map((s) => pp.exportSession(s.id))) };
    },
  },
  {
    method: 'DELETE',
    path: '/visitors/:visitorId',
    async handle(pp, { params }) {
      const sessions = await pp.sessionsOfVisitor(params.visitorId ?? '');
      let erased = 0;
      for (const s of sessions) if (await pp.eraseSession(s.id)) erased++;
      return { visitorId: params.visitorId, erased };
    },
  },
  {
    method: 'GET',
    path: '/deliveries/dead',
    async handle(pp) {
      return { deliveries: await pp.deadLetters() };
    },
  },
  {
    method: 'POST',
    path: '/deliveries/:jobId/retry',
    async handle(pp, { params }) {
      if (!(await pp.retryDeadLetter(params.jobId ?? ''))) {
        throw new ValidationError(`no dead-lettered delivery ${String(params.jobId).slice(0, 80)}`, {
          code: 'NOT_FOUND',
        });
      }
      return { ok: true };
    },
  },
];

/**
 * Constant-time comparison of a presented API key with the configured one. Every character of
 * the presented key is compared (against the configured key repeated), so the time taken
 * depends only on the presented key's length, which the caller chose: neither the content nor
 * the length of the configured key shows. Synchronous and allocation-free (it runs on every
 * admin request).
 */
export function apiKeyMatches(presented: string, expected: string): boolean {
  const n = expected.length;
  if (n === 0) return false;
  let diff = presented.length ^ n;
  for (let i = 0; i < presented.length; i++) diff |= presented.charCodeAt(i) ^ expected.charCodeAt(i % n);
  return diff === 0;
}
