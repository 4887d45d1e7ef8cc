import { describe, expect, it } from 'vitest';
import { monotonicNow } from '../src/index.js';

describe('monotonic clock', () => {
  it('is strictly increasing within one session', () => {
    let last = 0;
    for (let i = 0; i < 200; i++) {
      const t = monotonicNow('ses_clock_a').getTime();
      expect(t).toBeGreaterThan(last);
      last = t;
    }
  });

  it('does not run ahead of the real clock when many sessions write at once', () => {
    for (let i = 0; i < 20_000; i++) monotonicNow(`ses_clock_${i % 5000}`);
    // Each session wrote 4 times, so no timestamp can be more than a few ms ahead.
    expect(monotonicNow('ses_clock_probe').getTime() - Date.now()).toBeLessThanOrEqual(5);
  });
});
