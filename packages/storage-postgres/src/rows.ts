import type { Attachment, Message, OutboxRecord, Session } from '@pocketping/core';
import { reviveDates, toJsonWithDates as toJson } from '@pocketping/core';

/** How one model field is stored. */
type Kind = 'text' | 'bool' | 'date' | 'json' | 'int';

/** A model field and its column. */
export interface Column {
  key: string;
  column: string;
  kind: Kind;
}

const col = (key: string, column: string, kind: Kind): Column => ({ key, column, kind });

/** Session fields in column order (bridge threads are handled apart, with their index table). */
export const SESSION_COLUMNS: readonly Column[] = [
  col('id', 'id', 'text'),
  col('visitorId', 'visitor_id', 'text'),
  col('createdAt', 'created_at', 'date'),
  col('lastActivity', 'last_activity', 'date'),
  col('status', 'status', 'text'),
  col('closedAt', 'closed_at', 'date'),
  col('metadata', 'metadata', 'json'),
  col('identity', 'identity', 'json'),
  col('hasVisitorMessage', 'has_visitor_message', 'bool'),
  col('aiActive', 'ai_active', 'bool'),
  col('lastOperatorActivity', 'last_operator_activity', 'date'),
  col('preChat', 'pre_chat', 'json'),
  col('csat', 'csat', 'json'),
  col('screenshotRequests', 'screenshot_requests', 'json'),
  col('bridgeThreads', 'bridge_threads', 'json'),
  col('streamResume', 'stream_resume', 'json'),
];

/**
 * Read-only sequence column (`Session.seq`, `Message.seq`): assigned by the storage's own
 * statements, never written from a record or a patch.
 */
const SEQ_COLUMN = col('seq', 'seq', 'int');

/** Session columns as read: the writable ones plus the session's sequence number. */
export const SESSION_READ_COLUMNS: readonly Column[] = [...SESSION_COLUMNS, SEQ_COLUMN];

/** Message fields in column order. */
export const MESSAGE_COLUMNS: readonly Column[] = [
  col('id', 'id', 'text'),
  col('sessionId', 'session_id', 'text'),
  col('content', 'content', 'text'),
  col('sender', 'sender', 'text'),
  col('timestamp', 'created_at', 'date'),
  col('updatedAt', 'updated_at', 'date'),
  col('status', 'status', 'text'),
  col('deliveredAt', 'delivered_at', 'date'),
  col('readAt', 'read_at', 'date'),
  col('editedAt', 'edited_at', 'date'),
  col('deletedAt', 'deleted_at', 'date'),
  col('replyTo', 'reply_to', 'text'),
  col('attachments', 'attachments', 'json'),
  col('metadata', 'metadata', 'json'),
  col('operatorName', 'operator_name', 'text'),
  col('source', 'source', 'text'),
  col('bridgeMessageIds', 'bridge_message_ids', 'json'),
];

/** Message columns as read: the writable ones plus the message's sequence number. */
export const MESSAGE_READ_COLUMNS: readonly Column[] = [...MESSAGE_COLUMNS, SEQ_COLUMN];

/** Attachment fields in column order. */
export const ATTACHMENT_COLUMNS: readonly Column[] = [
  col('id', 'id', 'text'),
  col('sessionId', 'session_id', 'text'),
  col('messageId', 'message_id', 'text'),
  col('filename', 'filename', 'text'),
  col('mimeType', 'mime_type', 'text'),
  col('size', 'size', 'int'),
  col('url', 'url', 'text'),
  col('thumbnailUrl', 'thumbnail_url', 'text'),
  col('status', 'status', 'text'),
  col('storageKey', 'storage_key', 'text'),
  col('uploadedFrom', 'uploaded_from', 'text'),
  col('bridgeFileId', 'bridge_file_id', 'text'),
  col('createdAt', 'created_at', 'date'),
  col('expiresAt', 'expires_at', 'date'),
];

