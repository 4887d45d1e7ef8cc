import { describeSession, type Message, type Session } from '@pocketping/core';

/** Telegram's limit on a caption, in characters after markup is parsed. */
export const CAPTION_LIMIT = 1024;

/** Markup helpers for one parse mode. Every helper takes raw text and escapes it. */
export interface Markup {
  readonly parseMode: 'HTML' | 'MarkdownV2';
  escape(text: string): string;
  bold(text: string): string;
  italic(text: string): string;
  link(text: string, url: string): string;
}

const htmlMarkup: Markup = {
  parseMode: 'HTML',
  // Telegram's HTML mode needs exactly these three replaced outside attributes.
  escape: (t) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'),
  bold: (t) => `<b>${htmlMarkup.escape(t)}</b>`,
  italic: (t) => `<i>${htmlMarkup.escape(t)}</i>`,
  link: (t, url) => `<a href="${htmlMarkup.escape(url).replace(/"/g, '&quot;')}">${htmlMarkup.escape(t)}</a>`,
};

const markdownMarkup: Markup = {
  parseMode: 'MarkdownV2',
  escape: (t) => t.replace(/[_*[\]()~`>#+\-=|{}.!\\]/g, '\\$&'),
  bold: (t) => `*${markdownMarkup.escape(t)}*`,
  italic: (t) => `_${markdownMarkup.escape(t)}_`,
  link: (t, url) => `[${markdownMarkup.escape(t)}](${url.replace(/[)\\]/g, '\\$&')})`,
};

/** The markup helpers of a parse mode. */
export function markupFor(parseMode: 'HTML' | 'MarkdownV2'): Markup {
  return parseMode === 'HTML' ? htmlMarkup : markdownMarkup;
}

/** Replaces `{key}` placeholders with escaped values; unknown placeholders stay as they are. */
function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in values ? values[key]! : whole));
}

function sessionValues(session: Session, markup: Markup): Record<string, string> {
  const card = describeSession(session);
  const raw: Record<string, string> = {
    title: card.title,
    name: session.identity?.name ?? '',
    email: session.identity?.email ?? session.preChat?.email ?? '',
    page: session.metadata?.url ?? '',
    sessionId: session.id,
    visitorId: session.visitorId,
  };
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, markup.escape(v)]));
}

/** A visitor message as posted in the topic, from `messageTemplate`. */
export function renderVisitorMessage(template: string, message: Message, session: Session, markup: Markup): string {
  return fill(template, { ...sessionValues(session, markup), text: markup.escape(message.content) }).trim();
}

function titleCase(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/**
 * An operator or AI reply mirrored from elsewhere, attributed: `Ana via Slack: text`, or
 * `Ana (dashboard)` when it came from the API.
 */
export function renderMirroredMessage(
  message: Message,
  markup: Markup,
  attribution: { operatorName?: string; sourceBridge?: string },
): string {
  const isAi = message.sender === 'ai';
  const name = attribution.operatorName ?? message.operatorName ?? (isAi ? 'AI' : 'Operator');
  const where = attribution.sourceBridge
    ? ` via ${titleCase(attribution.sourceBridge)}`
    : isAi && name !== 'AI'
      ? ' (AI)'
      : isAi
        ? ''
        : ' (dashboard)';
  const head = markup.bold(`${name}${where}`);
  return message.content ? `${head}: ${markup.escape(message.content)}` : head;
}

/** Where a stored message came from, as the attribution of its mirror. */
export function sourceBridgeOf(message: Message): string | undefined {
  return message.source && message.source !== 'api' && message.source !== 'widget' ? message.source : undefined;
}

const FIELD_VALUE_LIMIT = 300;

/** The session card posted first in each topic (and again on `/info`). */
export function renderSessionCard(template: string | undefined, session: Session, markup: Markup): string {
  const card = describeSession(session);
  const fields = card.fields
    .map((f) => {
      const value = f.value.length > FIELD_VALUE_LIMIT ? `${f.value.slice(0, FIELD_VALUE_LIMIT - 1)}…` : f.value;
      return `${markup.bold(`${f.label}:`)} ${markup.escape(value)}`;
    })
    .join('\n');
  if (template) return fill(template, { ...sessionValues(session, markup), fields }).trim();
  const hint = markup.italic(
    'Reply in this topic to answer. /close ends the conversation, /info shows this card, /delete (as a reply) removes an answer.',
  );
  return `🆕 ${markup.bold(card.title)}\n\n${fields}\n\n${hint}`;
}

/** Text of a posted message as the reader sees it (markup removed), to check the caption limit. */
export function visibleLength(text: string, markup: Markup): number {
  const plain =
    markup.parseMode === 'HTML'
      ? text.replace(/<[^>]*>/g, '').replace(/&(lt|gt|amp|quot|#\d+);/g, '_')
      : text.replace(/\\(.)|[*_]/g, (_m, escaped?: string) => escaped ?? '');
  return [...plain].length;
}
