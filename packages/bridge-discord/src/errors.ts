import { BridgeError, SetupError } from '@pocketping/core';
import { DiscordAPIError, HTTPError, RateLimitError } from 'discord.js';

/** Discord JSON error codes the bridge reacts to. */
export const DiscordCode = {
  UnknownChannel: 10003,
  UnknownMessage: 10008,
  MissingAccess: 50001,
  MissingPermissions: 50013,
  ThreadArchived: 50083,
} as const;

/** True when `err` is a Discord API error with this JSON `code`. */
export function hasDiscordCode(err: unknown, code: number): boolean {
  return err instanceof DiscordAPIError && err.code === code;
}

/** HTTP status of a Discord REST failure, when there is one. */
export function discordStatus(err: unknown): number | undefined {
  if (err instanceof DiscordAPIError || err instanceof HTTPError) return err.status;
  return undefined;
}

/**
 * Turns a discord.js failure into a `BridgeError` so PocketPing's queue retries it (or gives up
 * when retrying cannot help, e.g. a message Discord rejects as invalid).
 */
export function toBridgeError(bridge: string, operation: string, err: unknown): BridgeError {
  if (err instanceof BridgeError) return err;
  const prefix = `@pocketping/bridge-discord: ${operation} failed`;
  if (err instanceof RateLimitError) {
    return new BridgeError(bridge, `${prefix}: rate limited by Discord for ${err.retryAfter || err.timeToReset} ms`, {
      cause: err,
      retryAfterMs: Math.max(err.retryAfter, err.timeToReset),
    });
  }
  if (err instanceof DiscordAPIError) {
    // 4xx other than auth/permission/not-found problems mean the payload itself is refused.
    const permanent = err.status === 400 || err.status === 413;
    return new BridgeError(bridge, `${prefix}: Discord answered ${err.status} (code ${err.code}) ${err.message}`, {
      cause: err,
      code: permanent ? 'BRIDGE_REJECTED' : 'BRIDGE_UNAVAILABLE',
      retryable: !permanent,
    });
  }
  const reason = err instanceof Error ? err.message : String(err);
  return new BridgeError(bridge, `${prefix}: ${reason}`, { cause: err });
}

/** Any failure during setup, as a `SetupError` (a setup guide is kept as it is). */
export function asSetupError(err: unknown): SetupError {
  if (err instanceof SetupError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new SetupError({
    component: 'Discord',
    problem: `@pocketping/bridge-discord: could not reach Discord: ${reason}`,
    steps: ['Check the network connection to discord.com', 'Check apiUrl if you set one (it ends in /api)'],
    cause: err,
  });
}
