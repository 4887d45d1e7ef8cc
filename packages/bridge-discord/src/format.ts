import { describeSession, type Message, type Session } from '@pocketping/core';
import { type APIEmbed, escapeMarkdown } from 'discord.js';

/** Discord's limit for `content`. */
export const CONTENT_LIMIT = 2000;
/** Discord's limit for an embed description. */
const EMBED_DESCRIPTION_LIMIT = 4096;
/** Discord's limit for a thread name. */
const THREAD_NAME_LIMIT = 100;

const CARD_COLOR = 0x5865f2;

/** No pings from anything PocketPing posts: visitors must not reach @everyone or a role. */
export const NO_MENTIONS = { parse: [] as never[] };

/** The text and embeds of one posted message. */
export interface MessageBody {
  content: string;
  embeds: APIEmbed[];
}

/** The session card: an embed with the facts of `describeSession`, posted when a thread opens. */
export function sessionCardEmbed(session: Session): APIEmbed {
  const card = describeSession(session);
  return {
    title: card.title.slice(0, 256),
    color: CARD_COLOR,
    fields: card.fields.slice(0, 25).map((f) => ({
      name: f.label.slice(0, 256),
      value: f.value.slice(0, 1024) || '—',
      inline: f.value.length <= 40,
    })),
    timestamp: session.createdAt.toISOString(),
    footer: { text: 'PocketPing' },
  };
}

/** Thread name for a session (Discord allows 100 characters). */
export function threadName(session: Session): string {
  return describeSession(session).title.slice(0, THREAD_NAME_LIMIT) || session.id;
}

/** Webhook mode: the username shown on a visitor's messages (Discord allows 80 characters). */
export function visitorUsername(session: Session): string {
  // Discord refuses webhook usernames that contain "discord" or "clyde".
  return describeSession(session)
    .title.replace(/discord/gi, 'd1scord')
    .replace(/clyde/gi, 'clyd3')
    .slice(0, 80);
}

/**
 * Text that fits Discord: up to 2000 characters as content, longer text (PocketPing allows
 * 4000) as an embed description so nothing is cut.
 */
export function bodyOf(text: string, extraLines: string[] = []): MessageBody {
  const content = [text, ...extraLines].filter((s) => s.length > 0).join('\n');
  if (content.length <= CONTENT_LIMIT) return { content: content || '\u200b', embeds: [] };
  return {
    content: extraLines.join('\n').slice(0, CONTENT_LIMIT),
    embeds: [{ description: text.slice(0, EMBED_DESCRIPTION_LIMIT) }],
  };
}

/** `telegram` → `Telegram`, for "Ana via Telegram". */
function platformLabel(source: string): string {
  return source.charAt(0).toUpperCase() + source.slice(1);
}

/**
 * Who wrote an operator or AI message mirrored from elsewhere: "Ana via Telegram", "Ana", "AI".
 * `source` is a bridge name, or `api`/`widget` for replies that came from no bridge.
 */
export function operatorLabel(message: Message, operatorName?: string, sourceBridge?: string): string {
  const name = operatorName ?? message.operatorName ?? (message.sender === 'ai' ? 'AI' : 'Operator');
  const source = sourceBridge ?? message.source;
  return source && source !== 'api' && source !== 'widget' ? `${name} via ${platformLabel(source)}` : name;
}

/** "**Ana via Telegram**: text", the way mirrored operator replies read in the thread. */
export function attributed(label: string, text: string): string {
  return `**${escapeMarkdown(label)}**: ${text}`;
}

/** A one-line notice in the thread. */
export function noticeText(text: string): string {
  return `*${escapeMarkdown(text)}*`;
}

const LINK_PREFIX = '📎 ';

/** Markdown links for files that were not uploaded. */
export function fileLinks(links: { filename: string; url: string }[]): string[] {
  return links.map((l) => `${LINK_PREFIX}[${escapeMarkdown(l.filename).replace(/[[\]]/g, '')}](<${l.url}>)`);
}

/** The file-link lines of a posted message, kept when its text is edited. */
export function linkLinesOf(content: string | undefined): string[] {
  return (content ?? '').split('\n').filter((line) => line.startsWith(`${LINK_PREFIX}[`));
}
