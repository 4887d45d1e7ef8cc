/**
 * Helpers for storages that keep models as JSON (a jsonb column, a Redis string): sessions and
 * messages hold Dates at known and unknown depths (identity, metadata, preChat, csat,
 * attachments, ...). JSON has no date type, so Dates are written as `{ "$date": "<ISO>" }` and
 * turned back into Date objects on read: nested Dates survive a round trip without a per-field
 * schema, and user strings that merely look like dates stay strings.
 */

const DATE_KEY = '$date';

/** A value ready for `JSON.stringify`, with every Date replaced by its tagged form. */
export function encodeDates(value: unknown): unknown {
  if (value instanceof Date) return { [DATE_KEY]: value.toISOString() };
  if (Array.isArray(value)) return value.map(encodeDates);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = encodeDates(v);
    return out;
  }
  return value;
}

/** The inverse of `encodeDates`, applied to a parsed JSON value. */
export function reviveDates(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reviveDates);
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1 && keys[0] === DATE_KEY && typeof record[DATE_KEY] === 'string') {
      return new Date(record[DATE_KEY]);
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = reviveDates(record[k]);
    return out;
  }
  return value;
}

/** `JSON.stringify` with tagged Dates. */
export function toJsonWithDates(value: unknown): string {
  return JSON.stringify(encodeDates(value));
}
