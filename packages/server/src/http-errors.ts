import { isPocketPingError, toHttpError } from '@pocketping/core';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

const FASTIFY_CODES: Record<string, { status: number; error: string; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, error: 'REQUEST_TOO_LARGE', message: 'the request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    error: 'VALIDATION_FAILED',
    message: 'unsupported Content-Type: send application/json',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, error: 'REQUEST_INVALID_JSON', message: 'the JSON body is empty' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, error: 'VALIDATION_FAILED' },
};

/**
 * The one error handler of the PocketPing routes: PocketPing error codes map to statuses
 * (core's ERROR_STATUS), framework errors to 4xx with a message that says what is wrong, and
 * anything unexpected to a logged 500 that leaks nothing.
 */
export function pocketpingErrorHandler(err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  if (isPocketPingError(err)) {
    const { status, body } = toHttpError(err);
    if (status >= 500) request.log.error({ err }, body.message);
    void reply.code(status).send(body);
    return;
  }
  const fe = err as FastifyError;
  const known = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (known) {
    void reply.code(known.status).send({ error: known.error, message: known.message ?? fe.message });
    return;
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    void reply.code(fe.statusCode).send({
      error: fe.statusCode === 429 ? 'RATE_LIMITED' : 'VALIDATION_FAILED',
      message: fe.message,
    });
    return;
  }
  request.log.error({ err }, 'unexpected error in a PocketPing route');
  const { status, body } = toHttpError(err);
  void reply.code(status).send(body);
}
