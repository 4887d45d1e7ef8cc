import type { Attachment, Message, OutboxRecord, Session } from '@pocketping/core';
import { reviveDates, toJsonWithDates as toJson } from '@pocketping/core';
import { encodeBridge, outboxLane } from './keys.js';

/** Bridge maps are stored as one hash field per bridge, apart from the JSON fields. */
const BRIDGE_MAPS = new Set(['bridgeThreads', 'bridgeMessageIds']);

/** Keys that identify a record and never change through a patch. */
const IMMUTABLE = new Set(['id', 'sessionId', 'visitorId', 'createdAt', 'timestamp', 'sender']);

/**
 * Keys the scripts assign and callers never write: a message's `seq` (written by the script
 * that stores it) and a session's `seq` (read from its `_seq` counter).
 */
const ASSIGNED = new Set(['seq']);

/** Field/value pairs of a whole record for HSET: each given field as JSON, Dates tagged. */
export function encodeFields(record: object): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined || BRIDGE_MAPS.has(key) || ASSIGNED.has(key)) continue;
    out.push(key, toJson(value));
  }
  return out;
}

/** Field/value pairs of a patch: only the given keys, never the identifying ones. */
export function encodePatch(patch: object): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined || BRIDGE_MAPS.has(key) || IMMUTABLE.has(key) || ASSIGNED.has(key)) continue;
    out.push(key, toJson(value));
  }
  return out;
}

/** Pairs `<encoded bridge>, <id>` of a bridge map, for the scripts. */
export function encodeBridgeMap(map: Record<string, string> | undefined): string[] {
  const out: string[] = [];
  for (const [bridge, id] of Object.entries(map ?? {})) out.push(encodeBridge(bridge), String(id));
  return out;
}

/** A record from HGETALL: JSON fields revived, bridge fields gathered under `mapKey`. */
function decode<T>(hash: Record<string, string>, bridge?: { prefix: string; key: string }): T | null {
  const out: Record<string, unknown> = {};
  let map: Record<string, string> | undefined;
  let any = false;
  for (const [field, value] of Object.entries(hash)) {
    if (field.startsWith('_')) continue;
    if (bridge && field.startsWith(bridge.prefix)) {
      map ??= {};
      map[decodeURIComponent(field.slice(bridge.prefix.length))] = value;
      continue;
    }
    out[field] = reviveDates(JSON.parse(value));
    any = true;
  }
  if (!any) return null;
  if (map && bridge) out[bridge.key] = map;
  return out as T;
}

/**
 * A session from its hash, or null for a missing one (an empty hash, or one holding only the
 * counter of messages saved for an unknown session). `seq` is the `_seq` counter, 0 before the
 * first message.
 */
export function decodeSession(hash: Record<string, string>): Session | null {
  const session = decode<Session>(hash, { prefix: 'bt:', key: 'bridgeThreads' });
  if (session) session.seq = hash._seq === undefined ? 0 : Number(hash._seq);
  return session;
}

/** A message from its hash, or null for an empty (missing) hash. */
export function decodeMessage(hash: Record<string, string>): Message | null {
  return decode<Message>(hash, { prefix: 'bm:', key: 'bridgeMessageIds' });
}

/** An attachment from its hash, or null for an empty (missing) hash. */
export function decodeAttachment(hash: Record<string, string>): Attachment | null {
  return decode<Attachment>(hash);
}

/** HGETALL as a flat array (what EVAL returns) to an object. */
export function pairsToHash(pairs: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(pairs)) return out;
  for (let i = 0; i + 1 < pairs.length; i += 2) out[String(pairs[i])] = String(pairs[i + 1]);
  return out;
}

/**
 * The arguments of one outbox record for the add script: id lane sid seq status nextMs
 * createdMs attempts data err owner untilMs (see outbox-lua.ts). The fixed fields travel as
 * JSON in `data`; the ones the scripts read or change are plain values.
 */
export function encodeOutbox(r: OutboxRecord): string[] {
  const data = toJson({
    id: r.id,
    bridge: r.bridge,
    sessionId: r.sessionId,
    seq: r.seq,
    operation: r.operation,
    createdAt: r.createdAt,
  });
  return [
    r.id,
    outboxLane(r.bridge, r.sessionId),
    r.sessionId,
    String(r.seq),
    r.status,
    String(r.nextAttemptAt.getTime()),
    String(r.createdAt.getTime()),
    String(r.attempts),
    data,
    r.lastError === undefined ? '' : `=${r.lastError}`,
    r.leaseOwner ?? '',
    r.leaseUntil ? String(r.leaseUntil.getTime()) : '',
  ];
}

/** An outbox record from its hash, or null for an empty (missing) hash. */
export function decodeOutbox(hash: Record<string, string>): OutboxRecord | null {
  if (hash.data === undefined) return null;
  const fixed = reviveDates(JSON.parse(hash.data)) as Pick<
    OutboxRecord,
    'id' | 'bridge' | 'sessionId' | 'seq' | 'operation' | 'createdAt'
  >;
  const record: OutboxRecord = {
    ...fixed,
    attempts: Number(hash.attempts),
    status: hash.status === 'dead' ? 'dead' : 'pending',
    nextAttemptAt: new Date(Number(hash.next)),
  };
  if (hash.err !== undefined) record.lastError = hash.err;
  if (hash.owner !== undefined && hash.until !== undefined) {
    record.leaseOwner = hash.owner;
    record.leaseUntil = new Date(Number(hash.until));
  }
  return record;
}
