import { readFile } from 'node:fs/promises';
import { PocketPingError, PreChatFormOptionsSchema, SecuritySchema, TrackedElementSchema } from '@pocketping/core';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/** A configuration problem: names the dotted path and says how to fix it. */
export class ConfigError extends PocketPingError {
  /** Each problem as `path: message`. */
  readonly problems: string[];
  constructor(problems: string[], source = 'config') {
    super('CONFIG_INVALID', `Invalid ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const emptyToUndefined = (v: unknown) => (v === '' || v === null ? undefined : v);

const ServerSection = z.strictObject({
  /** Listen address. @default '0.0.0.0' */
  host: z.string().min(1).default('0.0.0.0'),
  /** Listen port. @default 3000 */
  port: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Path prefix of the widget endpoints. @default '/pocketping' */
  prefix: z
    .string()
    .regex(/^\/([A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*)?$/, 'must be a path like /pocketping')
    .default('/pocketping'),
  /** Admin API key (Bearer). Generated and printed at start when missing. */
  apiKey: z.preprocess(
    emptyToUndefined,
    z.string().min(16, 'must be at least 16 characters (use a long random string)').optional(),
  ),
  /** Public URL of this server, e.g. https://chat.example.com (bridges' webhooks and file links). */
  publicUrl: z.preprocess(
    emptyToUndefined,
    z.string().url('must be an absolute URL like https://chat.example.com').optional(),
  ),
  cors: z
    .strictObject({
      /** Allowed widget origins; `*` allows all. @default ['*'] */
      origins: z.array(z.string().min(1)).default(['*']),
    })
    .default({ origins: ['*'] }),
  /** Trust X-Forwarded-* headers (behind a proxy or load balancer). @default false */
  trustProxy: z.union([z.boolean(), z.string(), z.number()]).default(false),
  /** @default 'info' */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Serve the demo chat page at `/` and the operator inbox at `/inbox`. @default true */
  demo: z.boolean().default(true),
  /** Widget WebSockets. */
  websocket: z
    .strictObject({
      /**
       * Protocol ping interval: keeps proxies from closing idle sockets (lower it below your
       * proxy's idle timeout), finds dead peers, and confirms what each widget has received.
       * @default 25000
       */
      pingIntervalMs: z.number().int().min(100, 'must be at least 100 (milliseconds)').optional(),
      /** Largest frame a widget may send, in bytes. @default 65536 */
      maxPayload: z.number().int().min(1024, 'must be at least 1024 (bytes)').optional(),
    })
    .default({}),
});

const WidgetSection = z.strictObject({
  welcomeMessage: z.string().max(4000).optional(),
  operatorName: z.string().optional(),
  operatorAvatar: z.string().optional(),
  primaryColor: z.string().optional(),
  headerColor: z.unknown().optional(),
  toggleColor: z.unknown().optional(),
  footerColor: z.unknown().optional(),
  chatBackground: z.unknown().optional(),
  operatorReachable: z.boolean().optional(),
  operatorOnline: z.boolean().optional(),
  preChatForm: PreChatFormOptionsSchema.optional(),
  trackedElements: z.array(TrackedElementSchema).optional(),
  minWidgetVersion: z.string().optional(),
  latestWidgetVersion: z.string().optional(),
  versionWarningMessage: z.string().optional(),
  versionUpgradeUrl: z.string().optional(),
  historyLimit: z.number().int().positive().optional(),
});

const UploadsSection = z.strictObject({
  /** Directory for uploaded files. @default './data/uploads' */
  dir: z.string().min(1).default('./data/uploads'),
  /** Largest upload in bytes. @default 10485760 */
  maxSize: z
    .number()
    .int()
    .positive()
    .default(10 * 1024 * 1024),
  /** Allowed MIME types (`image/*` patterns allowed); the built-in list when absent. */
  allowedMimeTypes: z.array(z.string().min(1)).optional(),
});

/** The `config.yaml` schema of `pocketping-server`. Unknown keys are errors. */
export const ServerConfigSchema = z.strictObject({
  server: ServerSection.default(ServerSection.parse({})),
  storage: z.looseObject({ type: z.string().min(1, 'storage.type is required') }).default({ type: 'memory' }),
  bridges: z
    .array(z.looseObject({ type: z.string().min(1, 'type is required (telegram, discord, slack or a package name)') }))
    .default([]),
  widget: WidgetSection.default({}),
  uploads: UploadsSection.default(UploadsSection.parse({})),
  /** Abuse protection: rate limits, IP/User-Agent filters, headless refusal, signed identities. */
  security: SecuritySchema.default(SecuritySchema.parse({})),
  /** Retention: sessions inactive for longer than `days` are deleted with their files and threads. */
  retention: z.strictObject({ days: z.number().int().positive().optional() }).default({}),
  /** Outgoing webhooks: `[{ url, secret, events }]`, HMAC-signed, retried with backoff. */
  webhooks: z
    .array(
      z.strictObject({
        url: z.string().url('must be an absolute URL'),
        secret: z.string().min(8, 'must be at least 8 characters').optional(),
        events: z.array(z.string().min(1)).optional(),
        timeoutMs: z.number().int().positive().optional(),
        maxAttempts: z.number().int().positive().max(20).optional(),
      }),
    )
    .default([]),
});

/** A validated `config.yaml`. */
export type ServerConfig = z.output<typeof ServerConfigSchema>;
/** What a `config.yaml` may contain before defaults. */
export type ServerConfigInput = z.input<typeof ServerConfigSchema>;

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces `${VAR}` and `${VAR:-default}` in every string of a parsed YAML tree. */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, path = '', problems: string[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      problems.push(
        `${path || 'config'}: environment variable ${name} is not set (export it, or put the value in the file)`,
      );
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, `${path}[${i}]`, problems));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateEnv(v, env, path ? `${path}.${k}` : k, problems);
    return out;
  }
  return value;
}

