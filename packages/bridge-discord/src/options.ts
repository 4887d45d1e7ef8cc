import { consoleLogger, type Logger, ValidationError } from '@pocketping/core';
import type { Client } from 'discord.js';
import { z } from 'zod';

/** The webhook URL shape Discord hands out: `.../api/webhooks/{id}/{token}`. */
export const WEBHOOK_URL_PATTERN = /\/api\/webhooks\/(\d+)\/([\w-]+)\/?(?:\?.*)?$/;

const snowflake = z.string().regex(/^\d{5,25}$/, 'must be a Discord id (digits only)');

/**
 * Options of `DiscordBridge`. Give either `webhookUrl` (send only) or `botToken` + `channelId`
 * (threads, edits, deletes and operator replies). Missing credentials are reported by `init()` /
 * `check()` as a setup guide, so `process.env` values can be passed straight in.
 */
export const DiscordBridgeOptionsSchema = z
  .object({
    /**
     * Name of the bridge, the key of its stored thread and message ids.
     * @default 'discord'
     */
    name: z.string().min(1).default('discord'),
    /** Bot token from the Developer Portal (Bot page). Selects bot mode. */
    botToken: z.string().optional(),
    /** The text, announcement or forum channel that receives one thread per conversation. */
    channelId: z.union([snowflake, z.literal('')]).optional(),
    /** Incoming webhook URL of a channel. Selects webhook mode (send only). */
    webhookUrl: z
      .union([
        z.string().regex(WEBHOOK_URL_PATTERN, 'must be a Discord webhook URL (…/api/webhooks/ID/TOKEN)'),
        z.literal(''),
      ])
      .optional(),
    /**
     * REST base URL, for proxies and tests (e.g. `http://127.0.0.1:3000/api`).
     * @default discord.js' default, https://discord.com/api
     */
    apiUrl: z.string().url().optional(),
    /**
     * The application's public key (hex, Developer Portal › General Information). When set, the
     * bridge serves Discord's Interactions endpoint at `{prefix}/webhooks/discord`.
     */
    publicKey: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'must be the 64 hex characters of the application public key')
      .optional(),
    /**
     * Webhook mode: the name shown on notices and on operator replies mirrored from elsewhere.
     * Visitor messages use the visitor's own label.
     * @default 'PocketPing'
     */
    username: z.string().min(1).max(80).default('PocketPing'),
    /** Webhook mode: avatar image URL for the posted messages. */
    avatarUrl: z.string().url().optional(),
    /**
     * Bot mode: connect to the Gateway to receive operator replies, edits, deletes and typing.
     * `'auto'` connects unless a serverless platform is detected (Vercel, AWS Lambda, Netlify,
     * Azure Functions), where a long-running socket cannot live.
     * @default 'auto'
     */
    gateway: z.union([z.boolean(), z.literal('auto')]).default('auto'),
    /**
     * Bot mode: minutes of inactivity after which Discord hides a thread.
     * @default 10080 (7 days)
     */
    autoArchiveMinutes: z.union([z.literal(60), z.literal(1440), z.literal(4320), z.literal(10080)]).default(10080),
    /**
     * Files larger than this are linked instead of uploaded (visitor → Discord) or linked instead
     * of downloaded (Discord → widget). Discord's upload limit for unboosted servers is 10 MiB.
     * @default 10485760
     */
    maxFileBytes: z
      .number()
      .int()
      .positive()
      .default(10 * 1024 * 1024),
    /**
     * Rate-limit waits up to this long happen inside discord.js' REST queue; longer ones fail the
     * delivery with `BridgeError.retryAfterMs`, so PocketPing retries it later, in order.
     * @default 10000
     */
    maxRateLimitWaitMs: z.number().int().nonnegative().default(10_000),
    /**
     * Bot mode: how long one Gateway login may take before it counts as failed and is retried.
     * @default 30000
     */
    loginTimeoutMs: z.number().int().positive().default(30_000),
    /**
     * Bot mode with several server instances on one storage: only the instance holding the
     * Gateway lease connects to the Gateway (and applies operator replies); every instance posts
     * through REST. The lease lasts this long without renewal, so another instance takes over
     * within about this time when the connected one dies. Renewed every third of it.
     * @default 15000
     */
    gatewayLeaseMs: z.number().int().min(100, 'must be at least 100 (milliseconds)').default(15_000),
    /**
     * Bot mode: a discord.js `Client` you created and logged in yourself (intents Guilds,
     * GuildMessages, MessageContent, GuildMessageTyping). The bridge listens to it while this
     * instance holds the Gateway lease and stops listening on `close()`; it never logs it in or
     * destroys it.
     */
    client: z
      .custom<Client>((v) => typeof v === 'object' && v !== null, { message: 'must be a discord.js Client' })
      .optional(),
    /**
     * Where the bridge logs before `init()` (e.g. from `check()`); after `init()` it uses
     * PocketPing's logger.
     * @default a console logger (warnings and errors)
     */
    logger: z
      .custom<Logger>((v) => typeof v === 'object' && v !== null && typeof (v as Logger).warn === 'function', {
        message: 'must be a logger with debug/info/warn/error',
      })
      .default(consoleLogger),
  })
  .strict();

/** Options accepted by `new DiscordBridge(...)`. */
export type DiscordBridgeOptions = z.input<typeof DiscordBridgeOptionsSchema>;
/** Options after defaults. */
export type ResolvedDiscordOptions = z.output<typeof DiscordBridgeOptionsSchema>;

/** Validates options; shape errors are `ValidationError` (CONFIG_INVALID) naming the key. */
export function parseOptions(input: unknown): ResolvedDiscordOptions {
  const result = DiscordBridgeOptionsSchema.safeParse(input ?? {});
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`);
    throw new ValidationError(`@pocketping/bridge-discord: invalid options: ${issues.join('; ')}`, {
      code: 'CONFIG_INVALID',
      details: { issues },
    });
  }
  const options = result.data;
  if (options.webhookUrl && (options.botToken || options.channelId)) {
    throw new ValidationError(
      '@pocketping/bridge-discord: give either webhookUrl (webhook mode) or botToken + channelId (bot mode), not both',
      { code: 'CONFIG_INVALID' },
    );
  }
  return options;
}
