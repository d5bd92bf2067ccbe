import t from 'tap';
import { blockedMessage, decideMutation, decideValidation, ruleAction } from '../../src/server/decision.ts';
import { policy, rule } from './fixtures/helpers.ts';

const resource = { kind: 'foo', namespace: 'bar', name: 'baz' };

t.test('an Enforce fail denies with Kyverno\'s message', async (t) => {
  const d = decideValidation([{ policy: policy({ name: 'test' }), rules: [rule('rule-fail', 'fail', 'message fail')] }], resource);
  t.equal(d.allowed, false);
  t.equal(d.message, '\n\npolicy foo/bar/baz for resource violation: \n\ntest:\n  rule-fail: message fail\n');
  t.same(d.blocking, [{ policy: 'test', rule: 'rule-fail', status: 'fail' }]);
  t.same(d.warnings, []);
});

t.test('an error under failurePolicy Fail denies as "error"; fail+error is a "violation", rules sorted', async (t) => {
  const p = policy({ name: 'test' });
  t.equal(decideValidation([{ policy: p, rules: [rule('rule-error', 'error', 'message error')] }], resource).message,
    '\n\npolicy foo/bar/baz for resource error: \n\ntest:\n  rule-error: message error\n');
  t.equal(decideValidation([{ policy: p, rules: [rule('rule-fail', 'fail', 'message fail'), rule('rule-error', 'error', 'message error')] }], resource).message,
    '\n\npolicy foo/bar/baz for resource violation: \n\ntest:\n  rule-error: message error\n  rule-fail: message fail\n');
});

t.test('several blocking policies: plural action, every policy and rule listed', async (t) => {
  const d = decideValidation([
    { policy: policy({ name: 'zeta' }), rules: [rule('r1', 'fail', 'one'), rule('ok', 'pass')] },
    { policy: policy({ name: 'alpha' }), rules: [rule('r2', 'fail', 'two: with colon')] },
  ], { kind: 'Pod', namespace: 'default', name: 'web' });
  t.equal(d.allowed, false);
  t.equal(d.message, "\n\npolicy Pod/default/web for resource violations: \n\nalpha:\n  r2: 'two: with colon'\nzeta:\n  r1: one\n");
  t.same(d.blocking.map((b) => `${b.policy}/${b.rule}`).sort(), ['alpha/r2', 'zeta/r1']);
});

t.test('Audit failures, warn results and errors under Ignore are warnings, and allowed', async (t) => {
  const d = decideValidation([
    { policy: policy({ name: 'audit', validationFailureAction: 'Audit' }), rules: [rule('a', 'fail', 'audit fail')] },
    { policy: policy({ name: 'warned' }), rules: [rule('w', 'warn', 'careful')] },
    { policy: policy({ name: 'lenient', failurePolicy: 'Ignore' }), rules: [rule('e', 'error', 'boom'), rule('s', 'skip', 'skipped')] },
  ], resource);
  t.equal(d.allowed, true);
  t.equal(d.message, undefined);
  t.same(d.warnings, ['policy audit.a: audit fail', 'policy warned.w: careful', 'policy lenient.e: boom']);
});

t.test('pass and skip alone allow silently', async (t) => {
  const d = decideValidation([{ policy: policy({ name: 'p' }), rules: [rule('a', 'pass'), rule('b', 'skip')] }], resource);
  t.same(d, { allowed: true, warnings: [], blocking: [] });
});

t.test('rule-level failureAction and namespace overrides decide per rule', async (t) => {
  const p = policy({
    name: 'mixed',
    validationFailureAction: 'Audit',
    rules: [
      { name: 'strict', failureAction: 'Enforce' },
      { name: 'soft', failureAction: 'Audit', failureActionOverrides: [{ action: 'Enforce', namespaces: ['prod-*'] }] },
    ],
  });
  t.equal(ruleAction(p, 'strict', 'dev'), 'Enforce');
  t.equal(ruleAction(p, 'soft', 'dev'), 'Audit');
  t.equal(ruleAction(p, 'soft', 'prod-eu'), 'Enforce');
  t.equal(ruleAction(p, 'unknown', 'dev'), 'Audit', 'unknown rule falls back to the policy action');
  const dev = decideValidation([{ policy: p, rules: [rule('soft', 'fail', 'x')] }], { kind: 'Pod', namespace: 'dev', name: 'a' });
  t.equal(dev.allowed, true);
  t.same(dev.warnings, ['policy mixed.soft: x']);
  const prod = decideValidation([{ policy: p, rules: [rule('soft', 'fail', 'x')] }], { kind: 'Pod', namespace: 'prod-eu', name: 'a' });
  t.equal(prod.allowed, false);
});

t.test('mutation: a blocking rule denies in Kyverno\'s words, others warn', async (t) => {
  const d = decideMutation([
    { policy: policy({ name: 'defaults', rules: [{ name: 'set-sc', type: 'Mutation' }] }), rules: [rule('set-sc', 'error', 'cannot patch', 'Mutation')] },
  ], 'default');
  t.equal(d.allowed, false);
  t.equal(d.message, 'mutation policy defaults error: failed to apply policy defaults rules [set-sc: cannot patch]');
  const ok = decideMutation([
    { policy: policy({ name: 'defaults', failurePolicy: 'Ignore' }), rules: [rule('set-sc', 'error', 'cannot patch', 'Mutation'), rule('x', 'pass', '', 'Mutation')] },
  ], 'default');
  t.equal(ok.allowed, true);
  t.same(ok.warnings, ['policy defaults.set-sc: cannot patch']);
});

t.test('blockedMessage quotes YAML-special messages', async (t) => {
  const p = policy({ name: 'p' });
  const msg = blockedMessage({ kind: 'Pod', namespace: 'ns', name: 'n' }, new Map([[p, [rule('r', 'fail', 'validation error: bad value')]]]));
  t.equal(msg, "\n\npolicy Pod/ns/n for resource violation: \n\np:\n  r: 'validation error: bad value'\n");
});
