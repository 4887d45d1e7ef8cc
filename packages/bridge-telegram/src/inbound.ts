import { type Attachment, type BridgeContext, isPocketPingError, type Session } from '@pocketping/core';
import { type Api, Composer, type Context } from 'grammy';
import type { Message, UserFromGetMe } from 'grammy/types';
import { redact } from './telegram-errors.js';

/** Largest file the public Bot API lets a bot download with getFile. */
const DOWNLOAD_LIMIT_BYTES = 20 * 1024 * 1024;

/** What the operator-side handlers need from the running bridge. */
export interface InboundDeps {
  bridgeName: string;
  ctx: BridgeContext;
  /** Client for calls made while handling an update (retries network and 5xx errors by itself). */
  api: Api;
  chatId: number;
  me: UserFromGetMe;
  token: string;
  apiRoot: string;
  canDeleteMessages: boolean;
  /** Posts a short italic note in a topic (paced), optionally as a reply. */
  note(threadId: number, text: string, replyTo?: number): Promise<void>;
  /** Posts the session card in a topic (paced). */
  postCard(threadId: string, session: Session): Promise<void>;
}

interface FileRef {
  fileId: string;
  size?: number;
  filename: string;
  mimeType: string;
}

/** The file of a message, with a name and type for the widget. */
function fileOf(msg: Message): FileRef | undefined {
  if (msg.photo && msg.photo.length > 0) {
    const largest = msg.photo[msg.photo.length - 1]!;
    return {
      fileId: largest.file_id,
      ...(largest.file_size !== undefined ? { size: largest.file_size } : {}),
      filename: `photo_${largest.file_unique_id}.jpg`,
      mimeType: 'image/jpeg',
    };
  }
  const candidates: [
    { file_id: string; file_unique_id: string; file_size?: number; file_name?: string; mime_type?: string } | undefined,
    string,
    string,
  ][] = [
    [msg.document, 'file', 'application/octet-stream'],
    [msg.video, 'video.mp4', 'video/mp4'],
    [msg.animation, 'animation.mp4', 'video/mp4'],
    [msg.audio, 'audio.mp3', 'audio/mpeg'],
    [msg.voice, 'voice.ogg', 'audio/ogg'],
    [msg.video_note, 'video_note.mp4', 'video/mp4'],
  ];
  for (const [file, fallbackName, fallbackType] of candidates) {
    if (!file) continue;
    return {
      fileId: file.file_id,
      ...(file.file_size !== undefined ? { size: file.file_size } : {}),
      filename: file.file_name ?? `${file.file_unique_id}_${fallbackName}`,
      mimeType: file.mime_type ?? fallbackType,
    };
  }
  return undefined;
}

/** The message an operator explicitly replied to (not the topic's own first message). */
function explicitReply(msg: Message): number | undefined {
  const ref = msg.reply_to_message;
  if (!ref) return undefined;
  // In a forum topic every message "replies" to the topic-created service message.
  if (ref.message_id === msg.message_thread_id || ref.forum_topic_created) return undefined;
  return ref.message_id;
}

/** True for messages written by bots (ours included); anonymous group admins are people. */
function fromBot(msg: Message): boolean {
  if (msg.sender_chat && msg.sender_chat.id === msg.chat.id) return false;
  return msg.from?.is_bot === true || msg.sender_chat !== undefined;
}

function operatorName(msg: Message): string | undefined {
  if (msg.sender_chat && msg.sender_chat.id === msg.chat.id) {
    return msg.author_signature ?? ('title' in msg.chat ? msg.chat.title : undefined);
  }
  return msg.from?.first_name;
}

/** `/close`, `/info` or `/delete` addressed to this bot, if the text is one. */
function commandOf(text: string | undefined, me: UserFromGetMe): 'close' | 'info' | 'delete' | undefined {
  const m = text?.match(/^\/([a-z]+)(?:@([A-Za-z0-9_]+))?(?:\s|$)/i);
  if (!m) return undefined;
  if (m[2] && m[2].toLowerCase() !== me.username.toLowerCase()) return undefined;
  const name = m[1]!.toLowerCase();
  return name === 'close' || name === 'info' || name === 'delete' ? name : undefined;
}

function reasonOf(err: unknown, token: string): string {
  return redact(err instanceof Error ? err.message : String(err), token);
}

/**
 * The operator side: messages and edits written in a session's topic reach the widget;
 * `/close`, `/info` and `/delete` act on the session. Each update is applied once.
 */
