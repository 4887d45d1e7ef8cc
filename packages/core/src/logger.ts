/**
 * The logging shape PocketPing uses: pino's (and Fastify's) `logger.info(obj, msg)`.
 * Pass `app.log` or a pino instance; the default logs warnings and errors to the console.
 */
export interface Logger {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

/** A logger that writes warnings and errors to the console and drops the rest. */
export const consoleLogger: Logger = {
  debug() {},
  info() {},
  warn(obj, msg) {
    console.warn('[pocketping]', msg ?? '', obj);
  },
  error(obj, msg) {
    console.error('[pocketping]', msg ?? '', obj);
  },
};

/** A logger that drops everything (tests). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
