/**
 * Runs async critical sections one at a time per key, in arrival order.
 * Per instance: no module state. Keys with nothing queued hold no memory.
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    // `before` only ever resolves: every tail is a chain of `mine` promises.
    const tail = before.then(() => mine);
    this.#tails.set(key, tail);
    await before;
    try {
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
