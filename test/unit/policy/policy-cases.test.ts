import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { BrokerError } from '../../../src/lib/errors';
import { createPolicyEngine, DecisionRequest, loadPolicySet, PolicyEngine } from '../../../src/policy';
import { isDeny } from '../../helpers/expect-denial';

/** Runs every suite under test/fixtures/policies/suites (see the README there). */

interface CaseExpect {
  decision?: string;
  determining?: string[];
  chosen?: string;
  obligations?: Record<string, unknown>;
  summary?: string;
  hint_contains?: string;
  candidates?: Record<string, string[]>;
  failed_contains?: Record<string, string>;
  error?: string;
  message_contains?: string;
}

interface Suite {
  name: string;
  policies?: string;
  defaults: { agent: DecisionRequest['agent']; resource: string; context: Record<string, unknown> };
  cases: { name: string; request: Record<string, unknown> & { context?: Record<string, unknown> }; expect: CaseExpect }[];
}

const SUITES = resolve(__dirname, '../../fixtures/policies/suites');

for (const dir of readdirSync(SUITES).sort()) {
  const suiteDir = join(SUITES, dir);
  const suite = parse(readFileSync(join(suiteDir, 'cases.yaml'), 'utf8')) as Suite;

  describe(`policy cases: ${suite.name}`, () => {
    let engine: PolicyEngine;
    before(async () => {
      engine = createPolicyEngine(await loadPolicySet(resolve(suiteDir, suite.policies ?? 'policies')));
    });

    for (const c of suite.cases) {
      it(c.name, () => {
        const req = {
          ...suite.defaults,
          ...c.request,
          context: { ...suite.defaults.context, ...(c.request.context ?? {}) },
        } as unknown as DecisionRequest;
        const e = c.expect;

        if (e.error !== undefined) {
          assert.throws(
            () => engine.decide(req),
            (err: unknown) => err instanceof BrokerError && err.kind === e.error && err.message.includes(e.message_contains ?? ''),
          );
          return;
        }

        const d = engine.decide(req);
        const x = d.explanation;
        if (e.decision !== undefined) assert.equal(d.decision, e.decision, x.summary);
        assert.equal(x.decision, d.decision);
        assert.equal(d.policyVersion, engine.version);
        assert.ok(x.hint.length > 0, 'every decision has a hint');
        if (isDeny(d)) assert.deepEqual(d.obligations, { approvals: [] });
        if (e.determining !== undefined) {
          assert.deepEqual(d.determining.map((p) => p.id), e.determining);
          assert.deepEqual(x.deciding_policies, d.determining);
        }
        if (e.chosen !== undefined) assert.equal(d.chosenPolicyId, e.chosen);
        if (e.obligations !== undefined) assert.deepEqual(d.obligations, e.obligations);
        if (e.summary !== undefined) assert.equal(x.summary, e.summary);
        if (e.hint_contains !== undefined) assert.ok(x.hint.includes(e.hint_contains), `hint was: ${x.hint}`);
        if (e.candidates !== undefined) {
          const got = Object.fromEntries(x.candidates.map((k) => [k.id, k.failed_conditions]));
          for (const [id, failed] of Object.entries(e.candidates)) {
            assert.ok(id in got, `candidate ${id} missing; got ${Object.keys(got).join(', ')}`);
            assert.deepEqual(got[id], failed, `failed conditions of ${id}`);
          }
          if (Object.keys(e.candidates).length === 0) assert.deepEqual(x.candidates, []);
        }
        for (const [id, fragment] of Object.entries(e.failed_contains ?? {})) {
          const failed = x.candidates.find((k) => k.id === id)?.failed_conditions ?? [];
          assert.ok(failed.some((f) => f.includes(fragment)), `${id} failed conditions: ${JSON.stringify(failed)}`);
        }
      });
    }
  });
}
