import { createHash, timingSafeEqual } from 'node:crypto';
import {
  AdminEventSchema,
  AdminSendMessageSchema,
  isUrlSafeId,
  PocketPingError,
  type PocketPing,
  parseInput,
  ValidationError,
} from '@pocketping/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time comparison of a presented key with the configured one. */
export function keyMatches(presented: string, expected: string): boolean {
  // Hashing first gives equal-length inputs, so timingSafeEqual never leaks the key length.
  return timingSafeEqual(digest(presented), digest(expected));
}

const ListSessionsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z
    .string()
    .refine((s) => !Number.isNaN(Date.parse(s)), 'before must be an ISO-8601 timestamp')
    .transform((s) => new Date(s))
    .optional(),
  status: z.enum(['open', 'closed']).optional(),
});

const ListMessagesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(200),
  after: z
    .string()
    .refine((s) => !Number.isNaN(Date.parse(s)), 'after must be an ISO-8601 timestamp')
    .transform((s) => new Date(s))
    .optional(),
  before: z
    .string()
    .refine((s) => !Number.isNaN(Date.parse(s)), 'before must be an ISO-8601 timestamp')
    .transform((s) => new Date(s))
    .optional(),
});

/**
 * The operator API over HTTP (`{prefix}/admin/...`), for scripts, dashboards and other
 * backends. Every route needs `Authorization: Bearer <apiKey>`.
 */
export function registerAdminRoutes(scope: FastifyInstance, pp: PocketPing, apiKey: string | undefined): void {
  scope.addHook('onRequest', async (request: FastifyRequest) => {
    if (request.method === 'OPTIONS') return;
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!apiKey) {
      throw new PocketPingError('AUTH_INVALID', 'the admin API is disabled: set server.apiKey (or POCKETPING_API_KEY)');
    }
    if (!match) throw new PocketPingError('AUTH_REQUIRED', 'send Authorization: Bearer <apiKey>');
    if (!keyMatches(match[1]!.trim(), apiKey)) throw new PocketPingError('AUTH_INVALID', 'the API key is not valid');
  });

  const sessionOr404 = async (id: string) => {
    const session = isUrlSafeId(id) ? await pp.getSession(id) : null;
    if (!session) throw new PocketPingError('SESSION_NOT_FOUND', `session ${id.slice(0, 80)} does not exist`);
    return session;
  };

  scope.get('/sessions', async (request) => {
    const q = parseInput(ListSessionsQuery, request.query, 'query');
    const sessions = await pp.getSessions({
      limit: q.limit,
      ...(q.before ? { before: q.before } : {}),
      ...(q.status ? { status: q.status } : {}),
    });
    return { sessions };
  });

  scope.get<{ Params: { id: string } }>('/sessions/:id', async (request) => {
    return { session: await sessionOr404(request.params.id) };
  });

  scope.get<{ Params: { id: string } }>('/sessions/:id/messages', async (request) => {
    const session = await sessionOr404(request.params.id);
    const q = parseInput(ListMessagesQuery, request.query, 'query');
    const messages = await pp.getMessages(session.id, {
      limit: q.limit,
      ...(q.after ? { after: q.after } : {}),
      ...(q.before ? { before: q.before } : {}),
    });
    return { messages };
  });

  scope.post<{ Params: { id: string } }>('/sessions/:id/messages', async (request, reply) => {
    const session = await sessionOr404(request.params.id);
    const body = parseInput(AdminSendMessageSchema, request.body, 'request body');
    const message = await pp.sendMessage(session.id, {
      content: body.content,
      type: body.sender,
      ...(body.operatorName ? { operatorName: body.operatorName } : {}),
      ...(body.replyTo ? { replyTo: body.replyTo } : {}),
    });
    return reply.code(201).send({ message });
  });

  scope.patch<{ Params: { id: string; messageId: string } }>('/sessions/:id/messages/:messageId', async (request) => {
    const session = await sessionOr404(request.params.id);
    const body = parseInput(z.object({ content: z.string().min(1) }), request.body, 'request body');
    const message = await pp.editOperatorMessage(session.id, request.params.messageId, body.content);
    return { message };
  });

  scope.delete<{ Params: { id: string; messageId: string } }>('/sessions/:id/messages/:messageId', async (request) => {
    const session = await sessionOr404(request.params.id);
    const message = await pp.deleteOperatorMessage(session.id, request.params.messageId);
    return { message };
  });

  scope.post<{ Params: { id: string } }>('/sessions/:id/read', async (request) => {
    const session = await sessionOr404(request.params.id);
    const body = parseInput(
      z.object({ messageIds: z.array(z.string()).optional() }).optional(),
      request.body ?? {},
      'request body',
    );
    return { updated: await pp.markVisitorMessagesRead(session.id, body?.messageIds) };
  });

  scope.post<{ Params: { id: string } }>('/sessions/:id/typing', async (request) => {
    const session = await sessionOr404(request.params.id);
    const body = parseInput(z.object({ isTyping: z.boolean().default(true) }), request.body ?? {}, 'request body');
    pp.setOperatorTyping(session.id, body.isTyping);
    return { ok: true };
  });

  scope.post<{ Params: { id: string } }>('/sessions/:id/close', async (request) => {
    const session = await sessionOr404(request.params.id);
    return { session: await pp.closeSession(session.id) };
  });

  scope.post<{ Params: { id: string } }>('/sessions/:id/events', async (request) => {
    const session = await sessionOr404(request.params.id);
    const body = parseInput(AdminEventSchema, request.body, 'request body');
    pp.emitEvent(session.id, body.name, body.data);
    return { ok: true };
  });

  scope.post<{ Params: { id: string } }>('/sessions/:id/csat', async (request) => {
    const session = await sessionOr404(request.params.id);
    await pp.requestCsat(session.id);
    return { ok: true };
  });

  scope.post<{ Params: { id: string } }>('/sessions/:id/screenshot', async (request) => {
    const session = await sessionOr404(request.params.id);
    const body = parseInput(
      z.object({ requestedBy: z.string().max(100).optional(), silent: z.boolean().optional() }),
      request.body ?? {},
      'request body',
    );
    const req = await pp.requestScreenshot(session.id, { ...body, requestedFrom: 'admin' });
    return { request: req };
  });

  scope.post('/presence', async (request) => {
    const body = parseInput(z.object({ online: z.boolean() }), request.body, 'request body');
    pp.setOperatorOnline(body.online);
    return { online: pp.isOperatorOnline() };
  });

  scope.post('/events', async (request) => {
    const body = parseInput(AdminEventSchema, request.body, 'request body');
    pp.broadcastEvent(body.name, body.data);
    return { ok: true };
  });

  scope.get('/deliveries/dead', async () => ({ deliveries: await pp.deadLetters() }));

  scope.post<{ Params: { jobId: string } }>('/deliveries/:jobId/retry', async (request) => {
    if (!(await pp.retryDeadLetter(request.params.jobId))) {
      throw new ValidationError(`no dead-lettered delivery ${request.params.jobId.slice(0, 80)}`, { code: 'NOT_FOUND' });
    }
    return { ok: true };
  });
}
