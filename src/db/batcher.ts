/**
 * Gathers the calls made in one turn of the event loop (jobs of a worker finishing together) into one
 * statement: `many` answers for all of them at once. A single call, or a batch that fails, goes through
 * `one` per item, so one bad item never fails the others and each caller gets its own error.
 */
export function batched<I, O>(
  one: (item: I) => Promise<O>,
  many: (items: readonly I[]) => Promise<O[]>,
  /** Most items per statement. Default 200. */
  maxBatch = 200,
): (item: I) => Promise<O> {
  interface Waiting {
    item: I;
    resolve: (value: O) => void;
    reject: (reason: unknown) => void;
  }
  let waiting: Waiting[] = [];

  const each = (batch: readonly Waiting[]) => {
    for (const w of batch) one(w.item).then(w.resolve, w.reject);
  };
  const flush = () => {
    const all = waiting;
    waiting = [];
    for (let start = 0; start < all.length; start += maxBatch) {
      const batch = all.slice(start, start + maxBatch);
      if (batch.length === 1) {
        each(batch);
        continue;
      }
      many(batch.map((w) => w.item)).then(
        (results) => batch.forEach((w, i) => w.resolve(results[i]!)),
        () => each(batch),
      );
    }
  };

  return (item) =>
    new Promise<O>((resolve, reject) => {
      if (waiting.length === 0) setImmediate(flush);
      waiting.push({ item, resolve, reject });
    });
}
