import type { APIMessage, APIWebhook, RawFile, REST } from 'discord.js';
import { Routes } from 'discord.js';
import { DiscordCode, discordStatus, hasDiscordCode } from './errors.js';
import { type MessageBody, NO_MENTIONS } from './format.js';
import { WEBHOOK_URL_PATTERN } from './options.js';

/**
 * Webhook mode, outbound: posts into the webhook's channel with a per-message username. Discord
 * lets a webhook edit and delete its own messages, so visitor edits and deletes are kept in sync;
 * nothing comes back from Discord in this mode.
 */
export class WebhookPoster {
  private readonly id: string;
  private readonly token: string;

  constructor(
    private readonly rest: REST,
    webhookUrl: string,
    private readonly avatarUrl: string | undefined,
  ) {
    const match = WEBHOOK_URL_PATTERN.exec(webhookUrl);
    if (!match) throw new Error('@pocketping/bridge-discord: webhookUrl is not a Discord webhook URL');
    this.id = match[1]!;
    this.token = match[2]!;
  }

  /** Reads the webhook (to validate the URL). Throws the REST error with its status. */
  async describe(): Promise<APIWebhook> {
    return (await this.rest.get(Routes.webhook(this.id, this.token), { auth: false })) as APIWebhook;
  }

  /** Status of a failed `describe()`, for the setup guide. */
  static statusOf(err: unknown): number | undefined {
    return discordStatus(err);
  }

  /** Posts a message as `username`; `wait=true` makes Discord return it (we need its id). */
  async post(username: string, body: MessageBody, files?: RawFile[]): Promise<APIMessage> {
    return (await this.rest.post(Routes.webhook(this.id, this.token), {
      auth: false,
      query: new URLSearchParams({ wait: 'true' }),
      body: {
        content: body.content,
        embeds: body.embeds,
        username,
        ...(this.avatarUrl ? { avatar_url: this.avatarUrl } : {}),
        allowed_mentions: NO_MENTIONS,
      },
      ...(files && files.length > 0 ? { files } : {}),
    })) as APIMessage;
  }

  /** The current text of a message this webhook posted, or undefined when it is gone. */
  async fetch(messageId: string): Promise<APIMessage | undefined> {
    try {
      return (await this.rest.get(Routes.webhookMessage(this.id, this.token, messageId), {
        auth: false,
      })) as APIMessage;
    } catch (err) {
      if (hasDiscordCode(err, DiscordCode.UnknownMessage)) return undefined;
      throw err;
    }
  }

  /** Edits a message this webhook posted. */
  async edit(messageId: string, body: MessageBody): Promise<void> {
    try {
      await this.rest.patch(Routes.webhookMessage(this.id, this.token, messageId), {
        auth: false,
        body: { content: body.content, embeds: body.embeds, allowed_mentions: NO_MENTIONS },
      });
    } catch (err) {
      if (!hasDiscordCode(err, DiscordCode.UnknownMessage)) throw err;
    }
  }

  /** Deletes a message this webhook posted; one that is already gone is fine. */
  async delete(messageId: string): Promise<void> {
    try {
      await this.rest.delete(Routes.webhookMessage(this.id, this.token, messageId), { auth: false });
    } catch (err) {
      if (!hasDiscordCode(err, DiscordCode.UnknownMessage)) throw err;
    }
  }
}
