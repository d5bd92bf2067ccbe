/**
 * PolicyException (kyverno.io/v2, v2beta1) selection, written from Kyverno's
 * documented semantics: policy/rule names (wildcards, `namespace/name` for a
 * Policy, autogen names listed explicitly), any/all match blocks, conditions
 * over the JSON context, and podSecurity fine-grained entries.
 */
import t from 'tap';
import YAML from 'yaml';
import { compileExceptions, exceptionSkip, podSecurityException, policyKey } from '../../src/engine/exceptions.ts';
import { compilePodSecurity, type PodView } from '../../src/engine/podsecurity/index.ts';
import { buildContextData } from '../../src/engine/variables.ts';
import type { AdmissionInput, KubeObject } from '../../src/engine/types.ts';
import type { MatchTarget } from '../../src/engine/match.ts';

const docs = (yaml: string) => YAML.parseAllDocuments(yaml).map((d) => d.toJSON() as KubeObject);

function target(kind: string, name: string, namespace: string, extra: Partial<AdmissionInput> = {}, labels: Record<string, string> = {}): MatchTarget {
  const group = kind === 'Deployment' ? 'apps' : '';
  const resource = { apiVersion: group ? `${group}/v1` : 'v1', kind, metadata: { name, namespace, labels }, spec: {} } as KubeObject;
  const input: AdmissionInput = {
    operation: 'CREATE', object: resource, oldObject: null, kind: { group, version: 'v1', kind }, namespace,
    userInfo: { username: 'alice' }, roles: [], clusterRoles: [], ...extra,
  };
  return { input, resource };
}
const dataFor = (t: MatchTarget) => buildContextData(t.input);

const delta = `apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: delta-exception, namespace: delta}
spec:
  exceptions:
  - policyName: disallow-host-namespaces
    ruleNames: [host-namespaces, autogen-host-namespaces]
  match:
    any:
    - resources:
        kinds: [Pod, Deployment]
        namespaces: [delta]
        names: [important-tool*]
`;

t.test('policy and rule names select the exception; autogen rules only when listed', async (t) => {
  const ex = compileExceptions(docs(delta));
  t.equal(ex.size, 1);
  const pod = target('Pod', 'important-tool-1', 'delta');
  t.equal(ex.find('disallow-host-namespaces', 'host-namespaces', pod), 'delta/delta-exception');
  t.equal(ex.find('disallow-host-namespaces', 'autogen-host-namespaces', target('Deployment', 'important-tool', 'delta')), 'delta/delta-exception');
  t.equal(ex.forRule('disallow-host-namespaces', 'autogen-cronjob-host-namespaces'), undefined, 'not listed, not implied');
  t.equal(ex.forRule('other-policy', 'host-namespaces'), undefined);
  t.equal(ex.forRule('disallow-host-namespaces', 'host-namespaces'), ex.forRule('disallow-host-namespaces', 'host-namespaces'), 'resolved once per rule');
  t.equal(ex.find('disallow-host-namespaces', 'host-namespaces', target('Pod', 'other', 'delta')), undefined, 'name does not match');
  t.equal(ex.find('disallow-host-namespaces', 'host-namespaces', target('Pod', 'important-tool-1', 'prod')), undefined, 'namespace does not match');
  t.equal(ex.find('disallow-host-namespaces', 'host-namespaces', target('Service', 'important-tool-1', 'delta')), undefined, 'kind does not match');
});

t.test('wildcards in policyName and ruleNames; namespaced policies are named namespace/name', async (t) => {
  const ex = compileExceptions(docs(`apiVersion: kyverno.io/v2beta1
kind: PolicyException
metadata: {name: all-team, namespace: team}
spec:
  exceptions:
  - policyName: "team/require-*"
    ruleNames: ["*"]
  - policyName: "disallow-?atest"
    ruleNames: ["autogen-*"]
  match:
    all:
    - resources: {kinds: [Pod]}
    - resources: {namespaces: [team]}
`));
  t.equal(policyKey({ name: 'require-labels', namespace: 'team', kind: 'Policy' }), 'team/require-labels');
  t.equal(policyKey({ name: 'require-labels', kind: 'ClusterPolicy' }), 'require-labels');
  const pod = target('Pod', 'p', 'team');
  t.equal(ex.find('team/require-labels', 'anything', pod), 'team/all-team');
  t.equal(ex.find('require-labels', 'anything', pod), undefined, 'a ClusterPolicy of the same name is not named');
  t.equal(ex.find('disallow-latest', 'autogen-check', pod), 'team/all-team');
  t.equal(ex.find('disallow-latest', 'check', pod), undefined);
  t.equal(ex.find('team/require-labels', 'x', target('Pod', 'p', 'other')), undefined, 'all: every filter must match');
});

t.test('a match with neither any nor all matches nothing', async (t) => {
  const ex = compileExceptions(docs(`apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: loose, namespace: x}
spec:
  exceptions: [{policyName: p, ruleNames: [r]}]
  match:
    resources: {kinds: [Pod]}
`));
  t.equal(ex.size, 1);
  t.equal(ex.find('p', 'r', target('Pod', 'a', 'x')), undefined);
});

t.test('conditions run against the JSON context; unevaluable conditions do not exempt', async (t) => {
  const ex = compileExceptions(docs(`apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: by-label, namespace: x}
spec:
  exceptions: [{policyName: p, ruleNames: [r]}]
  match: {any: [{resources: {kinds: [Pod]}}]}
  conditions:
    any:
    - key: "{{ request.object.metadata.labels.exempt || '' }}"
      operator: Equals
      value: "yes"
---
apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: broken, namespace: x}
spec:
  exceptions: [{policyName: p, ruleNames: [r]}]
  match: {any: [{resources: {kinds: [Pod]}}]}
  conditions:
    all:
    - key: "{{ nothere.field }}"
      operator: Equals
      value: "yes"
`));
  const yes = target('Pod', 'a', 'x', {}, { exempt: 'yes' });
  const no = target('Pod', 'a', 'x', {}, { exempt: 'no' });
  t.same(ex.forRule('p', 'r')!(yes, dataFor(yes)).map((m) => m.key), ['x/by-label']);
  t.same(ex.forRule('p', 'r')!(no, dataFor(no)), []);
  t.same(ex.forRule('p', 'r')!(yes), [], 'conditions need the context');
});