/** Outbox record fields in column order. */
export const OUTBOX_COLUMNS: readonly Column[] = [
  col('id', 'id', 'text'),
  col('bridge', 'bridge', 'text'),
  col('sessionId', 'session_id', 'text'),
  col('seq', 'seq', 'int'),
  col('operation', 'operation', 'json'),
  col('attempts', 'attempts', 'int'),
  col('status', 'status', 'text'),
  col('nextAttemptAt', 'next_attempt_at', 'date'),
  col('createdAt', 'created_at', 'date'),
  col('lastError', 'last_error', 'text'),
  col('leaseOwner', 'lease_owner', 'text'),
  col('leaseUntil', 'lease_until', 'date'),
];

/**
 * The explicit column list of a table, optionally qualified by an alias. Queries never use
 * `SELECT *`: a later migration that adds a column must not change the result type of the
 * statements already prepared on open connections.
 */
export function selectList(columns: readonly Column[], alias?: string): string {
  return columns.map((c) => (alias ? `${alias}.${c.column}` : c.column)).join(', ');
}

/** Keys that identify a record and never change through a patch. */
const IMMUTABLE = new Set(['id', 'sessionId', 'visitorId', 'createdAt', 'timestamp', 'sender']);

/** The SQL parameter for one field value (`null` for absent optional fields). */
export function toParam(c: Column, value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (c.kind === 'json') return toJson(value);
  if (c.kind === 'date') return value instanceof Date ? value : new Date(value as string);
  return value;
}

/** The SQL placeholder for one field (jsonb parameters are sent as text and cast). */
export function placeholder(c: Column, index: number): string {
  return c.kind === 'json' ? `$${index}::jsonb` : `$${index}`;
}

/** Parameters of a full row, in column order. */
export function rowParams(columns: readonly Column[], record: object): unknown[] {
  const r = record as Record<string, unknown>;
  return columns.map((c) => toParam(c, r[c.key]));
}

/**
 * The columns a patch changes: only the given keys (undefined values are ignored, like in
 * MemoryStorage), never the identifying ones.
 */
export function patchColumns(columns: readonly Column[], patch: object): { column: Column; value: unknown }[] {
  const p = patch as Record<string, unknown>;
  const out: { column: Column; value: unknown }[] = [];
  for (const c of columns) {
    if (IMMUTABLE.has(c.key)) continue;
    if (p[c.key] !== undefined) out.push({ column: c, value: p[c.key] });
  }
  return out;
}

function fromRow<T>(columns: readonly Column[], row: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const c of columns) {
    const v = row[c.column];
    if (v === null || v === undefined) continue;
    if (c.kind === 'json') out[c.key] = reviveDates(v);
    else if (c.kind === 'date') out[c.key] = v instanceof Date ? v : new Date(v as string);
    else if (c.kind === 'int') out[c.key] = Number(v);
    else out[c.key] = v;
  }
  return out as T;
}

/** A session from its row; empty bridge thread maps are left out. */
export function sessionFromRow(row: Record<string, unknown>): Session {
  const s = fromRow<Session>(SESSION_READ_COLUMNS, row);
  if (s.bridgeThreads && Object.keys(s.bridgeThreads).length === 0) delete s.bridgeThreads;
  return s;
}

/** A message from its row; empty bridge id maps are left out. */
export function messageFromRow(row: Record<string, unknown>): Message {
  const m = fromRow<Message>(MESSAGE_READ_COLUMNS, row);
  if (m.bridgeMessageIds && Object.keys(m.bridgeMessageIds).length === 0) delete m.bridgeMessageIds;
  return m;
}

/** An attachment from its row. */
export function attachmentFromRow(row: Record<string, unknown>): Attachment {
  return fromRow<Attachment>(ATTACHMENT_COLUMNS, row);
}

/** An outbox record from its row. */
export function outboxFromRow(row: Record<string, unknown>): OutboxRecord {
  return fromRow<OutboxRecord>(OUTBOX_COLUMNS, row);
}
