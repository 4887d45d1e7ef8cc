import { type Logger, SetupError } from '@pocketping/core';
import type { WebClient } from '@slack/web-api';
import { neededScopes, platformErrorCode } from './slack-errors.js';

/** Where the setup guides point. */
export const DOCS_URL = 'https://github.com/pocketping/pocketping-ts/tree/main/packages/bridge-slack';

/** Bot token scopes the bridge needs in every workspace. */
export const REQUIRED_SCOPES = ['chat:write', 'users:read', 'files:read'] as const;

/** Reading thread replies needs one of these, depending on whether the channel is private. */
export const HISTORY_SCOPES = { public: 'channels:history', private: 'groups:history' } as const;

const COMPONENT = 'Slack';
const AUTH_ERRORS = new Set(['invalid_auth', 'not_authed', 'token_revoked', 'token_expired', 'account_inactive']);
const SCOPE_STEP = `Open https://api.slack.com/apps → your app → OAuth & Permissions → Bot Token Scopes, and add ${REQUIRED_SCOPES.join(', ')}, ${HISTORY_SCOPES.public} (public channel) or ${HISTORY_SCOPES.private} (private channel)`;

function guide(problem: string, steps: string[], cause?: unknown): SetupError {
  return new SetupError({ component: COMPONENT, problem, steps, docsUrl: DOCS_URL, cause });
}

/** The guide for bot-mode options that are not set, or `undefined` when all are there. */
export function missingOptionsError(options: {
  botToken?: string;
  channelId?: string;
  signingSecret?: string;
}): SetupError | undefined {
  if (!options.botToken) {
    return guide('botToken is missing (or give webhookUrl to only post messages)', [
      'Create a Slack app at https://api.slack.com/apps → Create New App → From scratch',
      SCOPE_STEP,
      'Click Install to Workspace, then copy the Bot User OAuth Token (xoxb-...) into botToken',
      'To only post messages (no edits, deletes or replies from Slack), create an Incoming Webhook instead and set webhookUrl',
    ]);
  }
  if (!options.channelId) {
    return guide('channelId is missing', [
      'Open the channel in Slack, click its name, and copy the Channel ID (C...) shown at the bottom of the About tab',
      'Set channelId to it',
      'Invite the bot into that channel: type /invite @your-app in the channel',
    ]);
  }
  if (!options.signingSecret) {
    return guide('signingSecret is missing (it verifies that events really come from Slack)', [
      'Open https://api.slack.com/apps → your app → Basic Information → App Credentials',
      'Click Show next to Signing Secret and copy it into signingSecret',
      'Under Event Subscriptions, set the Request URL to https://your-host/pocketping/webhooks/slack',
    ]);
  }
  return undefined;
}

function inviteGuide(channelId: string, cause?: unknown): SetupError {
  return guide(
    `the bot is not a member of channel ${channelId}`,
    [
      `Open the channel ${channelId} in Slack`,
      'Invite the bot with /invite @app (your app’s name), or channel details → Integrations → Add apps',
      'Restart PocketPing (or run pocketping-server check)',
    ],
    cause,
  );
}

function scopesGuide(missing: string[], cause?: unknown): SetupError {
  return guide(
    `the bot token lacks these scopes: ${missing.join(', ')}`,
    [
      `Open https://api.slack.com/apps → your app → OAuth & Permissions → Bot Token Scopes and add ${missing.join(', ')}`,
      'Click Reinstall to Workspace (new scopes only apply after reinstalling)',
      'Copy the Bot User OAuth Token again if it changed',
    ],
    cause,
  );
}

function authGuide(code: string, cause: unknown): SetupError {
  return guide(
    `Slack rejected the bot token (${code})`,
    [
      'Open https://api.slack.com/apps → your app → OAuth & Permissions',
      'Copy the Bot User OAuth Token (it starts with xoxb-) into botToken',
      'If the app was uninstalled or the token revoked, click Install to Workspace again first',
    ],
    cause,
  );
}

