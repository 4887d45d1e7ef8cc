/**
 * Error codes raised by PocketPing packages. Every code is listed in `docs/errors.md`.
 * Codes are UPPER_SNAKE with an area prefix.
 */
export type PocketPingErrorCode =
  | 'CONFIG_INVALID'
  | 'SETUP_INVALID'
  | 'VALIDATION_FAILED'
  | 'REQUEST_INVALID_JSON'
  | 'REQUEST_TOO_LARGE'
  | 'SESSION_NOT_FOUND'
  | 'SESSION_CLOSED'
  | 'MESSAGE_NOT_FOUND'
  | 'MESSAGE_FORBIDDEN'
  | 'MESSAGE_DELETED'
  | 'MESSAGE_TOO_LONG'
  | 'MESSAGE_EMPTY'
  | 'ATTACHMENT_NOT_FOUND'
  | 'ATTACHMENT_NOT_READY'
  | 'ATTACHMENT_TOO_LARGE'
  | 'ATTACHMENT_TYPE_NOT_ALLOWED'
  | 'ATTACHMENT_UPLOAD_EXPIRED'
  | 'ATTACHMENTS_UNAVAILABLE'
  | 'SCREENSHOT_REQUEST_NOT_FOUND'
  | 'CSAT_INVALID'
  | 'WIDGET_VERSION_UNSUPPORTED'
  | 'AUTH_REQUIRED'
  | 'AUTH_INVALID'
  | 'ACCESS_FORBIDDEN'
  | 'NOT_FOUND'
  | 'RATE_LIMITED'
  | 'STORAGE_NOT_SUPPORTED'
  | 'STORAGE_UNAVAILABLE'
  | 'STORAGE_CONFLICT'
  | 'BRIDGE_UNAVAILABLE'
  | 'BRIDGE_RATE_LIMITED'
  | 'BRIDGE_REJECTED'
  | 'BRIDGE_NOT_SUPPORTED'
  | 'WEBHOOK_UNAUTHORIZED'
  | 'WEBSOCKET_UNAVAILABLE'
  | 'INTERNAL';

/** Options shared by every PocketPing error. */
export interface PocketPingErrorOptions {
  /** The underlying error (a driver or HTTP client error), kept for logs. */
  cause?: unknown;
  /** Extra machine-readable details sent to clients where safe (e.g. validation issues). */
  details?: Record<string, unknown>;
}

/**
 * Base class of every error PocketPing throws on purpose.
 *
 * @example
 * ```ts
 * try { await pp.handleEditMessage(input) }
 * catch (err) { if (isPocketPingError(err) && err.code === 'MESSAGE_FORBIDDEN') { ... } }
 * ```
 */
export class PocketPingError extends Error {
  /** Stable code for programs; see docs/errors.md. */
  readonly code: PocketPingErrorCode;
  /** Extra details that are safe to show to the client. */
  readonly details?: Record<string, unknown>;

  constructor(code: PocketPingErrorCode, message: string, options: PocketPingErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PocketPingError';
    this.code = code;
    if (options.details) this.details = options.details;
  }
}

/** Input from a client or a caller that does not match what PocketPing accepts. */
export class ValidationError extends PocketPingError {
  constructor(message: string, options: PocketPingErrorOptions & { code?: PocketPingErrorCode } = {}) {
    super(options.code ?? 'VALIDATION_FAILED', message, options);
    this.name = 'ValidationError';
  }
}

/** A storage adapter failed, is unreachable, or lacks an optional capability. */
export class StorageError extends PocketPingError {
  constructor(message: string, options: PocketPingErrorOptions & { code?: PocketPingErrorCode } = {}) {
    super(options.code ?? 'STORAGE_UNAVAILABLE', message, options);
    this.name = 'StorageError';
  }
}

/** A bridge (Telegram, Discord, Slack, ...) failed to deliver or was rate limited. */
export class BridgeError extends PocketPingError {
  /** Name of the bridge that failed. */
  readonly bridge: string;
  /** When the platform asked us to wait (HTTP 429 retry_after), in milliseconds. */
  readonly retryAfterMs?: number;
  /** False when retrying cannot help (e.g. the platform rejected the content for good). */
  readonly retryable: boolean;

  constructor(
    bridge: string,
    message: string,
    options: PocketPingErrorOptions & {
      code?: PocketPingErrorCode;
      retryAfterMs?: number;
      retryable?: boolean;
    } = {},
  ) {
    super(
      options.code ?? (options.retryAfterMs !== undefined ? 'BRIDGE_RATE_LIMITED' : 'BRIDGE_UNAVAILABLE'),
      message,
      options,
    );
    this.name = 'BridgeError';
    this.bridge = bridge;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    this.retryable = options.retryable ?? true;
  }
}

/** One step of a setup guide printed for a misconfigured bridge or storage. */
export interface SetupGuideStep {
  /** Short instruction, e.g. "Open @BotFather and send /newbot". */
  text: string;
}

