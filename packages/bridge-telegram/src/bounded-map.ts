/**
 * A Map that forgets its oldest entries past `capacity`. The bridge keeps a few per-topic facts
 * in memory (card message, open/closed state); bounding them keeps a long-running process flat.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly capacity: number) {
    super();
  }

  override set(key: K, value: V): this {
    // Re-inserting moves the key to the newest position.
    if (this.has(key)) super.delete(key);
    super.set(key, value);
    while (this.size > this.capacity) {
      const oldest = this.keys().next();
      if (oldest.done) break;
      super.delete(oldest.value);
    }
    return this;
  }
}
