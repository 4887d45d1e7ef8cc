import { once } from 'node:events';
import type { BridgeContext, SetupError } from '@pocketping/core';
import { type Client, DiscordjsErrorCodes, Events } from 'discord.js';
import { asSetupError } from './errors.js';
import { GatewayListener } from './gateway-listener.js';
import { disallowedIntents, gatewayUnreachable, tokenRejected } from './setup-guides.js';

const PACKAGE = '@pocketping/bridge-discord';
/** Waits between failed logins: 1 s, doubling, at most this long. */
const MAX_BACKOFF_MS = 60_000;

/** What a Gateway connection needs from the bridge. */
export interface GatewayConnectionDeps {
  token: string;
  /** A fresh discord.js client (a destroyed client loses its token, so each login gets its own). */
  makeClient(): Client;
  ctx: BridgeContext;
  maxFileBytes: number;
  /** How long one login may take before it counts as failed. */
  loginTimeoutMs: number;
}

/**
 * The bridge's Gateway connection, opened only while this instance holds the Gateway lease:
 * `start()` logs a new client in (retrying network failures with backoff), `stop()` disconnects
 * it. Once connected, discord.js itself resumes and reconnects the session.
 */
export class GatewayConnection {
  private abort?: AbortController;
  private connecting?: Promise<void>;
  private current?: { client: Client; listener: GatewayListener };

  constructor(private readonly deps: GatewayConnectionDeps) {}

  /** The Gateway client while one is connecting or connected. */
  get client(): Client | undefined {
    return this.current?.client;
  }

  /** True once the Gateway session is ready. */
  get ready(): boolean {
    return this.current?.client.isReady() === true;
  }

  /** Connects in the background; failures are logged, not thrown. */
  start(): void {
    if (this.connecting || this.current) return;
    const abort = new AbortController();
    this.abort = abort;
    const connecting: Promise<void> = this.connect(abort.signal).finally(() => {
      if (this.connecting === connecting) this.connecting = undefined;
    });
    this.connecting = connecting;
  }

  /** Stops connecting or disconnects, after the events being applied are done. */
  async stop(): Promise<void> {
    this.abort?.abort();
    this.abort = undefined;
    await this.connecting;
    const current = this.current;
    this.current = undefined;
    if (!current) return;
    await current.listener.detach();
    await current.client.destroy();
    this.deps.ctx.logger.info(
      { bridge: this.deps.ctx.bridgeName },
      `${PACKAGE}: disconnected from the Discord Gateway`,
    );
  }

  private async connect(signal: AbortSignal): Promise<void> {
    const { ctx } = this.deps;
    for (let attempt = 1; !signal.aborted; attempt++) {
      const client = this.deps.makeClient();
      const listener = new GatewayListener(client, ctx, this.deps.maxFileBytes);
      listener.attach();
      this.current = { client, listener };
      try {
        await login(client, this.deps.token, this.deps.loginTimeoutMs, signal);
        ctx.logger.info(
          { bridge: ctx.bridgeName },
          `${PACKAGE}: connected to the Discord Gateway; this instance receives operator replies`,
        );
        return;
      } catch (err) {
        this.current = undefined;
        await listener.detach();
        await client.destroy().catch(() => {});
        if (signal.aborted) return;
        const { guide, fatal } = loginError(err);
        const steps = guide.steps.join('; ');
        if (fatal) {
          ctx.logger.error(
            { bridge: ctx.bridgeName, err: guide.problem },
            `${PACKAGE}: the Discord Gateway refused the bot, so operator replies from Discord do not arrive: ${guide.problem}. ${steps}. Then restart the server.`,
          );
          return;
        }
        const waitMs = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (attempt - 1));
        ctx.logger.error(
          { bridge: ctx.bridgeName, err: guide.problem, attempt },
          `${PACKAGE}: could not connect to the Discord Gateway (${guide.problem}); retrying in ${Math.round(waitMs / 1000)} s`,
        );
        await sleep(waitMs, signal);
      }
    }
  }
}

/** Logs the client in and waits for READY, or fails after `timeoutMs` or when `signal` aborts. */
async function login(client: Client, token: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const cut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(gatewayUnreachable(timeoutMs)), timeoutMs);
    onAbort = () => reject(new Error(`${PACKAGE}: Gateway login stopped`));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  cut.catch(() => {});
  try {
    const ready = client.isReady() ? Promise.resolve() : once(client, Events.ClientReady);
    // A rejected ready-wait (client error event) must not surface as an unhandled rejection.
    ready.catch(() => {});
    await Promise.race([client.login(token), cut]);
    await Promise.race([ready, cut]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/** The setup guide for a failed login, and whether trying again can help. */
export function loginError(err: unknown): { guide: SetupError; fatal: boolean } {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  if (/disallowed intents/i.test(message) || code === 4014) return { guide: disallowedIntents(err), fatal: true };
  if (code === DiscordjsErrorCodes.TokenInvalid || code === 4004 || /authentication failed/i.test(message)) {
    return { guide: tokenRejected(err), fatal: true };
  }
  return { guide: asSetupError(err), fatal: false };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
