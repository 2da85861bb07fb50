/**
 * Timestamps of the last moments, kept in order: a strict sliding window that counts the times in
 * `(now - windowMs, now]`. Times may come slightly out of order (a request that took longer to read
 * is counted by when it arrived, after a later one was already counted), so each is inserted in its
 * place; times older than twice the window behind the latest are dropped.
 */
export class SlidingWindow {
  constructor(private readonly windowMs = 1000) {}

  #times: number[] = [];
  #head = 0;

  /** How many recorded times fall in the window ending at `now`. */
  count(now: number): number {
    return this.#upperBound(now) - this.#upperBound(now - this.windowMs);
  }

  /** Records `now` and returns how many fall in the window ending at `now`. */
  add(now: number): number {
    const at = this.#upperBound(now);
    if (at === this.#times.length) this.#times.push(now);
    else this.#times.splice(at, 0, now);
    this.#prune();
    return this.count(now);
  }

  /** Index of the first time after `t`. */
  #upperBound(t: number): number {
    let lo = this.#head;
    let hi = this.#times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#times[mid] ?? 0) <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #prune(): void {
    const oldest = (this.#times.at(-1) ?? 0) - 2 * this.windowMs;
    while (this.#head < this.#times.length && (this.#times[this.#head] ?? 0) <= oldest) this.#head += 1;
    if (this.#head > 1024 && this.#head * 2 > this.#times.length) {
      this.#times = this.#times.slice(this.#head);
      this.#head = 0;
    }
  }
}
