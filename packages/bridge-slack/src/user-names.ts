import type { Logger } from '@pocketping/core';
import type { WebClient } from '@slack/web-api';

/** How long a looked-up name is reused before asking `users.info` again. */
export const USER_NAME_TTL_MS = 10 * 60 * 1000;
const MAX_ENTRIES = 2000;

/**
 * Slack user id → the name operators go by, from `users.info`, cached with a TTL so a busy
 * thread costs one lookup per operator (users.info is rate limited at Tier 4).
 */
export class UserNameCache {
  private readonly entries = new Map<string, { name: Promise<string | undefined>; expires: number }>();

  constructor(
    private readonly client: () => WebClient,
    private readonly logger: () => Logger,
    private readonly ttlMs = USER_NAME_TTL_MS,
  ) {}

  /** The user's real name (or display name, or handle); `undefined` when Slack cannot say. */
  get(userId: string): Promise<string | undefined> {
    const now = Date.now();
    const hit = this.entries.get(userId);
    if (hit && hit.expires > now) return hit.name;
    if (this.entries.size >= MAX_ENTRIES) {
      for (const [id, e] of this.entries) if (e.expires <= now) this.entries.delete(id);
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    }
    const name = this.lookup(userId);
    this.entries.set(userId, { name, expires: now + this.ttlMs });
    // A failed lookup is not cached: the next message tries again.
    void name.then((n) => {
      if (n === undefined) this.entries.delete(userId);
    });
    return name;
  }

  private async lookup(userId: string): Promise<string | undefined> {
    try {
      const res = await this.client().users.info({ user: userId });
      const u = res.user;
      const name = u?.profile?.real_name || u?.real_name || u?.profile?.display_name || u?.name;
      return name || undefined;
    } catch (err) {
      this.logger().warn({ err, userId }, 'slack: users.info failed; the reply is shown without a name');
      return undefined;
    }
  }
}