function formatPath(path: PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || 'config';
}

/** Validates a parsed config object (after env interpolation). */
export function parseConfig(input: unknown, env: NodeJS.ProcessEnv = process.env, source = 'config'): ServerConfig {
  const problems: string[] = [];
  const interpolated = interpolateEnv(input ?? {}, env, '', problems);
  if (problems.length > 0) throw new ConfigError(problems, source);
  const result = ServerConfigSchema.safeParse(interpolated);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const path = formatPath(issue.path);
        if (issue.code === 'unrecognized_keys') {
          return `${path}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')} (check the spelling; see docs/configuration.md)`;
        }
        return `${path}: ${issue.message.replace(/^Invalid input: /, '')}`;
      }),
      source,
    );
  }
  return result.data;
}

/** Reads, interpolates and validates a YAML config file. */
export async function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<ServerConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      [`cannot read ${file}: ${(err as Error).message} (create one with \`pocketping-server init\`)`],
      file,
    );
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigError([`${file} is not valid YAML: ${(err as Error).message}`], file);
  }
  if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) {
    throw new ConfigError([`${file} must contain a mapping (server:, storage:, bridges:, ...)`], file);
  }
  return parseConfig(parsed ?? {}, env, file);
}

/** The commented starter file written by `pocketping-server init`. */
export const CONFIG_TEMPLATE = `# PocketPing server configuration.
# Values like \${NAME} are read from the environment (\${NAME:-default} gives a fallback).
# Every key is documented in docs/configuration.md.

server:
  host: 0.0.0.0
  port: 3000
  prefix: /pocketping              # widget endpoint = <publicUrl><prefix>
  apiKey: \${POCKETPING_API_KEY:-}  # admin API key (Bearer), 16+ characters; printed at start when empty
  # publicUrl: https://chat.example.com   # needed for Telegram/Slack webhooks and file links
  cors:
    origins: ["*"]                 # or ["https://www.example.com"]
  # trustProxy: true               # behind nginx or a load balancer
  logLevel: info
  demo: true                       # demo chat at / and operator inbox at /inbox

storage:
  type: memory                     # memory | postgres | redis | mongo
  # type: postgres
  # url: \${DATABASE_URL}
  # type: redis
  # url: \${REDIS_URL}
  # type: mongo
  # url: \${MONGO_URL}
  # database: pocketping

bridges: []
  # - type: telegram
  #   token: \${TELEGRAM_BOT_TOKEN}
  #   chatId: \${TELEGRAM_CHAT_ID}
  #   updates: webhook             # or polling when the server has no public URL
  # - type: discord
  #   botToken: \${DISCORD_BOT_TOKEN}
  #   channelId: \${DISCORD_CHANNEL_ID}
  # - type: slack
  #   botToken: \${SLACK_BOT_TOKEN}
  #   channelId: \${SLACK_CHANNEL_ID}
  #   signingSecret: \${SLACK_SIGNING_SECRET}

widget:
  welcomeMessage: "Hi! How can we help?"
  operatorName: Support
  # primaryColor: "#6366f1"
  # preChatForm: { enabled: true, required: false, timing: before-first-message, fields: email-only }

uploads:
  dir: ./data/uploads
  maxSize: 10485760                # bytes

# Abuse protection (all lenient or off by default).
# security:
#   rateLimit: { perIp: { max: 1200, windowMs: 60000 }, perSession: { max: 120, windowMs: 60000 } }
#   ipFilter: { block: ["203.0.113.0/24"], allow: [] }
#   uaFilter: { blockBots: false }
#   identitySecret: \${POCKETPING_IDENTITY_SECRET}   # identity.hash = hex HMAC-SHA256(secret, identity.id)
#   requireSignedIdentity: false

# retention:
#   days: 90                       # delete sessions inactive for 90 days, with files and threads

# Session and message events POSTed to your URLs, signed with
# X-PocketPing-Signature: sha256=<HMAC of the body>.
webhooks: []
  # - url: https://example.com/hooks/pocketping
  #   secret: \${POCKETPING_WEBHOOK_SECRET}
  #   events: [session.started, message.created, csat.submitted]
`;
