import { type Attachment, describeSession, type Message, type Session } from '@pocketping/core';

/** A Block Kit block, as far as this bridge builds them. */
export interface SlackBlock {
  type: string;
  [key: string]: unknown;
}

/**
 * Escapes the three characters Slack gives meaning to, so visitor text cannot open a mention
 * (`<!channel>`, `<@U123>`) or a disguised link (`<https://evil|bank.com>`).
 */
export function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/** A quote of the replied-to message: Slack has no reply-to inside a thread. */
export function quoteOf(original: Message): string {
  const body = original.deletedAt
    ? '_(deleted message)_'
    : truncate(original.content.trim() || (original.attachments?.length ? '📎 file' : ''), 300);
  return body
    .split('\n')
    .map((line) => `> ${escapeText(line)}`)
    .join('\n');
}

/** One line per attachment, as a link when the file has a public URL. */
export function attachmentLines(attachments: readonly Attachment[] | undefined): string[] {
  return (attachments ?? []).map((a) => {
    const label = escapeText(a.filename).replace(/\|/g, '¦');
    if (!a.url) return `📎 ${label}`;
    const url = escapeText(a.url).replace(/\|/g, '%7C');
    return `📎 <${url}|${label}>`;
  });
}

/** The text of a visitor message in the thread: quote, text, file links. */
export function visitorText(message: Message, replyTo?: Message, edited = false): string {
  const parts: string[] = [];
  if (replyTo) parts.push(quoteOf(replyTo));
  if (message.content.length > 0) parts.push(escapeText(message.content) + (edited ? ' _(edited)_' : ''));
  parts.push(...attachmentLines(message.attachments));
  return parts.join('\n');
}

/** "Ana via Telegram": who wrote an operator or AI message, and where. */
export function authorLabel(message: Message, sourceBridge?: string): string {
  const who = message.operatorName || (message.sender === 'ai' ? 'AI' : 'Operator');
  const source = sourceBridge ?? message.source;
  const via =
    source && source !== 'api' && source !== 'widget' ? ` via ${source.charAt(0).toUpperCase()}${source.slice(1)}` : '';
  return `${who}${via}`;
}

/** The text of an operator/AI message mirrored from elsewhere: attributed, quote, file links. */
export function operatorText(
  message: Message,
  options: { sourceBridge?: string; replyTo?: Message; edited?: boolean } = {},
): string {
  const parts: string[] = [];
  if (options.replyTo) parts.push(quoteOf(options.replyTo));
  const label = `*${escapeText(authorLabel(message, options.sourceBridge))}*`;
  const edited = options.edited ? ' _(edited)_' : '';
  parts.push(message.content.length > 0 ? `${label}: ${escapeText(message.content)}${edited}` : `${label}:`);
  parts.push(...attachmentLines(message.attachments));
  return parts.join('\n');
}

/** Plain-text fallback of the session card (notifications, screen readers). */
export function cardFallback(session: Session): string {
  return `💬 New conversation: ${escapeText(describeSession(session).title)}`;
}

/** The session card: a header with the thread title and the session facts as fields. */
export function cardBlocks(session: Session): SlackBlock[] {
  const card = describeSession(session);
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(`💬 ${card.title}`, 150), emoji: true } },
  ];
  const fields = card.fields.map((f) => ({
    type: 'mrkdwn',
    text: truncate(`*${escapeText(f.label)}*\n${escapeText(f.value)}`, 2000),
  }));
  // Slack allows at most 10 fields per section block.
  for (let i = 0; i < fields.length; i += 10) {
    blocks.push({ type: 'section', fields: fields.slice(i, i + 10) });
  }
  return blocks;
}

/**
 * Turns a Slack message's text into the plain text the widget shows: mentions become `@name`,
 * links `label (url)`, and Slack's entity escapes are undone.
 */
export function fromSlackText(text: string, userName: (id: string) => string | undefined): string {
  const converted = text.replace(/<([^<>]*)>/g, (_all, inner: string) => {
    const [target = '', label] = inner.split('|', 2);
    if (target.startsWith('@')) return `@${label || userName(target.slice(1)) || target.slice(1)}`;
    if (target.startsWith('#')) return `#${label || target.slice(1)}`;
    if (target.startsWith('!')) {
      const special = target.slice(1).split('^')[0] ?? '';
      if (special === 'here' || special === 'channel' || special === 'everyone') return `@${special}`;
      return label ?? '';
    }
    if (!label || label === target || label === target.replace(/^mailto:/, '')) return target.replace(/^mailto:/, '');
    return `${label} (${target})`;
  });
  return converted.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}
