import { strict as assert } from 'node:assert';
import { compileConfig } from '../../src/config/compile';
import { ConfigError } from '../../src/config/problems';

/** The problems compiling `raw` reports; fails the test if it compiles or throws anything but a ConfigError. */
export function problemsOf(raw: unknown): Array<{ path: string; message: string }> {
  try {
    compileConfig(raw, '/etc/sb/config.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return [...err.problems];
  }
  assert.fail('expected a ConfigError');
}

/** The message of the problem reported at `at`; fails the test if there is none there. */
export function problemAt(raw: Record<string, unknown>, at: string): string {
  const problems = problemsOf(raw);
  const p = problems.find((x) => x.path === at);
  assert.ok(p, `no problem at ${at}: ${JSON.stringify(problems)}`);
  return p.message;
}