t.test('every matching exception is reported; the skip carries Kyverno\'s message', async (t) => {
  const one = (name: string, ns: string) => `apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: ${name}, namespace: ${ns}}
spec:
  exceptions: [{policyName: p, ruleNames: [r]}]
  match: {any: [{resources: {kinds: [Pod]}}]}
`;
  const ex = compileExceptions(docs(`${one('a', 'ns1')}---\n${one('b', 'ns2')}`));
  const matched = ex.forRule('p', 'r')!(target('Pod', 'x', 'default'));
  t.same(matched.map((m) => m.key), ['ns1/a', 'ns2/b']);
  t.same(exceptionSkip(matched), { status: 'skip', message: 'rule is skipped due to policy exceptionsns1/a, ns2/b', exception: 'ns1/a, ns2/b' });

  const onlyNs2 = compileExceptions(docs(`${one('a', 'ns1')}---\n${one('b', 'ns2')}`), { namespaces: ['ns2'] });
  t.equal(onlyNs2.size, 1, 'exceptionNamespace: exceptions elsewhere are ignored');
  t.equal(onlyNs2.find('p', 'r', target('Pod', 'x', 'default')), 'ns2/b');
});

t.test('other documents are ignored; unusable exceptions are reported', async (t) => {
  const ex = compileExceptions(docs(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: p}
spec: {rules: []}
---
apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: no-policy, namespace: x}
spec:
  exceptions: [{ruleNames: [r]}]
  match: {any: [{resources: {kinds: [Pod]}}]}
---
apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: users, namespace: x}
spec:
  exceptions: [{policyName: p, ruleNames: [r]}]
  match: {any: [{subjects: [{kind: User, name: alice}]}]}
---
apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: users-admission, namespace: x}
spec:
  background: false
  exceptions: [{policyName: p, ruleNames: [r]}]
  match: {any: [{resources: {kinds: [Pod]}, subjects: [{kind: User, name: alice}]}]}
`));
  t.equal(ex.size, 1);
  t.same(ex.errors.map((e) => e.exception), ['x/no-policy', 'x/users']);
  t.match(ex.errors[0]!.reason, /requires a policy name/);
  t.match(ex.errors[1]!.reason, /background: false/);
  t.equal(ex.find('p', 'r', target('Pod', 'a', 'x')), 'x/users-admission');
  t.equal(ex.find('p', 'r', target('Pod', 'a', 'x', { userInfo: { username: 'bob' } })), undefined);
  t.equal(ex.find('p', 'r', target('Pod', 'a', 'x', { userInfo: {} })), undefined, 'no user info (offline): a user filter does not match');
});

t.test('podSecurity: whole-rule exceptions skip first; podSecurity entries exempt controls', async (t) => {
  const spec = { level: 'baseline', version: 'latest' };
  const pod: PodView = { metadata: { name: 'p' }, spec: { hostNetwork: true, containers: [{ name: 'nginx', image: 'nginx:1', securityContext: { privileged: true } }] } };
  const { violations } = compilePodSecurity(spec)(pod);
  t.same(violations.map((v) => v.id), ['hostNamespaces', 'privileged']);
  const ex = compileExceptions(docs(`apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: host-ns, namespace: x}
spec:
  exceptions: [{policyName: psa, ruleNames: [baseline]}]
  match: {any: [{resources: {kinds: [Pod]}}]}
  podSecurity:
  - controlName: Host Namespaces
---
apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: privileged, namespace: x}
spec:
  exceptions: [{policyName: psa, ruleNames: [baseline]}]
  match: {any: [{resources: {kinds: [Pod], names: [p]}}]}
  podSecurity:
  - controlName: Privileged Containers
    images: ["nginx:*"]
---
apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: whole, namespace: x}
spec:
  exceptions: [{policyName: psa, ruleNames: [baseline]}]
  match: {any: [{resources: {kinds: [Pod], names: [whole-*]}}]}
`));
  const psa = podSecurityException(spec);
  const forRule = ex.forRule('psa', 'baseline')!;

  const both = forRule(target('Pod', 'p', 'x'));
  t.same(both.map((m) => m.key), ['x/host-ns', 'x/privileged']);
  t.equal(psa.before(both), undefined, 'entries with podSecurity do not skip before evaluation');
  t.same(psa.after(both, pod, violations, 'Pod'), { status: 'skip', message: 'rule is skipped due to policy exceptions x/host-ns, x/privileged', exception: 'x/host-ns, x/privileged' });

  const hostOnly = forRule(target('Pod', 'q', 'x'));
  const left = psa.after(hostOnly, pod, violations, 'Pod');
  t.ok(Array.isArray(left));
  t.same((left as typeof violations).map((v) => v.id), ['privileged'], 'the remaining violations make the failure');

  const whole = forRule(target('Pod', 'whole-1', 'x'));
  t.same(whole.map((m) => m.key), ['x/host-ns', 'x/whole']);
  t.same(psa.before(whole), { status: 'skip', message: 'rule is skipped due to policy exception x/whole', exception: 'x/whole' });
  t.same(psa.after([], pod, violations, 'Pod'), violations, 'no exceptions: violations unchanged');
});
