import { describeIssues, ValidationError } from '@pocketping/core';
import { z } from 'zod';

/** The package name, used in every error message. */
export const PACKAGE_NAME = '@pocketping/bridge-telegram';

/** Where the README lives; printed at the end of every setup guide. */
export const DOCS_URL = 'https://github.com/pocketping/pocketping-ts/tree/main/packages/bridge-telegram';

// Empty strings count as "not set": `${TELEGRAM_BOT_TOKEN}` in a YAML file becomes '' when the
// variable is missing, and that must end in the setup guide at start, not in an API error.
const optionalText = z
  .string()
  .optional()
  .transform((v) => v?.trim() || undefined);

/**
 * Options of `new TelegramBridge({...})` and of `type: telegram` in `config.yaml` (same keys).
 * `token` and `chatId` are required, but checked at start (`init`/`check`) so that a missing
 * environment variable ends in a setup guide instead of a crash at construction.
 */
export const TelegramBridgeOptionsSchema = z
  .object({
    /** Bot token from @BotFather (`123456789:AA...`). Required. */
    token: optionalText,
    /**
     * The forum supergroup the topics go to: its numeric id (`-1001234567890`) or its public
     * `@username`. Required.
     */
    chatId: z
      .union([z.string(), z.number().int()])
      .optional()
      .transform((v) => (v === undefined ? undefined : String(v).trim() || undefined)),
    /**
     * Base URL of the Bot API, without a trailing slash: a self-hosted Bot API server, or a
     * local fake in tests. Files are downloaded from `{apiRoot}/file/bot<token>/<path>`.
     * @default 'https://api.telegram.org'
     */
    apiRoot: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://api.telegram.org' })
      .default('https://api.telegram.org')
      .transform((v) => v.replace(/\/+$/, '')),
    /**
     * How operator messages reach PocketPing: `webhook` (Telegram posts to
     * `{publicUrl}/webhooks/{name}`; needs a public HTTPS URL) or `polling` (the bridge asks
     * Telegram with long polling; for servers without a public URL).
     * @default 'webhook'
     */
    updates: z.enum(['webhook', 'polling']).default('webhook'),
    /**
     * Polling mode with several server instances on one storage: only the instance holding the
     * polling lease polls (Telegram allows one poller per bot). The lease lasts this long without
     * renewal, so another instance takes over within about this time when the poller dies.
     * Renewed every third of it. Ignored in webhook mode.
     * @default 15000
     */
    pollingLeaseMs: z.number().int().min(100, 'must be at least 100 (milliseconds)').default(15_000),
    /**
     * Secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token` with every webhook request
     * (1-256 characters of `A-Z a-z 0-9 _ -`). A random one is generated at each start when
     * omitted; set it when several server instances share one bot.
     */
    webhookSecret: optionalText.pipe(
      z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,256}$/, 'must be 1-256 characters of A-Z, a-z, 0-9, _ and -')
        .optional(),
    ),
    /**
     * Full URL Telegram should post updates to (webhook mode), when it is not
     * `{publicUrl}/webhooks/{name}` (a proxy that rewrites paths, for example).
     * @default `${publicUrl}/webhooks/${name}` from PocketPing's `publicUrl`
     */
    webhookUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    /**
     * Formatting of posted messages. Visitor text is always escaped for it, so a visitor can
     * never inject markup.
     * @default 'HTML'
     */
    parseMode: z.enum(['HTML', 'MarkdownV2']).default('HTML'),
    /** Posts visitor messages silently (no notification sound for operators). @default false */
    disableNotification: z.boolean().default(false),
    /**
     * Template of a visitor message, in `parseMode` markup. Placeholders (escaped for you):
     * `{text}`, `{title}`, `{name}`, `{email}`, `{page}`, `{sessionId}`, `{visitorId}`.
     * @default '{text}'
     */
    messageTemplate: z.string().min(1).default('{text}'),
    /**
     * Template of the session card posted first in each topic, in `parseMode` markup.
     * Placeholders: `{title}`, `{fields}` (one `Label: value` line per known fact), and the
     * ones of `messageTemplate` except `{text}`. The built-in card is used when omitted.
     */
    sessionTemplate: z.string().min(1).optional(),
    /**
     * Bridge name: the key of stored topic and message ids, and the webhook path
     * (`{prefix}/webhooks/{name}`). Give each bridge its own name when you run two bots.
     * @default 'telegram'
     */
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 characters of A-Z, a-z, 0-9, _ and -')
      .default('telegram'),
    /**
     * Pacing of posts to the group: at most `max` messages per `windowMs`. Telegram allows
     * about 20 messages per minute in one group and answers 429 beyond that. `false` turns
     * pacing off (429 answers are still honoured).
     * @default { max: 20, windowMs: 60000 }
     */
    rateLimit: z
      .union([
        z.literal(false),
        z
          .object({
            max: z.number().int().positive().default(20),
            windowMs: z.number().int().positive().default(60_000),
          })
          .strict(),
      ])
      .default({ max: 20, windowMs: 60_000 }),
  })
  .strict();

/** Options of `new TelegramBridge({...})`. */
export type TelegramBridgeOptions = z.input<typeof TelegramBridgeOptionsSchema>;

/** Options after validation and defaults. */
export type ResolvedTelegramBridgeOptions = z.output<typeof TelegramBridgeOptionsSchema>;

/** Validates options, or throws a `ValidationError` (`CONFIG_INVALID`) that names the key. */
export function parseOptions(input: unknown, where = 'options'): ResolvedTelegramBridgeOptions {
  const result = TelegramBridgeOptionsSchema.safeParse(input ?? {});
  if (!result.success) {
    throw new ValidationError(`${PACKAGE_NAME}: invalid ${where}: ${describeIssues(result.error)}`, {
      code: 'CONFIG_INVALID',
      details: { issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    });
  }
  return result.data;
}
