import { ValidationError } from '@pocketping/core';
import type { MongoClient } from 'mongodb';
import { z } from 'zod';

/** True for a `MongoClient` (checked by shape, so two copies of the driver still match). */
export function isMongoClient(value: unknown): value is MongoClient {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { db?: unknown }).db === 'function' &&
    typeof (value as { connect?: unknown }).connect === 'function' &&
    typeof (value as { close?: unknown }).close === 'function'
  );
}

/** The option object of `MongoStorage`; `url` or `client`, not both. */
export const MongoStorageOptionsSchema = z
  .strictObject({
    /**
     * MongoDB connection string (`mongodb://` or `mongodb+srv://`). Driver settings such as
     * `serverSelectionTimeoutMS`, `tls` or `authSource` go in its query string. The storage
     * creates the client and closes it in `close()`.
     */
    url: z
      .string()
      .regex(/^mongodb(\+srv)?:\/\/.+/, 'expected a connection string starting with mongodb:// or mongodb+srv://')
      .optional(),
    /** A ready-made `MongoClient`. The storage uses it and never closes it. */
    client: z.custom<MongoClient>(isMongoClient, 'expected a MongoClient').optional(),
    /**
     * Database that holds the collections. The database in the connection string's path is
     * not used for this (the driver only uses it as the default auth source).
     * @default 'pocketping'
     */
    database: z
      .string()
      .regex(
        /^[^/\\. "$*<>:|?\0]{1,63}$/,
        'expected a MongoDB database name (1-63 characters, none of / \\ . " $ * < > : | ?)',
      )
      .default('pocketping'),
    /**
     * Prefix of every collection name: `<prefix>sessions`, `<prefix>messages`,
     * `<prefix>bridge_threads`, `<prefix>bridge_messages`, `<prefix>attachments`, `<prefix>outbox`.
     * @default 'pocketping_'
     */
    collectionPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{0,64}$/, 'expected up to 64 characters of A-Z a-z 0-9 _ . -')
      .refine((p) => !p.startsWith('system.'), 'must not start with "system."')
      .default('pocketping_'),
  })
  .superRefine((options, ctx) => {
    if (options.url === undefined && options.client === undefined) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'give either url or client' });
    }
    if (options.url !== undefined && options.client !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['client'], message: 'give either url or client, not both' });
    }
  });

/** Options of `MongoStorage` as a caller writes them (defaults applied later). */
export type MongoStorageOptions = z.input<typeof MongoStorageOptionsSchema>;

/** Options of `MongoStorage` after validation, with defaults applied. */
export type ResolvedMongoStorageOptions = z.output<typeof MongoStorageOptionsSchema>;

/** The `storage:` keys of `config.yaml` for `type: mongo` (everything but `type`). */
export const MongoStorageConfigSchema = z.strictObject({
  /** MongoDB connection string; use `${MONGO_URL}` to keep credentials out of the file. */
  url: MongoStorageOptionsSchema.shape.url.unwrap(),
  /** @default 'pocketping' */
  database: MongoStorageOptionsSchema.shape.database,
  /** @default 'pocketping_' */
  collectionPrefix: MongoStorageOptionsSchema.shape.collectionPrefix,
});

/** The `storage:` keys of `config.yaml` for `type: mongo`. */
export type MongoStorageConfig = z.input<typeof MongoStorageConfigSchema>;

/**
 * Validates options and turns zod issues into one `ValidationError` that names each key.
 * `where` prefixes the key names, e.g. `storage.` for `config.yaml`.
 */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, where: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${where}${key}: unknown option`).join('; ');
    }
    const key = issue.path.length > 0 ? issue.path.join('.') : '(options)';
    return `${where}${key}: ${issue.message}`;
  });
  return throwValidation(problems, result.error);
}

function throwValidation(problems: string[], cause: z.ZodError): never {
  throw new ValidationError(`@pocketping/storage-mongo: invalid options: ${problems.join('; ')}`, {
    code: 'CONFIG_INVALID',
    cause,
    details: { issues: problems },
  });
}
