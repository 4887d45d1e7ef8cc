import { BridgeError, isPocketPingError } from '@pocketping/core';
import {
  ErrorCode,
  type WebAPIHTTPError,
  type WebAPIPlatformError,
  type WebAPIRateLimitedError,
  type WebAPIRequestError,
} from '@slack/web-api';
import { PACKAGE_NAME } from './options.js';

/** Slack error codes that no retry can fix: the content or the configuration is wrong. */
const PERMANENT = new Set([
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'not_in_channel',
  'channel_not_found',
  'is_archived',
  'msg_too_long',
  'no_text',
  'invalid_blocks',
  'invalid_blocks_format',
  'too_many_attachments',
  'restricted_action',
  'ekm_access_denied',
  'cant_update_message',
  'cant_delete_message',
  'edit_window_closed',
  'invalid_arguments',
]);

/** Hints appended to errors that operators can fix themselves. */
const HINTS: Record<string, string> = {
  not_in_channel: 'invite the bot into the channel with /invite @your-app',
  channel_not_found: 'check channelId, and invite the bot if the channel is private',
  is_archived: 'the channel is archived; unarchive it or choose another channelId',
  missing_scope: 'add the missing scope under OAuth & Permissions and reinstall the app',
  invalid_auth: 'the bot token is wrong or was revoked; copy the Bot User OAuth Token again',
  token_revoked: 'the bot token was revoked; reinstall the app and copy the new token',
};

/** The Slack error code of an `ok:false` answer, if `err` is one. */
export function platformErrorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && (err as { code?: unknown }).code === ErrorCode.PlatformError) {
    return (err as WebAPIPlatformError).data.error;
  }
  return undefined;
}

/** The scopes a `missing_scope` error says are needed (`needed` is comma-separated). */
export function neededScopes(err: unknown): string[] {
  if (platformErrorCode(err) !== 'missing_scope') return [];
  const needed = ((err as WebAPIPlatformError).data as { needed?: unknown }).needed;
  return typeof needed === 'string' ? needed.split(/\s*,\s*/).filter(Boolean) : [];
}

/**
 * Seconds Slack asked us to wait, when `err` is the client giving up on a rate limit: either
 * `WebAPIRateLimitedError` (`rejectRateLimitedCalls`) or the request error the WebClient throws
 * once its own retries (retryConfig) are used up, whose message carries the Retry-After value.
 */
export function rateLimitSeconds(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (code === ErrorCode.RateLimitedError) return (err as WebAPIRateLimitedError).retryAfter;
  if (code === ErrorCode.RequestError) {
    const original = (err as WebAPIRequestError).original;
    const match = /rate limit was exceeded.*retry-after: (\d+)/i.exec(original?.message ?? '');
    if (match) return Number(match[1]);
  }
  return undefined;
}

/**
 * Turns anything the WebClient (or fetch) throws into a `BridgeError`, so core's delivery queue
 * knows whether and when to retry. Slack errors never cross the interface unwrapped.
 */
export function toBridgeError(bridge: string, operation: string, err: unknown): BridgeError {
  if (err instanceof BridgeError) return err;
  if (isPocketPingError(err) && err.name === 'BridgeError') return err as BridgeError;
  const prefix = `${PACKAGE_NAME}: ${operation} failed`;
  const retryAfter = rateLimitSeconds(err);
  if (retryAfter !== undefined) {
    return new BridgeError(bridge, `${prefix}: rate limited by Slack (retry after ${retryAfter}s)`, {
      cause: err,
      retryAfterMs: retryAfter * 1000,
    });
  }
  const slackCode = platformErrorCode(err);
  if (slackCode) {
    const needed = neededScopes(err);
    const detail = needed.length > 0 ? ` (needed: ${needed.join(', ')})` : '';
    const hint = HINTS[slackCode] ? `; ${HINTS[slackCode]}` : '';
    const permanent = PERMANENT.has(slackCode);
    return new BridgeError(bridge, `${prefix}: ${slackCode}${detail}${hint}`, {
      cause: err,
      retryable: !permanent,
      code: permanent ? 'BRIDGE_REJECTED' : 'BRIDGE_UNAVAILABLE',
    });
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (code === ErrorCode.HTTPError) {
    const status = (err as WebAPIHTTPError).statusCode;
    const retryable = status >= 500 || status === 408;
    return new BridgeError(bridge, `${prefix}: Slack answered HTTP ${status}`, {
      cause: err,
      retryable,
      code: retryable ? 'BRIDGE_UNAVAILABLE' : 'BRIDGE_REJECTED',
    });
  }
  const reason = err instanceof Error ? err.message : String(err);
  return new BridgeError(bridge, `${prefix}: ${reason}`, { cause: err });
}