/**
 * Misconfiguration found at start. `formattedGuide()` returns a boxed, human guide that says
 * what is wrong and how to fix it.
 *
 * @example
 * ```ts
 * throw new SetupError({
 *   component: 'Telegram',
 *   problem: 'TELEGRAM_BOT_TOKEN is missing',
 *   steps: ['Open @BotFather in Telegram', 'Send /newbot and copy the token'],
 *   docsUrl: 'https://github.com/pocketping/pocketping-ts/tree/main/packages/bridge-telegram',
 * })
 * ```
 */
export class SetupError extends PocketPingError {
  /** What is being set up: "Telegram", "Slack", "PostgreSQL", ... */
  readonly component: string;
  /** One line that says what is wrong. */
  readonly problem: string;
  /** Ordered steps that fix it. */
  readonly steps: readonly string[];
  /** Where to read more. */
  readonly docsUrl?: string;

  constructor(init: {
    component: string;
    problem: string;
    steps?: readonly string[];
    docsUrl?: string;
    cause?: unknown;
    code?: PocketPingErrorCode;
  }) {
    super(init.code ?? 'SETUP_INVALID', `${init.component} setup: ${init.problem}`, { cause: init.cause });
    this.name = 'SetupError';
    this.component = init.component;
    this.problem = init.problem;
    this.steps = init.steps ?? [];
    if (init.docsUrl) this.docsUrl = init.docsUrl;
  }

  /** The boxed setup guide, ready to print to a terminal. */
  formattedGuide(): string {
    const lines: string[] = [];
    lines.push(`⚠️  ${this.component} setup required`);
    lines.push('');
    lines.push(`Problem: ${this.problem}`);
    if (this.steps.length > 0) {
      lines.push('');
      lines.push('How to fix it:');
      this.steps.forEach((step, i) => {
        lines.push(`  ${i + 1}. ${step}`);
      });
    }
    if (this.docsUrl) {
      lines.push('');
      lines.push(`Docs: ${this.docsUrl}`);
    }
    const wrapped = lines.flatMap((line) => wrapLine(line, 96));
    const width = Math.max(...wrapped.map((l) => displayWidth(l)));
    const top = `┌${'─'.repeat(width + 2)}┐`;
    const bottom = `└${'─'.repeat(width + 2)}┘`;
    const body = wrapped.map((l) => `│ ${l}${' '.repeat(width - displayWidth(l))} │`);
    return [top, ...body, bottom].join('\n');
  }
}

function displayWidth(text: string): number {
  // Emoji used in the guide header take two terminal columns.
  let width = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp === 0xfe0f) continue;
    width += cp > 0x2500 && cp !== 0x2502 ? 2 : 1;
  }
  return width;
}

function wrapLine(line: string, max: number): string[] {
  if (line.length <= max) return [line];
  // Keep the line's own indent (and the "1. " of a step) and indent continuation lines under the text.
  const lead = line.match(/^\s*(\d+\.\s)?/)?.[0] ?? '';
  const hang = ' '.repeat(lead.length);
  const out: string[] = [];
  let current = lead;
  for (const word of line
    .slice(lead.length)
    .split(' ')
    .filter((w) => w.length > 0)) {
    const start = current.trim().length === 0 || current === lead;
    if (!start && current.length + word.length + 1 > max) {
      out.push(current);
      current = hang + word;
    } else {
      current = start ? current + word : `${current} ${word}`;
    }
  }
  if (current.trim().length > 0) out.push(current);
  return out;
}

/** True when `err` is a PocketPing error (works across duplicated package copies). */
export function isPocketPingError(err: unknown): err is PocketPingError {
  return (
    err instanceof PocketPingError ||
    (typeof err === 'object' &&
      err !== null &&
      typeof (err as { code?: unknown }).code === 'string' &&
      (err as { name?: unknown }).name !== undefined &&
      String((err as { name?: unknown }).name).endsWith('Error') &&
      ['PocketPingError', 'ValidationError', 'StorageError', 'BridgeError', 'SetupError'].includes(
        String((err as { name?: unknown }).name),
      ))
  );
}

/**
 * True when `err` is a SetupError, also one thrown by another copy of this package (an adapter
 * loaded through CommonJS while the app uses the ES module build).
 */
export function isSetupError(err: unknown): err is SetupError {
  return (
    err instanceof SetupError ||
    (typeof err === 'object' &&
      err !== null &&
      (err as { name?: unknown }).name === 'SetupError' &&
      typeof (err as { formattedGuide?: unknown }).formattedGuide === 'function')
  );
}

/**
 * A connection string safe to show in errors and logs: the password is replaced by `***`.
 * `fallback` names the connection when there is no URL (a client the user passed in).
 */
export function redactConnectionUrl(url: string | undefined, fallback: string): string {
  if (!url) return fallback;
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the configured URL';
  }
}

/** Wraps any thrown value from a storage driver so driver errors never cross the interface. */
export function wrapStorageError(packageName: string, operation: string, err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new StorageError(`${packageName}: ${operation} failed: ${reason}`, { cause: err });
}
