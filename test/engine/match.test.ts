import t from 'tap';
import { compileRuleMatcher, parseKindSelector, compileLabelSelector } from '../../src/engine/match.ts';
import type { AdmissionInput, KubeObject } from '../../src/engine/types.ts';

const pod = (ns = 'default', labels: Record<string, string> = {}, annotations: Record<string, string> = {}): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: ns, labels, annotations } });

function input(resource: KubeObject, extra: Partial<AdmissionInput> = {}): AdmissionInput {
  const [group, version] = resource.apiVersion!.includes('/') ? resource.apiVersion!.split('/') : ['', resource.apiVersion!];
  return {
    operation: 'CREATE', object: resource, oldObject: null, kind: { group: group!, version: version!, kind: resource.kind! },
    userInfo: {}, roles: [], clusterRoles: [], ...extra,
  };
}
const test = (m: ReturnType<typeof compileRuleMatcher>, r: KubeObject, extra: Partial<AdmissionInput> = {}) => m({ input: input(r, extra), resource: r });

t.test('kind selectors', async (t) => {
  const m = (kinds: string[]) => compileRuleMatcher({ any: [{ resources: { kinds } }] }, undefined);
  t.ok(test(m(['Pod']), pod()));
  t.ok(test(m(['v1/Pod']), pod()));
  t.notOk(test(m(['apps/v1/Pod']), pod()));
  t.ok(test(m(['*']), pod()));
  t.notOk(test(m(['Deployment']), pod()));
  const deploy: KubeObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'x' } };
  t.ok(test(m(['apps/v1/Deployment']), deploy));
  t.ok(test(m(['apps/*/Deployment']), deploy));
  t.notOk(test(m(['Pod/exec']), pod()), 'a subresource selector does not match the main resource');
  t.ok(test(m(['Pod/exec']), pod(), { subResource: 'exec' }));
  t.ok(test(m(['Pod']), pod(), { subResource: 'ephemeralcontainers' }));
  const s = parseKindSelector('apps/v1/Deployment/scale');
  t.ok(s.kind('Deployment') && s.group('apps') && s.version('v1') && s.sub!('scale'));
});

t.test('kind selectors parse by position as Kyverno does: any group before a version, `.subresource`, lowercase kinds', async (t) => {
  const deployment: KubeObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'default' } };
  const kinds = (k: string[]) => compileRuleMatcher({ any: [{ resources: { kinds: k } }] }, undefined);
  t.ok(test(kinds(['v1/Deployment']), deployment), 'v1/Deployment: any group');
  t.ok(test(kinds(['*/Deployment']), deployment));
  t.ok(test(kinds(['*/Deployment/scale']), deployment, { subResource: 'scale' }));
  t.ok(test(kinds(['*/Deployment.scale']), deployment, { subResource: 'scale' }));
  t.ok(test(kinds(['apps/v1/Deployment.scale']), deployment, { subResource: 'scale' }));
  t.notOk(test(kinds(['apps/v1/Deployment.scale']), deployment, { subResource: 'status' }));
  t.ok(test(kinds(['Pod.status']), pod(), { subResource: 'status' }));
  t.ok(test(kinds(['v1/Pod.status']), pod(), { subResource: 'status' }));
  t.ok(test(kinds(['*/*']), deployment, { subResource: 'scale' }));
  const crd: KubeObject = { apiVersion: 'acid.zalan.do/v1', kind: 'postgresdb', metadata: { name: 'db', namespace: 'default' } };
  t.ok(test(kinds(['postgresdb/status']), crd, { subResource: 'status' }), 'a lowercase kind with a subresource');
  t.notOk(test(kinds(['a/b/c/d/e']), pod()), 'five parts select nothing');
  const s = parseKindSelector('v1/Pod/status');
  t.ok(s.group('') && s.group('apps') && s.version('v1') && s.kind('Pod') && s.sub!('status'));
});

t.test('names, namespaces, annotations and selectors with wildcards', async (t) => {
  const m = compileRuleMatcher({ any: [{ resources: { kinds: ['Pod'], names: ['web-*'], namespaces: ['app-*'] } }] }, undefined);
  t.ok(test(m, pod('app-production')));
  t.notOk(test(m, pod('default')));
  const ann = compileRuleMatcher({ any: [{ resources: { kinds: ['Pod'], annotations: { 'team.io/*': 'gold' } } }] }, undefined);
  t.ok(test(ann, pod('d', {}, { 'team.io/tier': 'gold' })));
  t.notOk(test(ann, pod('d', {}, { 'team.io/tier': 'silver' })));
  const sel = compileLabelSelector({ matchLabels: { app: 'web*' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }] });
  t.ok(sel({ app: 'web-frontend' }));
  t.notOk(sel({ app: 'web', tier: 'db' }));
  t.notOk(sel({}));
  const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'app-production' } };
  const nsm = compileRuleMatcher({ resources: { kinds: ['Namespace'], namespaces: ['app-*'] } }, undefined);
  t.ok(test(nsm, ns), 'a Namespace matches `namespaces` by its own name');
});

