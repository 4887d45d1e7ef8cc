/**
 * Key layout (P = keyPrefix). The Lua scripts build the same names from the prefix, so the
 * two must stay in step.
 *
 * - `P session:<id>`        hash: session fields (JSON values), `bt:<bridge>` thread ids, `_vid`,
 *                           `_seq` (the session's latest message sequence number)
 * - `P sessions`            sorted set of session ids by lastActivity (ms)
 * - `P sessions:<status>`   the same, per status (open, closed)
 * - `P visitor:<visitorId>` sorted set of the visitor's session ids by createdAt
 * - `P message:<id>`        hash: message fields (JSON values), `bm:<bridge>` platform ids, `_sid`
 * - `P history:<sessionId>` sorted set of message ids by timestamp (equal scores order by id)
 * - `P changes:<sessionId>` sorted set of message ids by updatedAt, for the `after` delta
 * - `P seqs:<sessionId>`    sorted set of message ids by seq, for the `afterSeq` delta
 * - `P attachment:<id>`     hash: attachment fields, `_sid`
 * - `P attachments:<sessionId>` set of attachment ids
 * - `P thread:<bridge>:<threadId>`    session id
 * - `P bridgemsg:<bridge>:<platformId>` message id
 *
 * Durable outbox (see outbox-lua.ts); a lane is named `<bridge>:<sessionId>`:
 * - `P outbox:rec:<id>`          hash: lane, sid, seq, status, next, created, attempts, err,
 *                                owner, until (instants in ms) and `data` (the fixed fields, JSON)
 * - `P outbox:lane:<lane>`       sorted set of the lane's pending record ids by seq
 * - `P outbox:lanes`             sorted set of lanes with pending records, by when their head
 *                                can next be claimed (ms)
 * - `P outbox:held:<owner>`      sorted set of the lanes an owner leases, by lease expiry
 * - `P outbox:pending`, `P outbox:dead` sorted sets of record ids by createdAt
 * - `P outbox:session:<sessionId>` set of the session's record ids (pending and dead)
 *
 * Leases of singleton jobs:
 * - `P lease:<name>`             string: the holder's owner id, with a PX expiry (the lease's end)
 *
 * Bridge names are URI-encoded inside keys and field names, so a `:` in a name stays unambiguous.
 */
export class Keys {
  constructor(readonly prefix: string) {}

  session(id: string): string {
    return `${this.prefix}session:${id}`;
  }

  sessions(status?: string): string {
    return status ? `${this.prefix}sessions:${status}` : `${this.prefix}sessions`;
  }

  visitor(visitorId: string): string {
    return `${this.prefix}visitor:${visitorId}`;
  }

  message(id: string): string {
    return `${this.prefix}message:${id}`;
  }

  history(sessionId: string): string {
    return `${this.prefix}history:${sessionId}`;
  }

  changes(sessionId: string): string {
    return `${this.prefix}changes:${sessionId}`;
  }

  seqs(sessionId: string): string {
    return `${this.prefix}seqs:${sessionId}`;
  }

  attachment(id: string): string {
    return `${this.prefix}attachment:${id}`;
  }

  thread(bridge: string, threadId: string): string {
    return `${this.prefix}thread:${encodeBridge(bridge)}:${threadId}`;
  }

  bridgeMessage(bridge: string, platformMessageId: string): string {
    return `${this.prefix}bridgemsg:${encodeBridge(bridge)}:${platformMessageId}`;
  }

  outboxRecord(id: string): string {
    return `${this.prefix}outbox:rec:${id}`;
  }

  outboxByStatus(status: 'pending' | 'dead'): string {
    return `${this.prefix}outbox:${status}`;
  }
}

/** A bridge name as used inside keys and hash field names. */
export function encodeBridge(bridge: string): string {
  return encodeURIComponent(bridge);
}

/** The name of an outbox lane (one bridge, one session) inside keys. */
export function outboxLane(bridge: string, sessionId: string): string {
  return `${encodeBridge(bridge)}:${sessionId}`;
}
