/** Timestamps of the last `windowMs`, oldest first, pruned on every use: a strict sliding window. */
export class SlidingWindow {
  constructor(private readonly windowMs = 1000) {}

  #times: number[] = [];
  #head = 0;

  count(now: number): number {
    while (this.#head < this.#times.length && (this.#times[this.#head] ?? 0) <= now - this.windowMs)
      this.#head += 1;
    if (this.#head > 1024 && this.#head * 2 > this.#times.length) {
      this.#times = this.#times.slice(this.#head);
      this.#head = 0;
    }
    return this.#times.length - this.#head;
  }

  /** Records `now` and returns how many fall in the window ending at `now`. */
  add(now: number): number {
    this.#times.push(now);
    return this.count(now);
  }
}
