import { strict as assert } from 'node:assert';

/** Polls `fn` every `everyMs` until it holds; fails the test naming `what` after `ms`. */
export async function until(what: string, fn: () => Promise<boolean> | boolean, ms = 10_000, everyMs = 20): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