t.test('namespaceSelector uses the namespace labels of the request', async (t) => {
  const m = compileRuleMatcher({ any: [{ resources: { kinds: ['Pod'], namespaceSelector: { matchLabels: { env: 'prod' } } } }] }, undefined);
  t.ok(test(m, pod(), { namespaceLabels: { env: 'prod' } }));
  t.notOk(test(m, pod(), { namespaceLabels: { env: 'dev' } }));
});

t.test('any / all / exclude', async (t) => {
  const all = compileRuleMatcher({ all: [{ resources: { kinds: ['Pod'] } }, { resources: { namespaces: ['prod'] } }] }, undefined);
  t.ok(test(all, pod('prod')));
  t.notOk(test(all, pod('dev')));
  const ex = compileRuleMatcher({ any: [{ resources: { kinds: ['Pod'] } }] }, { any: [{ resources: { namespaces: ['kube-system'] } }] });
  t.notOk(test(ex, pod('kube-system')));
  t.ok(test(ex, pod('default')));
  const exAll = compileRuleMatcher({ any: [{ resources: { kinds: ['Pod'] } }] },
    { all: [{ resources: { namespaces: ['kube-system'] } }, { resources: { selector: { matchLabels: { tier: 'system' } } } }] });
  t.ok(test(exAll, pod('kube-system')), 'exclude.all needs every filter');
  t.notOk(test(exAll, pod('kube-system', { tier: 'system' })));
  const ops = compileRuleMatcher({ any: [{ resources: { kinds: ['Pod'], operations: ['UPDATE'] } }] }, undefined);
  t.notOk(test(ops, pod()));
  t.ok(test(ops, pod(), { operation: 'UPDATE' }));
});

t.test('user info: subjects, roles, clusterRoles; ignored for match when the request has none', async (t) => {
  const m = compileRuleMatcher({ any: [{ resources: { kinds: ['Pod'] }, subjects: [{ kind: 'ServiceAccount', name: 'ci', namespace: 'build' }] }] }, undefined);
  t.ok(test(m, pod()), 'no user info on the request: user filters do not apply to match');
  t.ok(test(m, pod(), { userInfo: { username: 'system:serviceaccount:build:ci' } }));
  t.notOk(test(m, pod(), { userInfo: { username: 'alice' } }));
  const g = compileRuleMatcher({ any: [{ resources: { kinds: ['Pod'] } }] }, { any: [{ subjects: [{ kind: 'Group', name: 'system:masters' }] }] });
  t.notOk(test(g, pod(), { userInfo: { username: 'admin', groups: ['system:masters'] } }));
  t.ok(test(g, pod(), { userInfo: { username: 'dev', groups: ['devs'] } }));
  const roles = compileRuleMatcher({ any: [{ resources: { kinds: ['Pod'] }, clusterRoles: ['cluster-admin'] }] }, undefined);
  t.ok(test(roles, pod(), { userInfo: { username: 'x' }, clusterRoles: ['cluster-admin'] }));
  t.notOk(test(roles, pod(), { userInfo: { username: 'x' }, clusterRoles: ['view'] }));
  // A filter of user info alone is empty once a request without user info drops it: no match.
  const userOnly = compileRuleMatcher({ clusterRoles: ['admin'] }, undefined);
  t.notOk(test(userOnly, pod()), 'user info only, none on the request');
  t.ok(test(userOnly, pod(), { userInfo: { username: 'x' }, clusterRoles: ['admin'] }));
  const all = compileRuleMatcher({ all: [{ resources: { kinds: ['Pod'] } }, { clusterRoles: ['admin'] }] }, undefined);
  t.notOk(test(all, pod()), 'all: the user-info-only filter fails');
});

t.test('a namespaced Policy only applies in its own namespace; empty match matches nothing', async (t) => {
  const m = compileRuleMatcher({ any: [{ resources: { kinds: ['Pod'] } }] }, undefined, 'team-a');
  t.ok(test(m, pod('team-a')));
  t.notOk(test(m, pod('team-b')));
  t.notOk(test(compileRuleMatcher({}, undefined), pod()));
});