export function inboundComposer(deps: InboundDeps): Composer<Context> {
  const { ctx } = deps;
  const composer = new Composer<Context>();

  composer.use(async (c, next) => {
    if (await ctx.firstDelivery(String(c.update.update_id))) await next();
  });

  composer.on('message', async (c) => {
    const msg = c.message;
    const found = await topicSession(msg);
    if (!found) return;
    const { session, threadId } = found;

    if (msg.forum_topic_closed) {
      // A person closed the topic in Telegram: close the conversation too.
      await ctx.closeSession(session.id);
      return;
    }
    const command = commandOf(msg.text, deps.me);
    if (command === 'close') {
      await ctx.closeSession(session.id);
      return;
    }
    if (command === 'info') {
      await deps.postCard(String(threadId), (await ctx.getSession(session.id)) ?? session);
      return;
    }
    if (command === 'delete') {
      await deleteReply(msg, threadId);
      return;
    }

    // Applied already (by this instance before a restart, or by another instance before it lost
    // the polling lease): Telegram hands unconfirmed updates out again. Core would keep one
    // message anyway; skipping here also avoids downloading and storing its file twice.
    if (await ctx.findMessageByPlatformId(String(msg.message_id))) return;

    const attachments: Attachment[] = [];
    const file = fileOf(msg);
    if (file) {
      const stored = await download(session, file, msg, threadId);
      if (stored) attachments.push(stored);
    }
    const content = msg.text ?? msg.caption ?? msg.sticker?.emoji ?? '';
    if (content.trim().length === 0 && attachments.length === 0) return;
    const replyTo = explicitReply(msg);
    try {
      await ctx.operatorMessage({
        sessionId: session.id,
        content,
        platformMessageId: String(msg.message_id),
        ...(operatorName(msg) ? { operatorName: operatorName(msg)! } : {}),
        ...(replyTo !== undefined ? { replyToPlatformMessageId: String(replyTo) } : {}),
        ...(attachments.length > 0 ? { attachments } : {}),
      });
    } catch (err) {
      ctx.logger.warn(
        { bridge: deps.bridgeName, sessionId: session.id, err: reasonOf(err, deps.token) },
        'operator message from Telegram was not delivered',
      );
      const why = isPocketPingError(err) ? err.message : 'the server could not store it';
      await deps.note(threadId, `⚠️ Not delivered to the visitor: ${why}`, msg.message_id);
    }
  });

  composer.on('edited_message', async (c) => {
    const msg = c.editedMessage;
    if (!(await topicSession(msg))) return;
    const content = msg.text ?? msg.caption;
    if (content === undefined || content.trim().length === 0) return;
    await ctx.operatorEdit({ platformMessageId: String(msg.message_id), content });
  });

  async function topicSession(msg: Message): Promise<{ session: Session; threadId: number } | undefined> {
    if (msg.chat.id !== deps.chatId || !msg.is_topic_message || msg.message_thread_id === undefined) return undefined;
    if (fromBot(msg)) return undefined;
    const session = await ctx.findSessionByThread(String(msg.message_thread_id));
    return session ? { session, threadId: msg.message_thread_id } : undefined;
  }

  async function deleteReply(msg: Message, threadId: number): Promise<void> {
    const target = explicitReply(msg);
    if (target === undefined) {
      await deps.note(
        threadId,
        'Reply /delete to one of your answers to remove it from the visitor’s chat.',
        msg.message_id,
      );
      return;
    }
    const existing = await ctx.findMessageByPlatformId(String(target));
    // The same /delete seen again (a redelivered update): it was done the first time.
    if (existing?.deletedAt && existing.sender !== 'visitor') return;
    const removed = await ctx.operatorDelete({ platformMessageId: String(target) });
    if (!removed) {
      await deps.note(threadId, 'Only operator answers can be removed with /delete.', msg.message_id);
      return;
    }
    let cleaned = deps.canDeleteMessages;
    if (cleaned) {
      for (const id of [target, msg.message_id]) {
        try {
          await deps.api.deleteMessage(deps.chatId, id);
        } catch {
          cleaned = false;
        }
      }
    }
    if (!cleaned) await deps.note(threadId, '🗑 Removed from the visitor’s chat.', target);
  }

  async function download(
    session: Session,
    file: FileRef,
    msg: Message,
    threadId: number,
  ): Promise<Attachment | undefined> {
    try {
      if (file.size !== undefined && file.size > DOWNLOAD_LIMIT_BYTES && deps.apiRoot === 'https://api.telegram.org') {
        throw new Error('Telegram lets bots download files up to 20 MB');
      }
      const info = await deps.api.getFile(file.fileId);
      if (!info.file_path) throw new Error('Telegram did not give a download path for this file');
      const res = await fetch(`${deps.apiRoot}/file/bot${deps.token}/${info.file_path}`, {
        signal: AbortSignal.timeout(60_000),
      });
      if (!res.ok) throw new Error(`the download answered HTTP ${res.status}`);
      const data = new Uint8Array(await res.arrayBuffer());
      return await ctx.storeFile(session.id, {
        filename: file.filename,
        mimeType: file.mimeType,
        data,
        bridgeFileId: file.fileId,
      });
    } catch (err) {
      const reason = reasonOf(err, deps.token);
      ctx.logger.warn(
        { bridge: deps.bridgeName, sessionId: session.id, err: reason },
        'file from Telegram not forwarded',
      );
      await deps.note(threadId, `⚠️ The file was not forwarded to the visitor: ${reason}`, msg.message_id);
      return undefined;
    }
  }

  return composer;
}
