import pg from 'pg';

/** Quoted, schema-qualified names of every table and index of one deployment. */
export interface TableNames {
  schema: string;
  /** `"schema"` */
  qschema: string;
  /** Sessions table. */
  sessions: string;
  /** Messages table. */
  messages: string;
  /** Thread of each session on each bridge (reverse lookup). */
  bridgeThreads: string;
  /** Platform id of each message on each bridge (reverse lookup). */
  bridgeMessages: string;
  /** Attachment metadata table. */
  attachments: string;
  /** Event bus messages too large for a NOTIFY. */
  busPayloads: string;
  /** Durable outbox of bridge deliveries. */
  outbox: string;
  /** Leases of singleton jobs (one holder per name). */
  leases: string;
  /** Applied migration versions. */
  migrations: string;
  /** Unqualified, quoted index name for `suffix` (indexes live in the table's schema). */
  index(suffix: string): string;
  /** LISTEN/NOTIFY channel of this deployment (unquoted; quote it for LISTEN). */
  channel: string;
  /** Key of the advisory lock held while migrations run. */
  lockKey: string;
}

/** Table names for a schema and prefix (both already validated as identifiers). */
export function tableNames(schema: string, prefix: string): TableNames {
  const qschema = pg.escapeIdentifier(schema);
  const table = (name: string) => `${qschema}.${pg.escapeIdentifier(prefix + name)}`;
  return {
    schema,
    qschema,
    sessions: table('sessions'),
    messages: table('messages'),
    bridgeThreads: table('bridge_threads'),
    bridgeMessages: table('bridge_messages'),
    attachments: table('attachments'),
    busPayloads: table('bus_payloads'),
    outbox: table('outbox'),
    leases: table('leases'),
    migrations: table('schema_migrations'),
    index: (suffix: string) => pg.escapeIdentifier(`${prefix}${suffix}`),
    channel: `pocketping.${schema}.${prefix}events`,
    // One lock per schema (not per prefix): migrations of any prefix also create the schema.
    lockKey: `pocketping:migrate:${schema}`,
  };
}
