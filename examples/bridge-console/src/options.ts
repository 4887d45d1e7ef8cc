import type { Readable, Writable } from 'node:stream';
import { describeIssues, ValidationError } from '@pocketping/core';
import { z } from 'zod';

/** The package name, used in every error message. */
export const PACKAGE_NAME = 'pocketping-bridge-console';

/** The data options of `ConsoleBridge`; defaults live here. */
export const ConsoleBridgeSettingsSchema = z.strictObject({
  /**
   * Bridge name: the key under which PocketPing stores this bridge's session labels and
   * message ids. Give each console bridge its own.
   * @default 'console'
   */
  name: z.string().min(1).default('console'),
  /**
   * Operator name shown in the widget for replies typed here.
   * @default the widget's own operator name
   */
  operatorName: z.string().min(1).max(80).optional(),
  /**
   * Length of the session labels printed before each line (and typed before each reply).
   * @default 5
   */
  labelLength: z.number().int().min(3).max(12).default(5),
});

/** Data options after defaults. */
export type ConsoleBridgeSettings = z.output<typeof ConsoleBridgeSettingsSchema>;

/**
 * Options of `new ConsoleBridge(...)`: the data options plus the two streams.
 */
export type ConsoleBridgeOptions = z.input<typeof ConsoleBridgeSettingsSchema> & {
  /** Where operator replies are read from, one `<label> <text>` per line. @default process.stdin */
  input?: Readable;
  /** Where visitor messages are printed. @default process.stdout */
  output?: Writable;
};

/** Validates the data options; throws `ValidationError` (`CONFIG_INVALID`) naming the bad key. */
export function parseSettings(input: unknown): ConsoleBridgeSettings {
  const result = ConsoleBridgeSettingsSchema.safeParse(input ?? {});
  if (!result.success) {
    throw new ValidationError(`${PACKAGE_NAME}: invalid options: ${describeIssues(result.error)}`, {
      code: 'CONFIG_INVALID',
    });
  }
  return result.data;
}

/** The keys of a `config.yaml` bridge entry (without `type`): the data options and the output stream. */
export const ConsoleBridgeConfigSchema = ConsoleBridgeSettingsSchema.extend({
  /** Where visitor messages are printed. @default 'stdout' */
  output: z.enum(['stdout', 'stderr']).default('stdout'),
});

/** Validates a `config.yaml` entry; throws `ValidationError` (`CONFIG_INVALID`) naming the bad key. */
export function parseConfigEntry(input: unknown): z.output<typeof ConsoleBridgeConfigSchema> {
  const result = ConsoleBridgeConfigSchema.safeParse(input ?? {});
  if (!result.success) {
    throw new ValidationError(`${PACKAGE_NAME}: invalid options: ${describeIssues(result.error)}`, {
      code: 'CONFIG_INVALID',
    });
  }
  return result.data;
}
