import type { SetupError } from '@pocketping/core';
import {
  type APIApplication,
  type APIChannel,
  type APIUser,
  ApplicationFlags,
  ChannelType,
  type Client,
  DiscordAPIError,
  type GuildBasedChannel,
  Routes,
} from 'discord.js';
import { DiscordCode, discordStatus } from './errors.js';
import {
  channelNotFound,
  disallowedIntents,
  missingPermissions,
  REQUIRED_PERMISSIONS,
  tokenRejected,
  wrongChannelType,
} from './setup-guides.js';

/** The configured channel, as the bridge needs to know it. */
export interface ChannelInfo {
  id: string;
  guildId: string;
  /** Forum and media channels: each conversation is a post; otherwise a thread on a card message. */
  forum: boolean;
}

const THREAD_PARENTS = new Set<number>([ChannelType.GuildText, ChannelType.GuildAnnouncement]);
const FORUM_LIKE = new Set<number>([ChannelType.GuildForum, ChannelType.GuildMedia]);

/**
 * Checks the bot token, the channel and the bot's permissions there through REST, turning each
 * failure into a setup guide. Uses discord.js' own permission computation (roles, overwrites).
 */
export async function checkBotSetup(
  client: Client,
  channelId: string,
): Promise<{ botUser: APIUser; channel: ChannelInfo }> {
  let botUser: APIUser;
  try {
    botUser = (await client.rest.get(Routes.user())) as APIUser;
  } catch (err) {
    if (discordStatus(err) === 401) throw tokenRejected(err);
    throw err;
  }

  let raw: APIChannel;
  try {
    raw = (await client.rest.get(Routes.channel(channelId))) as APIChannel;
  } catch (err) {
    const status = discordStatus(err);
    if (status === 404 || status === 403 || (err instanceof DiscordAPIError && err.code === DiscordCode.UnknownChannel))
      throw channelNotFound(channelId, botUser.id, err);
    throw err;
  }
  const guildId = 'guild_id' in raw ? raw.guild_id : undefined;
  if (!guildId || !(THREAD_PARENTS.has(raw.type) || FORUM_LIKE.has(raw.type))) {
    throw wrongChannelType(channelId, ChannelType[raw.type] ?? String(raw.type));
  }
  const forum = FORUM_LIKE.has(raw.type);

  const guild = await client.guilds.fetch({ guild: guildId, force: true });
  const member = await guild.members.fetch({ user: botUser.id, force: true });
  const channel = (await client.channels.fetch(channelId, { force: true })) as GuildBasedChannel | null;
  const permissions = channel?.permissionsFor(member);
  const needed = REQUIRED_PERMISSIONS.filter((p) => !(forum && p === 'CreatePublicThreads'));
  const missing = needed.filter((p) => !permissions?.has(p));
  if (missing.length > 0) throw missingPermissions(channelId, missing, botUser.id);

  return { botUser, channel: { id: channelId, guildId, forum } };
}

/**
 * The Message Content intent as the application's flags show it (for `check()`, which does not
 * open the Gateway). Returns the guide when the intent is off.
 */
export async function checkMessageContentIntent(client: Client): Promise<SetupError | undefined> {
  const app = (await client.rest.get(Routes.currentApplication())) as APIApplication;
  const flags = app.flags ?? 0;
  const enabled = ApplicationFlags.GatewayMessageContent | ApplicationFlags.GatewayMessageContentLimited;
  return (flags & enabled) === 0 ? disallowedIntents() : undefined;
}
