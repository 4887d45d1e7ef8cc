import { SetupError } from '@pocketping/core';
import { PermissionFlagsBits, PermissionsBitField } from 'discord.js';

const DOCS_URL = 'https://github.com/pocketping/pocketping-ts/tree/main/packages/bridge-discord';
const PORTAL = 'https://discord.com/developers/applications';

/** Permissions the bot needs in the configured channel, by name. */
export const REQUIRED_PERMISSIONS = [
  'ViewChannel',
  'SendMessages',
  'EmbedLinks',
  'AttachFiles',
  'ReadMessageHistory',
  'CreatePublicThreads',
  'SendMessagesInThreads',
  'ManageThreads',
] as const satisfies readonly (keyof typeof PermissionFlagsBits)[];

/** The permission integer for the invite URL (326417632256). */
export const REQUIRED_PERMISSIONS_INTEGER: string = new PermissionsBitField(
  REQUIRED_PERMISSIONS.map((p) => PermissionFlagsBits[p]),
).bitfield.toString();

/** The OAuth2 URL that adds the bot to a server with the permissions the bridge needs. */
export function inviteUrl(applicationId: string): string {
  return `https://discord.com/oauth2/authorize?client_id=${applicationId}&scope=bot&permissions=${REQUIRED_PERMISSIONS_INTEGER}`;
}

function guide(problem: string, steps: string[], cause?: unknown): SetupError {
  return new SetupError({ component: 'Discord', problem, steps, docsUrl: DOCS_URL, cause });
}

/** No credentials at all. */
export function missingToken(): SetupError {
  return guide('no bot token (DISCORD_BOT_TOKEN) and no webhook URL were given', [
    `Open ${PORTAL} and create an application (New Application)`,
    'On the Bot page, click Reset Token and copy the token',
    'On the same page, enable the Message Content Intent',
    'Pass it as botToken (e.g. botToken: process.env.DISCORD_BOT_TOKEN) with a channelId',
    'Or, to only post messages, pass webhookUrl (Channel settings › Integrations › Webhooks)',
  ]);
}

/** Bot token without channel. */
export function missingChannel(): SetupError {
  return guide('no channelId (DISCORD_CHANNEL_ID) was given', [
    'In Discord, open User Settings › Advanced and enable Developer Mode',
    'Right-click the text or forum channel for conversations and choose Copy Channel ID',
    'Pass it as channelId (e.g. channelId: process.env.DISCORD_CHANNEL_ID)',
  ]);
}

/** Discord answered 401 to the token. */
export function tokenRejected(cause?: unknown): SetupError {
  return guide(
    'Discord rejected the bot token (401 Unauthorized)',
    [
      `Open ${PORTAL}, pick your application and go to the Bot page`,
      'Click Reset Token and copy the new token (it is shown once)',
      'Update DISCORD_BOT_TOKEN; pass the bare token, without a "Bot " prefix',
    ],
    cause,
  );
}

/** The channel does not exist or the bot cannot see it. */
export function channelNotFound(channelId: string, applicationId: string | undefined, cause?: unknown): SetupError {
  return guide(
    `channel ${channelId} was not found, or the bot is not in its server`,
    [
      'Check channelId: right-click the channel › Copy Channel ID (Developer Mode on)',
      applicationId
        ? `Invite the bot to the server: ${inviteUrl(applicationId)}`
        : 'Invite the bot to the server (OAuth2 › URL Generator, scope "bot")',
      'Make sure the bot can view the channel (channel settings › Permissions)',
    ],
    cause,
  );
}

/** A voice channel, a category, a DM... */
export function wrongChannelType(channelId: string, type: string): SetupError {
  return guide(`channel ${channelId} is a ${type} channel; conversations need a text or forum channel`, [
    'Create or pick a text channel (or a forum channel) for conversations',
    'Copy its id (right-click › Copy Channel ID) and pass it as channelId',
  ]);
}

/** The bot lacks permissions in the channel. */
export function missingPermissions(channelId: string, missing: string[], applicationId: string): SetupError {
  // "ManageThreads" → "Manage Threads", the way Discord's settings spell them.
  const names = missing.map((p) => p.replace(/([a-z])([A-Z])/g, '$1 $2')).join(', ');
  return guide(`the bot lacks permissions in channel ${channelId}: ${names}`, [
    `In the channel settings › Permissions, allow the bot's role: ${names}`,
    `Or re-invite the bot with every permission it needs: ${inviteUrl(applicationId)}`,
  ]);
}

/** Gateway close code 4014, or application flags without the Message Content intent. */
export function disallowedIntents(cause?: unknown): SetupError {
  return guide(
    'the Message Content intent is not enabled, so Discord refused the Gateway connection (4014 disallowed intents)',
    [
      `Open ${PORTAL}, pick your application and go to the Bot page`,
      'Under Privileged Gateway Intents, enable Message Content Intent and save',
      'Restart PocketPing (bots in 100+ servers need Discord to approve the intent)',
    ],
    cause,
  );
}

/** The Gateway did not become ready in time. */
export function gatewayUnreachable(timeoutMs: number, cause?: unknown): SetupError {
  return guide(
    `the Discord Gateway did not become ready within ${timeoutMs} ms`,
    [
      'Check that this machine can open WebSocket connections to gateway.discord.gg',
      'Set gateway: false to only post (operator replies then need a long-running process)',
    ],
    cause,
  );
}

/** The webhook URL is wrong or the webhook was deleted. */
export function webhookRejected(status: number | undefined, cause?: unknown): SetupError {
  return guide(
    `Discord rejected the webhook URL${status ? ` (${status})` : ''}: it is wrong or the webhook was deleted`,
    [
      'In Discord, open the channel settings › Integrations › Webhooks',
      'Create a webhook (or open yours) and click Copy Webhook URL',
      'Pass it as webhookUrl (e.g. webhookUrl: process.env.DISCORD_WEBHOOK_URL)',
    ],
    cause,
  );
}
