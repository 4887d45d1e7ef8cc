import { SetupError } from '@pocketping/core';
import { type Api, GrammyError, HttpError } from 'grammy';
import type { ChatFullInfo, ChatMember, UserFromGetMe } from 'grammy/types';
import { DOCS_URL, type ResolvedTelegramBridgeOptions } from './options.js';
import { redact } from './telegram-errors.js';

const COMPONENT = 'Telegram';

/** What the setup checks learned, for the running bridge. */
export interface TelegramSetupFacts {
  /** The bot itself. */
  me: UserFromGetMe;
  /** The forum group, as Telegram describes it. */
  chat: ChatFullInfo;
  /** Numeric id of the group (resolved when `chatId` was an `@username`). */
  chatId: number;
  /** False when the bot may not delete other people's messages (`/delete` then leaves the reply). */
  canDeleteMessages: boolean;
}

function setupError(problem: string, steps: string[], cause?: unknown): SetupError {
  return new SetupError({ component: COMPONENT, problem, steps, docsUrl: DOCS_URL, cause });
}

const FIND_CHAT_ID_STEPS = [
  'Open the group in Telegram Web (web.telegram.org/a): the address ends in #-100…; that number is the chat id',
  'Or forward any message from the group to @RawDataBot (or @userinfobot) and copy "chat": { "id": … }',
  'Set it as `chatId` (YAML: chatId: ${TELEGRAM_CHAT_ID}); forum group ids start with -100',
];

