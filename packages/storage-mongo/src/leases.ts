import { createHash } from 'node:crypto';
import { type Collection, ObjectId } from 'mongodb';

/** One lease as stored. `owner` is missing while the document only marks the name as known. */
export interface LeaseDoc {
  /** Derived from `name` (see `leaseId`), so one name can only ever have one document. */
  _id: ObjectId;
  name: string;
  owner?: string;
  expiresAt: Date;
}

/**
 * The `_id` of a lease: the first 12 bytes of SHA-256 of its name. An ObjectId rather than the
 * name itself because the CongoDB emulator used in the tests refuses string `_id` values.
 */
function leaseId(name: string): ObjectId {
  return new ObjectId(createHash('sha256').update(name).digest().subarray(0, 12));
}

/**
 * Leases of singleton jobs on one collection.
 *
 * Why not the usual `findOneAndUpdate({ name, $or: [...] }, ..., { upsert: true })` with a unique
 * index on `name`, treating a duplicate-key error as "lost"? Its correctness rests on the unique
 * index: where it is not enforced (the emulator in our tests), two owners asking for a new name at
 * once each insert their own document and both win. Cleaning up afterwards (keep the earliest of
 * the duplicates) needs an insertion order every instance agrees on, and client clocks or random
 * tie-breaks do not give one: an owner that read before a rival's insert has already answered
 * true when the rival, ordered first by its marker, deletes it.
 *
 * Instead each name has exactly one possible document, because its `_id` is derived from the name
 * and every MongoDB server (and the emulator) enforces `_id` uniqueness. Taking a lease is then
 * a conditional `findOneAndUpdate` on that one document, without upsert: free (expired) or ours →
 * set owner and expiry. That is a single-document atomic write, so among owners asking at once
 * exactly one matches. When nobody matches, the document may simply not exist yet: it is created
 * as an expired placeholder with an upsert that only sets fields on insert (racing creators
 * create one document, or the loser gets a duplicate-key error that means the same thing), and
 * the conditional take runs once more.
 *
 * Expiry is compared with this process' clock: instances should keep their clocks in sync (NTP);
 * core's LeaseKeeper stops a job a third of the TTL before its lease ends, which absorbs skew
 * smaller than that.
 */
export class MongoLeases {
  constructor(private readonly leases: Collection<LeaseDoc>) {}

  /** True when `owner` holds `name` until `ttlMs` from now afterwards. */
  async acquire(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const _id = leaseId(name);
    const now = new Date();
    const expiresAt = new Date(now.getTime() + ttlMs);
    const take = async () =>
      (await this.leases.findOneAndUpdate(
        { _id, $or: [{ owner }, { expiresAt: { $lte: now } }] },
        { $set: { owner, expiresAt } },
        { projection: { _id: 1 } },
      )) !== null;
    if (await take()) return true;
    if (!(await this.createPlaceholder(_id, name))) return false;
    return take();
  }

  /** Deletes the lease while `owner` holds it. */
  async release(name: string, owner: string): Promise<void> {
    await this.leases.deleteOne({ _id: leaseId(name), owner });
  }

  /** Creates the (expired, ownerless) document of `name`; false when it already existed. */
  private async createPlaceholder(_id: ObjectId, name: string): Promise<boolean> {
    try {
      const result = await this.leases.updateOne(
        { _id },
        { $setOnInsert: { name, expiresAt: new Date(0) } },
        { upsert: true },
      );
      return result.upsertedCount > 0;
    } catch (err) {
      // A concurrent creator inserted it first: it exists now, held or about to be.
      if ((err as { code?: unknown }).code === 11000) return false;
      throw err;
    }
  }
}
