import type { Attachment, Message, Session } from '@pocketping/core';
import { reviveDates, toJson } from './json-dates.js';
import { encodeBridge } from './keys.js';

/** Bridge maps are stored as one hash field per bridge, apart from the JSON fields. */
const BRIDGE_MAPS = new Set(['bridgeThreads', 'bridgeMessageIds']);

/** Keys that identify a record and never change through a patch. */
const IMMUTABLE = new Set(['id', 'sessionId', 'visitorId', 'createdAt', 'timestamp', 'sender']);

/** Field/value pairs of a whole record for HSET: each given field as JSON, Dates tagged. */
export function encodeFields(record: object): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined || BRIDGE_MAPS.has(key)) continue;
    out.push(key, toJson(value));
  }
  return out;
}

/** Field/value pairs of a patch: only the given keys, never the identifying ones. */
export function encodePatch(patch: object): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined || BRIDGE_MAPS.has(key) || IMMUTABLE.has(key)) continue;
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

/** A session from its hash, or null for an empty (missing) hash. */
export function decodeSession(hash: Record<string, string>): Session | null {
  return decode<Session>(hash, { prefix: 'bt:', key: 'bridgeThreads' });
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
