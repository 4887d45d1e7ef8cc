import type { BridgeContext, Session } from '@pocketping/core';
import type { APIMessage, APIThreadChannel, Client, RawFile } from 'discord.js';
import { Routes } from 'discord.js';
import { DiscordCode, hasDiscordCode } from './errors.js';
import { type MessageBody, NO_MENTIONS, sessionCardEmbed, threadName } from './format.js';
import type { ChannelInfo } from './setup-check.js';

/** What one post into a thread carries. */
export interface PostInput {
  body: MessageBody;
  files?: RawFile[];
  /** Discord id of the message this one answers. */
  replyTo?: string;
}

/**
 * Bot mode, outbound: one thread per session in the configured channel, and the posts, edits
 * and deletes inside it, through discord.js' REST client (its queue waits out 429s in order).
 */
export class ThreadPoster {
  /** Threads this process archived (closed sessions); unarchived before the next post. */
  private readonly archived = new Set<string>();

  /**
   * @param client Used for REST only (its token set, never logged in by the bridge), so posting
   *   works on every instance, including those without the Gateway connection.
   * @param live The Gateway client while this instance holds it: its cache knows which threads
   *   Discord archived by itself.
   */
  constructor(
    private readonly client: Client,
    private readonly channel: ChannelInfo,
    private readonly ctx: BridgeContext,
    private readonly autoArchiveMinutes: number,
    private readonly live: () => Client | undefined = () => undefined,
  ) {}

  private get rest() {
    return this.client.rest;
  }

  /**
   * Opens the session's thread: in a text channel, the session card is posted and a thread is
   * started from it; in a forum, a post whose first message is the card. The thread is stored
   * at once, so a retry after a later failure does not open a second one.
   */
  async openThread(session: Session): Promise<string> {
    const name = threadName(session);
    const card = { embeds: [sessionCardEmbed(session)], allowed_mentions: NO_MENTIONS };
    let threadId: string;
    if (this.channel.forum) {
      const thread = (await this.rest.post(Routes.threads(this.channel.id), {
        body: { name, auto_archive_duration: this.autoArchiveMinutes, message: card },
      })) as APIThreadChannel;
      threadId = thread.id;
    } else {
      const starter = (await this.rest.post(Routes.channelMessages(this.channel.id), { body: card })) as APIMessage;
      const thread = (await this.rest.post(Routes.threads(this.channel.id, starter.id), {
        body: { name, auto_archive_duration: this.autoArchiveMinutes },
      })) as APIThreadChannel;
      threadId = thread.id;
    }
    await this.ctx.setThread(session.id, threadId);
    return threadId;
  }

  /**
   * Posts into the session's thread, opening it on first use and opening a new one when an
   * admin deleted the old. Returns the message and the thread it went into.
   */
  async postToSession(session: Session, input: PostInput): Promise<{ message: APIMessage; threadId: string }> {
    const known = session.bridgeThreads?.[this.ctx.bridgeName];
    const threadId = known ?? (await this.openThread(session));
    try {
      return { message: await this.post(threadId, input), threadId };
    } catch (err) {
      if (!known || !hasDiscordCode(err, DiscordCode.UnknownChannel)) throw err;
      this.ctx.logger.warn(
        { bridge: this.ctx.bridgeName, sessionId: session.id, threadId },
        '@pocketping/bridge-discord: the thread is gone (deleted in Discord); opening a new one',
      );
      const fresh = await this.openThread(session);
      return { message: await this.post(fresh, input), threadId: fresh };
    }
  }

  /** Posts into a thread, unarchiving it first when needed. */
  async post(threadId: string, input: PostInput): Promise<APIMessage> {
    const body = {
      content: input.body.content,
      embeds: input.body.embeds,
      allowed_mentions: NO_MENTIONS,
      ...(input.replyTo ? { message_reference: { message_id: input.replyTo, fail_if_not_exists: false } } : {}),
    };
    return this.inThread(
      threadId,
      async () =>
        (await this.rest.post(Routes.channelMessages(threadId), {
          body,
          ...(input.files && input.files.length > 0 ? { files: input.files } : {}),
        })) as APIMessage,
    );
  }

