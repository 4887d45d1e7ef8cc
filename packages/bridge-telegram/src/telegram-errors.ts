import { BridgeError } from '@pocketping/core';
import { GrammyError, HttpError } from 'grammy';
import { PACKAGE_NAME } from './options.js';

/** Telegram's answer code and description, when `err` is an API error. */
function apiError(err: unknown): { code: number; description: string; retryAfter?: number } | undefined {
  if (err instanceof GrammyError) {
    return {
      code: err.error_code,
      description: err.description,
      ...(typeof err.parameters?.retry_after === 'number' ? { retryAfter: err.parameters.retry_after } : {}),
    };
  }
  return undefined;
}

function badRequest(err: unknown, pattern: RegExp): boolean {
  const e = apiError(err);
  return e !== undefined && e.code === 400 && pattern.test(e.description);
}

/** The topic no longer exists (an admin deleted it). */
export function isThreadGone(err: unknown): boolean {
  return badRequest(err, /thread not found|TOPIC_ID_INVALID|TOPIC_DELETED/i);
}

/** The change was a no-op (same text, topic already open/closed, same name). */
export function isNotModified(err: unknown): boolean {
  return badRequest(err, /not modified|TOPIC_NOT_MODIFIED/i);
}

/** The message to edit or delete is gone. */
export function isMessageGone(err: unknown): boolean {
  return badRequest(err, /message to (edit|delete) not found|MESSAGE_ID_INVALID/i);
}

/** Telegram refused the message's kind for this edit method (text vs caption). */
export function isWrongEditKind(err: unknown): boolean {
  return badRequest(err, /there is no (text|caption|media) in the message/i);
}

/** Any 400 answer: Telegram refused this request for good. */
export function isBadRequest(err: unknown): boolean {
  return badRequest(err, /./);
}

/** The message cannot be deleted by the bot (too old, missing rights). */
export function isNotDeletable(err: unknown): boolean {
  return badRequest(err, /can't be deleted/i);
}

/** Seconds Telegram asked us to wait (HTTP 429), if it did. */
export function retryAfterSeconds(err: unknown): number | undefined {
  const e = apiError(err);
  return e?.code === 429 ? (e.retryAfter ?? 1) : undefined;
}

/** Removes the bot token from a text (network errors may carry the request URL). */
export function redact(text: string, token: string | undefined): string {
  return token ? text.split(token).join('<token>') : text;
}

/**
 * Turns any error of a Telegram call into a `BridgeError` for PocketPing's delivery queue:
 * 429 carries `retryAfterMs`, 400s are permanent (`BRIDGE_REJECTED`, `retryable: false`),
 * everything else (network, 5xx, 401/403 that an admin can still fix) is retried.
 */
export function toBridgeError(bridge: string, action: string, err: unknown, token: string | undefined): BridgeError {
  if (err instanceof BridgeError) return err;
  const e = apiError(err);
  if (e) {
    const base = `${PACKAGE_NAME}: ${action} failed: Telegram answered ${e.code} (${redact(e.description, token)})`;
    if (e.code === 429) {
      const seconds = e.retryAfter ?? 1;
      return new BridgeError(bridge, `${base}; retrying in ${seconds} s`, {
        code: 'BRIDGE_RATE_LIMITED',
        retryAfterMs: seconds * 1000,
        cause: err,
      });
    }
    if (e.code === 400) return new BridgeError(bridge, base, { code: 'BRIDGE_REJECTED', retryable: false, cause: err });
    // 401/403 (token revoked, bot removed or demoted) and 5xx: an admin or Telegram can still fix it.
    return new BridgeError(bridge, base, { cause: err });
  }
  if (err instanceof HttpError) {
    const inner = err.error instanceof Error ? err.error.message : String(err.error);
    const reason = redact(`${err.message} ${inner}`, token);
    return new BridgeError(bridge, `${PACKAGE_NAME}: ${action} failed: Telegram could not be reached (${reason})`, {
      cause: new Error(reason),
    });
  }
  const reason = redact(err instanceof Error ? err.message : String(err), token);
  return new BridgeError(bridge, `${PACKAGE_NAME}: ${action} failed: ${reason}`, { cause: new Error(reason) });
}