/** Who the bot is, learned from `auth.test`; used to ignore our own posts. */
export interface BotIdentity {
  userId?: string;
  botId?: string;
}

/**
 * Checks a bot-mode configuration against Slack: the token works, the bot is in the channel,
 * and it has the scopes the bridge needs. Throws `SetupError` with a guide when not.
 */
export async function validateBotSetup(input: {
  client: WebClient;
  channelId: string;
  apiUrl: string;
  logger: Logger;
}): Promise<BotIdentity> {
  const { client, channelId } = input;
  let auth: Awaited<ReturnType<WebClient['auth']['test']>>;
  try {
    auth = await client.auth.test();
  } catch (err) {
    const code = platformErrorCode(err);
    if (code && AUTH_ERRORS.has(code)) throw authGuide(code, err);
    const reason = code ?? (err instanceof Error ? err.message : String(err));
    throw guide(
      `could not check the bot token with Slack (${reason})`,
      [`Check that this machine can reach ${input.apiUrl}`, 'Run pocketping-server check again'],
      err,
    );
  }
  const granted = auth.response_metadata?.scopes;

  let isPrivate: boolean | undefined;
  try {
    const info = await client.conversations.info({ channel: channelId });
    const channel = info.channel;
    if (channel?.is_archived) {
      throw guide(`channel ${channelId} is archived`, [
        'Unarchive the channel, or create a new one and set channelId to its ID',
        'Invite the bot into it with /invite @app',
      ]);
    }
    if (channel && channel.is_member === false) throw inviteGuide(channelId);
    isPrivate = channel?.is_private;
  } catch (err) {
    if (err instanceof SetupError) throw err;
    const code = platformErrorCode(err);
    if (code === 'not_in_channel') throw inviteGuide(channelId, err);
    if (code === 'channel_not_found') {
      throw guide(
        `channel ${channelId} was not found`,
        [
          'Check channelId: open the channel, click its name, and copy the Channel ID (C...) from the About tab',
          'A private channel is only visible to the bot once invited: type /invite @app in it',
        ],
        err,
      );
    }
    if (code && AUTH_ERRORS.has(code)) throw authGuide(code, err);
    if (code === 'missing_scope') {
      const missing = neededScopes(err).filter(
        (s) =>
          (REQUIRED_SCOPES as readonly string[]).includes(s) ||
          s === HISTORY_SCOPES.public ||
          s === HISTORY_SCOPES.private,
      );
      if (missing.length > 0) throw scopesGuide(missing, err);
      // conversations.info needs channels:read / groups:read, which the bridge itself does not;
      // without them the membership check is skipped and a post would say not_in_channel.
      input.logger.info(
        { needed: neededScopes(err) },
        'slack: cannot check channel membership without channels:read / groups:read; skipping that check',
      );
    } else {
      const reason = code ?? (err instanceof Error ? err.message : String(err));
      throw guide(
        `could not look up channel ${channelId} (${reason})`,
        ['Check channelId and that the bot is invited to the channel', 'Run pocketping-server check again'],
        err,
      );
    }
  }

  if (granted) {
    const missing: string[] = REQUIRED_SCOPES.filter((s) => !granted.includes(s));
    if (isPrivate === true && !granted.includes(HISTORY_SCOPES.private)) missing.push(HISTORY_SCOPES.private);
    else if (isPrivate === false && !granted.includes(HISTORY_SCOPES.public)) missing.push(HISTORY_SCOPES.public);
    else if (
      isPrivate === undefined &&
      !granted.includes(HISTORY_SCOPES.public) &&
      !granted.includes(HISTORY_SCOPES.private)
    ) {
      missing.push(`${HISTORY_SCOPES.public} or ${HISTORY_SCOPES.private}`);
    }
    if (missing.length > 0) throw scopesGuide(missing);
  }
  return {
    ...(auth.user_id ? { userId: auth.user_id } : {}),
    ...(auth.bot_id ? { botId: auth.bot_id } : {}),
  };
}