/** Checks presence and shape of the token and chat id (no network). */
export function checkCredentialsShape(options: ResolvedTelegramBridgeOptions): { token: string; chatId: string } {
  const { token, chatId } = options;
  if (!token) {
    throw setupError('the bot token is missing', [
      'Open @BotFather in Telegram and send /newbot (or /mybots → your bot → API Token for an existing bot)',
      'Copy the token it answers with; it looks like 123456789:AAH…',
      'Pass it as `token` (YAML: token: ${TELEGRAM_BOT_TOKEN}) and set TELEGRAM_BOT_TOKEN in the environment',
    ]);
  }
  if (!/^\d+:[A-Za-z0-9_-]{30,}$/.test(token)) {
    const hint = /^bot\d+:/i.test(token)
      ? 'Remove the leading "bot": that prefix belongs in API URLs, not in the token'
      : /^["'].*["']$/.test(token)
        ? 'Remove the quotes around the token'
        : 'Copy the token again from @BotFather (/mybots → your bot → API Token); it must be the whole line';
    throw setupError('the bot token is malformed: expected <digits>:<about 35 letters, digits, _ or ->', [
      hint,
      'A token looks like 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw',
    ]);
  }
  if (!chatId) {
    throw setupError('the chat id of the forum group is missing', [
      'Create a Telegram group for your team (or use an existing one) and add the bot to it',
      ...FIND_CHAT_ID_STEPS,
    ]);
  }
  if (!/^-?\d+$/.test(chatId) && !/^@[A-Za-z][A-Za-z0-9_]{3,31}$/.test(chatId)) {
    throw setupError(`the chat id "${chatId}" is malformed: use the group's numeric id (-100…) or its @username`, [
      ...FIND_CHAT_ID_STEPS,
    ]);
  }
  if (/^\d+$/.test(chatId)) {
    throw setupError(
      `the chat id ${chatId} is a user's private chat, not a group: forum group ids are negative and start with -100`,
      FIND_CHAT_ID_STEPS,
    );
  }
  return { token, chatId };
}

function describe(err: unknown, token: string): string {
  if (err instanceof GrammyError) return `${err.error_code} ${redact(err.description, token)}`;
  if (err instanceof HttpError) {
    const inner = err.error instanceof Error ? err.error.message : String(err.error);
    return redact(inner, token);
  }
  return redact(err instanceof Error ? err.message : String(err), token);
}

function unreachable(err: unknown, apiRoot: string, token: string): SetupError {
  return setupError(`the Telegram Bot API at ${apiRoot} could not be reached (${describe(err, token)})`, [
    'Check that this server can open HTTPS connections to api.telegram.org (firewall, proxy, DNS)',
    'If you run your own Bot API server, check `apiRoot` (no trailing slash, e.g. http://127.0.0.1:8081)',
  ]);
}

function isAdminWithTopics(member: ChatMember): { ok: boolean; admin: boolean; canDelete: boolean } {
  if (member.status === 'creator') return { ok: true, admin: true, canDelete: true };
  if (member.status === 'administrator') {
    return { ok: member.can_manage_topics === true, admin: true, canDelete: member.can_delete_messages };
  }
  return { ok: false, admin: false, canDelete: false };
}

/**
 * Checks everything the bridge needs from Telegram: a valid token, a forum supergroup the bot
 * is in, and admin rights with Manage Topics. Throws `SetupError` with the fix.
 */
export async function checkTelegramSetup(
  api: Api,
  options: ResolvedTelegramBridgeOptions,
  credentials: { token: string; chatId: string },
): Promise<TelegramSetupFacts> {
  const { token, chatId } = credentials;
  let me: UserFromGetMe;
  try {
    me = await api.getMe();
  } catch (err) {
    if (err instanceof GrammyError && (err.error_code === 401 || err.error_code === 404)) {
      throw setupError(
        'Telegram rejected the bot token (401 Unauthorized): it is wrong or was revoked',
        [
          'Open @BotFather → /mybots → your bot → API Token and copy the current token',
          'If you pressed "Revoke current token", the old one no longer works: use the new one',
          'Set it as `token` (TELEGRAM_BOT_TOKEN) and restart',
        ],
        err,
      );
    }
    if (err instanceof HttpError) throw unreachable(err, options.apiRoot, token);
    throw setupError(`getMe failed: ${describe(err, token)}`, ['Check the token and `apiRoot`'], err);
  }

  const addBot = `In the group, open the members list → Add members → search @${me.username} → Add`;
  let chat: ChatFullInfo;
  try {
    chat = await api.getChat(/^@/.test(chatId) ? chatId : Number(chatId));
  } catch (err) {
    if (err instanceof HttpError) throw unreachable(err, options.apiRoot, token);
    const text = describe(err, token);
    throw setupError(
      `the bot @${me.username} cannot see the chat ${chatId} (${text})`,
      [
        addBot,
        'Check the chat id: it must be the group id starting with -100 (turning Topics on changes a group id)',
        ...FIND_CHAT_ID_STEPS.slice(0, 2),
      ],
      err,
    );
  }

  if (chat.type !== 'supergroup' || chat.is_forum !== true) {
    const kind =
      chat.type === 'supergroup'
        ? 'a group with Topics turned off'
        : chat.type === 'group'
          ? 'a basic group'
          : chat.type;
    throw setupError(`the chat ${chatId} is ${kind}: PocketPing needs a forum group (Topics on)`, [
      'Open the group → tap its name → Edit (the pencil; Telegram Desktop: ⋮ → Manage group)',
      'Turn on "Topics" and save (only the owner or an admin with rights to change group info can)',
      'A basic group becomes a supergroup then and gets a new id starting with -100: update `chatId`',
    ]);
  }

  const promote = [
    'Open the group → tap its name → Edit → Administrators → Add Admin',
    `Pick @${me.username}, turn on "Manage Topics" (and "Delete Messages" for /delete), then Save`,
  ];
  let member: ChatMember;
  try {
    member = await api.getChatMember(chat.id, me.id);
  } catch (err) {
    if (err instanceof HttpError) throw unreachable(err, options.apiRoot, token);
    throw setupError(
      `could not read the bot's rights in the group (${describe(err, token)})`,
      [addBot, ...promote],
      err,
    );
  }
  const rights = isAdminWithTopics(member);
  if (!rights.admin) {
    throw setupError(`the bot @${me.username} is not an admin of the group, so it cannot create topics`, promote);
  }
  if (!rights.ok) {
    throw setupError(`the bot @${me.username} is an admin but may not manage topics`, [
      `Open the group → tap its name → Edit → Administrators → @${me.username}`,
      'Turn on "Manage Topics" and Save',
    ]);
  }
  return { me, chat, chatId: chat.id, canDeleteMessages: rights.canDelete };
}
