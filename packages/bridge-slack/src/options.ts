import { describeIssues, type Logger, ValidationError } from '@pocketping/core';
import type { WebClient } from '@slack/web-api';
import { z } from 'zod';

/** The package name, used in every error message. */
export const PACKAGE_NAME = '@pocketping/bridge-slack';

// Empty strings count as "not set": `${SLACK_BOT_TOKEN}` in a YAML file becomes '' when the
// variable is missing, and that must end in a setup guide, not in a confusing API error.
const optionalSecret = z
  .string()
  .optional()
  .transform((v) => v?.trim() || undefined);

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/**
 * Options of `SlackBridge`. Give either `webhookUrl` (webhook mode: posts only) or `botToken`,
 * `channelId` and `signingSecret` (bot mode: posts, edits, deletes and operator replies).
 */
export const SlackBridgeOptionsSchema = z
  .object({
    /**
     * Incoming webhook URL (`https://hooks.slack.com/services/...`). Selects webhook mode:
     * messages are posted to the webhook's channel; no edits, deletes or operator replies.
     */
    webhookUrl: optionalSecret.pipe(httpUrl.optional()),
    /** Bot User OAuth Token (`xoxb-...`). Selects bot mode. */
    botToken: optionalSecret,
    /** Channel the conversation threads go to (`C0123456789`); the bot must be a member. */
    channelId: optionalSecret,
    /** Signing secret of the Slack app (Basic Information → App Credentials); verifies events. */
    signingSecret: optionalSecret,
    /**
     * Base URL of the Slack Web API, ending with `/api/` (the WebClient's `slackApiUrl`). For
     * tests and proxies. File downloads are allowed from Slack's hosts and from this origin.
     * @default 'https://slack.com/api/'
     */
    apiUrl: httpUrl.optional(),
    /**
     * Bridge name: the key of stored thread and message ids, and the Events API path
     * (`{prefix}/webhooks/{name}`). Give each Slack bridge its own.
     * @default 'slack'
     */
    name: z.string().min(1).default('slack'),
    /**
     * Display name of the posts. Bot mode needs the `chat:write.customize` scope for it.
     * @default the app's name (bot mode) or the webhook's name
     */
    username: z.string().min(1).max(80).optional(),
    /**
     * Emoji avatar of the posts, e.g. `:speech_balloon:` (bot mode: `chat:write.customize`).
     * @default the app's (or webhook's) icon
     */
    iconEmoji: z
      .string()
      .regex(/^:[\w+-]+:$/, 'must look like :emoji_name:')
      .optional(),
    /**
     * A ready-made `WebClient` (your own `retryConfig`, `fetch`, logger). `apiUrl` is then not
     * used for API calls. `botToken` is still required: files are downloaded with it.
     */
    client: z
      .custom<WebClient>(
        (v) => typeof v === 'object' && v !== null && typeof (v as WebClient).apiCall === 'function',
        'must be a @slack/web-api WebClient',
      )
      .optional(),
    /**
     * Logger used before `init` (by `check()`); after `init` the bridge logs to PocketPing's logger.
     * @default PocketPing's console logger (warnings and errors)
     */
    logger: z
      .custom<Logger>((v) => typeof v === 'object' && v !== null && typeof (v as Logger).warn === 'function')
      .optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.webhookUrl && (o.botToken || o.channelId || o.signingSecret)) {
      ctx.addIssue({
        code: 'custom',
        path: ['webhookUrl'],
        message: 'give either webhookUrl (webhook mode) or botToken/channelId/signingSecret (bot mode), not both',
      });
    }
  });

/** Options of `SlackBridge` as you write them. */
export type SlackBridgeOptions = z.input<typeof SlackBridgeOptionsSchema>;

/** Options of `SlackBridge` after validation and defaults. */
export type ResolvedSlackBridgeOptions = z.output<typeof SlackBridgeOptionsSchema>;

/** Validates `SlackBridge` options or throws a `ValidationError` (code `CONFIG_INVALID`) naming the key. */
export function parseSlackBridgeOptions(input: unknown): ResolvedSlackBridgeOptions {
  const result = SlackBridgeOptionsSchema.safeParse(input ?? {});
  if (!result.success) {
    throw new ValidationError(`${PACKAGE_NAME}: invalid options: ${describeIssues(result.error)}`, {
      code: 'CONFIG_INVALID',
      details: { issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    });
  }
  return result.data;
}
