import { randomUUID } from 'node:crypto';
import type { OutboxClaim, OutboxRecord } from '@pocketping/core';
import { type AnyBulkWriteOperation, BSON, type Collection, type Filter, type UpdateFilter } from 'mongodb';

/** One outbox record as stored: an `OutboxRecord` with its operation encoded. */
export interface OutboxDoc {
  id: string;
  bridge: string;
  sessionId: string;
  seq: number;
  /**
   * The operation as one BSON document, base64 text. Any key (custom event data may hold `.`
   * or a leading `$`, which older servers refuse as field names), every Date and number come
   * back exactly as given. Text rather than a BSON binary field: the CongoDB emulator used in
   * the tests turns binary fields into plain objects on the first update of a document.
   */
  operation: string;
  /** `operation.type`, readable for an operator inspecting the collection; never read back. */
  operationType: string;
  attempts: number;
  status: 'pending' | 'dead';
  nextAttemptAt: Date;
  createdAt: Date;
  lastError?: string;
  leaseOwner?: string;
  leaseUntil?: Date;
  /** Identifies one claim call, so a claim can undo its own lease and nobody else's. */
  leaseToken?: string;
}

/** Fields a claim writes; what a lease release puts back. */
type Lease = Pick<OutboxDoc, 'leaseOwner' | 'leaseUntil' | 'leaseToken'>;
const LEASE_FIELDS = ['leaseOwner', 'leaseUntil', 'leaseToken'] as const;

/** A lane's head as found by the claim's aggregation. */
interface LaneHead {
  id: string;
}

/**
 * Lane heads read per claim, as a multiple of `limit`: several workers polling at once see the
 * same heads in the same order and most of the first ones are taken by others, so a claim keeps
 * going down the list until it has `limit` records.
 */
const CANDIDATES_PER_SLOT = 4;
const MIN_CANDIDATES = 32;

function encodeOperation(operation: OutboxRecord['operation']): string {
  return Buffer.from(BSON.serialize(operation, { checkKeys: false, ignoreUndefined: true })).toString('base64');
}

function decodeOperation(text: string): OutboxRecord['operation'] {
  return BSON.deserialize(Buffer.from(text, 'base64')) as OutboxRecord['operation'];
}

function toDoc(record: OutboxRecord): OutboxDoc {
  const doc: OutboxDoc = {
    id: record.id,
    bridge: record.bridge,
    sessionId: record.sessionId,
    seq: record.seq,
    operation: encodeOperation(record.operation),
    operationType: record.operation.type,
    attempts: record.attempts,
    status: record.status,
    nextAttemptAt: record.nextAttemptAt,
    createdAt: record.createdAt,
  };
  if (record.lastError !== undefined) doc.lastError = record.lastError;
  if (record.leaseOwner !== undefined) doc.leaseOwner = record.leaseOwner;
  if (record.leaseUntil !== undefined) doc.leaseUntil = record.leaseUntil;
  return doc;
}

/** The record as callers see it: never `_id`, `leaseToken` or `operationType`. */
function toRecord(doc: OutboxDoc): OutboxRecord {
  const record: OutboxRecord = {
    id: doc.id,
    bridge: doc.bridge,
    sessionId: doc.sessionId,
    seq: doc.seq,
    operation: decodeOperation(doc.operation),
    attempts: doc.attempts,
    status: doc.status,
    nextAttemptAt: doc.nextAttemptAt,
    createdAt: doc.createdAt,
  };
  if (doc.lastError != null) record.lastError = doc.lastError;
  if (doc.leaseOwner != null) record.leaseOwner = doc.leaseOwner;
  if (doc.leaseUntil != null) record.leaseUntil = doc.leaseUntil;
  return record;
}

/**
 * The durable outbox on one collection. MongoDB has no multi-document lock here (and the
 * emulator no transactions worth relying on), so a claim is built from single-document atomic
 * steps and checks (see `claim`).
 */
export class MongoOutbox {
  constructor(private readonly records: Collection<OutboxDoc>) {}

  /**
   * Inserts the records; one already stored (same `id`, e.g. a retried call) is left as it is.
   * An upsert by `id`, so no duplicate appears even where the unique index is not enforced.
   */
  async add(records: OutboxRecord[]): Promise<void> {
    if (records.length === 0) return;
    const ops: AnyBulkWriteOperation<OutboxDoc>[] = records.map((record) => {
      const { id, ...rest } = toDoc(record);
      return { updateOne: { filter: { id }, update: { $setOnInsert: rest }, upsert: true } };
    });
    await this.records.bulkWrite(ops, { ordered: false });
  }

  /**
   * Leases up to `limit` lane heads.
   *
   * 1. One aggregation finds every lane's head (lowest-`seq` pending record) that is due and not
   *    leased by another owner.
   * 2. Each is leased with a conditional `findOneAndUpdate` (still pending, due, and its lease
   *    free, expired or ours): a single-document atomic write, so two workers never both win
   *    one record.
   * 3. The lane is read again after the lease. If a record with a lower `seq` is pending (added
   *    or retried since step 1), or another record of the lane holds a live lease, this lease
   *    is undone. Both workers write before they read, so when two records of one lane are
   *    leased at once at least one of them sees the other and lets go: a lane is never worked
   *    by two workers at the same time.
   */
  async claim({ owner, now, leaseMs, limit }: OutboxClaim): Promise<OutboxRecord[]> {
    const wanted = Math.floor(limit);
    if (!(wanted > 0)) return [];
    const leaseUntil = new Date(now.getTime() + leaseMs);
    const token = randomUUID();
    const heads = await this.laneHeads(owner, now, Math.max(wanted * CANDIDATES_PER_SLOT, MIN_CANDIDATES));
    const claimed: OutboxRecord[] = [];
    let next = 0;
    // Leases run in parallel rounds of the slots still free, down the list of heads.
    while (claimed.length < wanted && next < heads.length) {
      const round = heads.slice(next, next + (wanted - claimed.length));
      next += round.length;
      const won = await Promise.all(round.map((head) => this.lease(head, owner, now, leaseUntil, token)));
      for (const record of won) if (record) claimed.push(record);
    }
    return claimed;
  }

