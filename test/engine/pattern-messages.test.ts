/**
 * Rule-level results of pattern and anyPattern rules, with Kyverno's message
 * texts ("validation error: <msg>. rule <rule> failed at path <path>",
 * anyPattern's "rule <rule>[i] failed at path …" list, skip and error forms).
 */
import t from 'tap';
import {
  anyPatternErrorMessage, anyPatternRuleResult, compileAnyPattern, compilePattern, patternRuleResult,
} from '../../src/engine/pattern/index.ts';

const pod = (spec: Record<string, unknown>) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec } as never);

t.test('pattern rule: pass, fail with and without a message', async (t) => {
  const c = compilePattern({ spec: { '=(runtimeClassName)': 'prodclass | expclass' } });
  t.same(patternRuleResult('prodclass-or-expclass', 'Only prodclass.', c(pod({ runtimeClassName: 'prodclass' }))),
    { status: 'pass', message: "validation rule 'prodclass-or-expclass' passed." });
  t.same(patternRuleResult('prodclass-or-expclass', 'Only the runtime classes prodclass or expclass may be used.', c(pod({ runtimeClassName: 'x' }))), {
    status: 'fail', path: '/spec/runtimeClassName/',
    message: 'validation error: Only the runtime classes prodclass or expclass may be used. rule prodclass-or-expclass failed at path /spec/runtimeClassName/',
  });
  t.same(patternRuleResult('r', 'No dot', c(pod({ runtimeClassName: 'x' }))).message,
    'validation error: No dot. rule r failed at path /spec/runtimeClassName/', 'a final dot is added');
  t.same(patternRuleResult('r', '', c(pod({ runtimeClassName: 'x' }))).message,
    'validation error: rule r failed at path /spec/runtimeClassName/', 'no message');
  t.same(patternRuleResult('r', undefined, c(pod({ runtimeClassName: 'x' }))).message,
    'validation error: rule r failed at path /spec/runtimeClassName/');
});

t.test('pattern rule: skip and error', async (t) => {
  const skip = compilePattern({ spec: { '(hostNetwork)': true, dnsPolicy: 'ClusterFirstWithHostNet' } });
  t.same(patternRuleResult('r', 'msg', skip(pod({ hostNetwork: false }))), {
    status: 'skip', message: "conditional anchor mismatch: resource value 'false' does not match 'true' at path /spec/hostNetwork/",
  });
  const err = compilePattern({ spec: { 'X(hostIPC)': 'null', serviceAccountName: 'app' } });
  t.same(patternRuleResult('r', 'Use the app account', err(pod({ serviceAccountName: 'x' }))), {
    status: 'error',
    message: "validation error: Use the app account. rule r execution error: resource value 'x' does not match 'app' at path /spec/serviceAccountName/",
  });
  t.same(patternRuleResult('r', '', err(pod({ serviceAccountName: 'x' }))).message,
    "validation error: rule r execution error: resource value 'x' does not match 'app' at path /spec/serviceAccountName/");
});

t.test('anyPattern: first match passes, else every failure is listed', async (t) => {
  const ps = compileAnyPattern([
    { spec: { securityContext: { runAsNonRoot: true } } },
    { spec: { containers: [{ securityContext: { runAsNonRoot: true } }] } },
  ]);
  t.same(anyPatternRuleResult('run-as-non-root', 'Running as root is not allowed.', ps,
    pod({ securityContext: { runAsNonRoot: true }, containers: [{ name: 'a' }] })),
  { status: 'pass', message: "validation rule 'run-as-non-root' anyPattern[0] passed." });
  t.same(anyPatternRuleResult('run-as-non-root', 'msg', ps, pod({ containers: [{ securityContext: { runAsNonRoot: true } }] })),
    { status: 'pass', message: "validation rule 'run-as-non-root' anyPattern[1] passed." });
  t.same(anyPatternRuleResult('run-as-non-root', 'Running as root is not allowed.', ps, pod({ containers: [{ name: 'a' }] })), {
    status: 'fail', path: '/spec/securityContext/',
    message: 'validation error: Running as root is not allowed. rule run-as-non-root[0] failed at path /spec/securityContext/ ' +
      'rule run-as-non-root[1] failed at path /spec/containers/0/securityContext/',
  });
  t.equal(anyPatternRuleResult('r', 'No dot', ps, pod({ containers: [{}] })).message,
    'validation error: No dot. rule r[0] failed at path /spec/securityContext/ rule r[1] failed at path /spec/containers/0/securityContext/');
  t.equal(anyPatternRuleResult('r', '', ps, pod({ containers: [{}] })).message,
    'validation error: rule r[0] failed at path /spec/securityContext/ rule r[1] failed at path /spec/containers/0/securityContext/');
});

t.test('anyPattern: skips and path-less failures', async (t) => {
  const allSkip = compileAnyPattern([{ spec: { '(hostNetwork)': true } }, { metadata: { '(name)': 'x-*' } }]);
  t.same(anyPatternRuleResult('r', 'm', allSkip, pod({ hostNetwork: false })), {
    status: 'skip',
    message: "rule r[0] skipped: conditional anchor mismatch: resource value 'false' does not match 'true' at path /spec/hostNetwork/ " +
      "rule r[1] skipped: conditional anchor mismatch: resource value 'p' does not match 'x-*' at path /metadata/name/",
  });
  const mixed = compileAnyPattern([{ spec: { '(hostNetwork)': true } }, { spec: { 'X(hostPID)': 'null', dnsPolicy: 'Default' } }]);
  t.same(anyPatternRuleResult('r', '', mixed, pod({ hostNetwork: false })), {
    status: 'fail',
    message: "validation error: rule r[1] failed: resource value '<nil>' does not match 'Default' at path /spec/dnsPolicy/",
  }, 'a failure outweighs skips; path-less failures print the error');
  t.same(anyPatternRuleResult('r', 'kept', [], pod({})), { status: 'pass', message: 'kept' }, 'empty anyPattern passes');
});

t.test('anyPatternErrorMessage formatting', async (t) => {
  t.equal(anyPatternErrorMessage(undefined, ['a', 'b']), 'validation error: a b');
  t.equal(anyPatternErrorMessage('m.', ['a']), 'validation error: m. a');
  t.equal(anyPatternErrorMessage('m', ['a']), 'validation error: m. a');
});

t.test('anyPattern references resolve inside each entry', async (t) => {
  const ps = compileAnyPattern([{ spec: { a: 'x', b: '$(./../a)' } }]);
  t.equal(anyPatternRuleResult('r', '', ps, pod({ a: 'x', b: 'x' })).status, 'pass');
  t.equal(anyPatternRuleResult('r', '', ps, pod({ a: 'x', b: 'y' })).status, 'fail');
});
