/**
 * Releasing what was opened: `runCleanups` runs every cleanup even if one throws and keeps the first
 * error; `Resources` closes what a command opened that way, in reverse order of opening, and closing
 * twice is the same as closing once.
 */

/** Runs every cleanup step in order, even when one throws; then rethrows the first error. */
export async function runCleanups(steps: Iterable<() => unknown>): Promise<void> {
  let first: unknown;
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}

export class Resources {
  readonly #releasers: Array<() => Promise<void> | void> = [];
  #closing: Promise<void> | undefined;

  /** Registers `release` to run at close and hands `resource` back. */
  own<T>(resource: T, release: (r: T) => Promise<unknown> | unknown): T {
    this.#releasers.push(async () => {
      await release(resource);
    });
    return resource;
  }

  close(): Promise<void> {
    this.#closing ??= runCleanups(this.#releasers.reverse());
    return this.#closing;
  }
}