  private async laneHeads(owner: string, now: Date, max: number): Promise<LaneHead[]> {
    return this.records
      .aggregate<LaneHead>([
        { $match: { status: 'pending' } },
        { $sort: { bridge: 1, sessionId: 1, seq: 1 } },
        {
          $group: {
            _id: { bridge: '$bridge', sessionId: '$sessionId' },
            id: { $first: '$id' },
            seq: { $first: '$seq' },
            nextAttemptAt: { $first: '$nextAttemptAt' },
            leaseOwner: { $first: '$leaseOwner' },
            leaseUntil: { $first: '$leaseUntil' },
          },
        },
        {
          $match: {
            nextAttemptAt: { $lte: now },
            // After $group a missing lease is null.
            $or: [{ leaseUntil: null }, { leaseUntil: { $lte: now } }, { leaseOwner: owner }],
          },
        },
        // Longest-waiting first, like MemoryStorage.
        { $sort: { nextAttemptAt: 1, seq: 1 } },
        { $limit: max },
        { $project: { _id: 0, id: 1 } },
      ])
      .toArray();
  }

  /** Leases one head, then keeps the lease only if the record is still alone at its lane's front. */
  private async lease(
    head: LaneHead,
    owner: string,
    now: Date,
    leaseUntil: Date,
    token: string,
  ): Promise<OutboxRecord | null> {
    const before = await this.records.findOneAndUpdate(
      {
        id: head.id,
        status: 'pending',
        nextAttemptAt: { $lte: now },
        $or: [{ leaseUntil: { $exists: false } }, { leaseUntil: { $lte: now } }, { leaseOwner: owner }],
      },
      { $set: { leaseOwner: owner, leaseUntil, leaseToken: token } },
      { returnDocument: 'before', projection: { _id: 0 } },
    );
    if (!before) return null;
    const blocker = await this.records.findOne(
      {
        bridge: before.bridge,
        sessionId: before.sessionId,
        status: 'pending',
        id: { $ne: before.id },
        $or: [{ seq: { $lt: before.seq } }, { leaseUntil: { $gt: now } }],
      },
      { projection: { _id: 0, id: 1 } },
    );
    if (blocker) {
      await this.release(before.id, token, before);
      return null;
    }
    return toRecord({ ...before, leaseOwner: owner, leaseUntil });
  }

  /** Undoes this claim's lease (only while it is still this claim's), restoring the one before. */
  private async release(id: string, token: string, previous: Lease): Promise<void> {
    const set: Partial<Lease> = {};
    const unset: Partial<Record<keyof Lease, ''>> = {};
    for (const field of LEASE_FIELDS) {
      if (previous[field] != null) (set as Record<string, unknown>)[field] = previous[field];
      else unset[field] = '';
    }
    const update: UpdateFilter<OutboxDoc> = {};
    if (Object.keys(set).length > 0) update.$set = set;
    if (Object.keys(unset).length > 0) update.$unset = unset;
    await this.records.updateOne({ id, leaseToken: token }, update);
  }

  /** Deletes a delivered record. */
  async complete(id: string): Promise<void> {
    await this.records.deleteMany({ id });
  }

  /** Records a failed attempt and releases the lease. */
  async reschedule(
    id: string,
    update: { attempts: number; nextAttemptAt: Date; lastError?: string; status: 'pending' | 'dead' },
  ): Promise<void> {
    const set: Partial<OutboxDoc> = {
      attempts: update.attempts,
      nextAttemptAt: update.nextAttemptAt,
      status: update.status,
    };
    if (update.lastError !== undefined) set.lastError = update.lastError;
    await this.records.updateMany({ id }, { $set: set, $unset: { leaseOwner: '', leaseUntil: '', leaseToken: '' } });
  }

  /** Records with `status`, oldest first (`createdAt`, then `seq`). */
  async list(query: { status: 'pending' | 'dead'; limit?: number }): Promise<OutboxRecord[]> {
    const cursor = this.records.find({ status: query.status } as Filter<OutboxDoc>, { projection: { _id: 0 } });
    cursor.sort({ createdAt: 1, seq: 1 });
    if (query.limit !== undefined) {
      const limit = Math.floor(query.limit);
      // MongoDB reads limit 0 as "no limit".
      if (!(limit > 0)) return [];
      cursor.limit(limit).batchSize(limit);
    }
    return (await cursor.toArray()).map(toRecord);
  }

  /** A dead record back to pending, attempts 0, due now; false when unknown or not dead. */
  async retry(id: string): Promise<boolean> {
    const result = await this.records.updateOne(
      { id, status: 'dead' },
      {
        $set: { status: 'pending', attempts: 0, nextAttemptAt: new Date() },
        $unset: { lastError: '', leaseOwner: '', leaseUntil: '', leaseToken: '' },
      },
    );
    return result.matchedCount > 0;
  }

  /** Removes every record of these sessions (deleteSession, cleanupOldSessions). */
  async deleteSessions(sessionIds: string[]): Promise<void> {
    await this.records.deleteMany({ sessionId: { $in: sessionIds } });
  }
}