  /** The current text of a posted message (to keep its file links on edit). */
  async fetch(threadId: string, messageId: string): Promise<APIMessage | undefined> {
    try {
      return (await this.rest.get(Routes.channelMessage(threadId, messageId))) as APIMessage;
    } catch (err) {
      if (hasDiscordCode(err, DiscordCode.UnknownMessage) || hasDiscordCode(err, DiscordCode.UnknownChannel))
        return undefined;
      throw err;
    }
  }

  /** Replaces the text of a posted message; a message that is gone is left alone. */
  async edit(threadId: string, messageId: string, body: MessageBody): Promise<void> {
    await this.ignoringGone(() =>
      this.inThread(threadId, () =>
        this.rest.patch(Routes.channelMessage(threadId, messageId), {
          body: { content: body.content, embeds: body.embeds, allowed_mentions: NO_MENTIONS },
        }),
      ),
    );
  }

  /** Deletes a posted message; one that is already gone is fine. */
  async delete(threadId: string, messageId: string): Promise<void> {
    await this.ignoringGone(() =>
      this.inThread(threadId, () => this.rest.delete(Routes.channelMessage(threadId, messageId))),
    );
  }

  /** Renames the thread (identity update). */
  async rename(threadId: string, name: string): Promise<void> {
    await this.ignoringGone(() =>
      this.inThread(threadId, () => this.rest.patch(Routes.channel(threadId), { body: { name } })),
    );
  }

  /** Updates the session card (the thread's starter message). */
  async updateCard(threadId: string, session: Session): Promise<void> {
    // The card is the message the thread started from: same id, in the parent channel for a
    // text channel, inside the post for a forum.
    const where = this.channel.forum ? threadId : this.channel.id;
    await this.ignoringGone(() =>
      this.inThread(threadId, () =>
        this.rest.patch(Routes.channelMessage(where, threadId), {
          body: { embeds: [sessionCardEmbed(session)], allowed_mentions: NO_MENTIONS },
        }),
      ),
    );
  }

  /** Archives the thread (session closed). */
  async archive(threadId: string): Promise<void> {
    await this.ignoringGone(() => this.rest.patch(Routes.channel(threadId), { body: { archived: true } }));
    this.archived.add(threadId);
  }

  /**
   * Deletes the session's thread with everything in it (for a forum, the post). In a text
   * channel the thread started from the card, which stays in the channel: it is deleted too.
   * A thread or card that is already gone is fine.
   */
  async remove(threadId: string): Promise<void> {
    await this.ignoringGone(() => this.rest.delete(Routes.channel(threadId)));
    this.archived.delete(threadId);
    if (!this.channel.forum) {
      await this.ignoringGone(() => this.rest.delete(Routes.channelMessage(this.channel.id, threadId)));
    }
  }

  /** Shows "PocketPing is typing…" in the thread. */
  async typing(threadId: string): Promise<void> {
    if (this.isArchived(threadId)) return;
    await this.rest.post(Routes.channelTyping(threadId));
  }

  private isArchived(threadId: string): boolean {
    if (this.archived.has(threadId)) return true;
    for (const client of [this.live(), this.client]) {
      const cached = client?.channels.cache.get(threadId);
      if (cached?.isThread()) return cached.archived === true;
    }
    return false;
  }

  private async unarchive(threadId: string): Promise<void> {
    await this.rest.patch(Routes.channel(threadId), { body: { archived: false } });
    this.archived.delete(threadId);
  }

  /** Runs a thread operation, unarchiving first when the thread is known to be archived, or when Discord says so. */
  private async inThread<T>(threadId: string, op: () => Promise<T>): Promise<T> {
    if (this.isArchived(threadId)) await this.unarchive(threadId);
    try {
      return await op();
    } catch (err) {
      if (!hasDiscordCode(err, DiscordCode.ThreadArchived)) throw err;
      await this.unarchive(threadId);
      return op();
    }
  }

  private async ignoringGone(op: () => Promise<unknown>): Promise<void> {
    try {
      await op();
    } catch (err) {
      if (hasDiscordCode(err, DiscordCode.UnknownMessage) || hasDiscordCode(err, DiscordCode.UnknownChannel)) return;
      throw err;
    }
  }
}
